// Notifications of the generic pubsub service (XEP-0060 §7.1.2, §7.2.2, §8.4.2, §8.5.2): to every
// subscription that still passes the node's access model, from the service's address; and the last item
// to a new subscriber (§6.1.7, send_last_published_item on_sub / on_sub_and_presence).
import { Jid, type ModuleContext } from '../../src/sdk.js';
import type { PubsubEngine, ServiceScope } from './engine/engine.js';
import { eventElement, eventMessage, wantsEvent, type EventKind } from './engine/events.js';
import type { Notifier } from './engine/protocol.js';
import type { NodeRow } from './engine/types.js';
import type { PubsubMetrics } from './metrics.js';

export class ServiceNotifier implements Notifier {
  constructor(private readonly ctx: ModuleContext<any>, private readonly engine: PubsubEngine, private readonly metrics: PubsubMetrics) {}

  private async send(scope: ServiceScope, row: NodeRow, ev: ReturnType<typeof eventElement>, to: Jid): Promise<void> {
    const from = Jid.parse(scope.service);
    const done = this.ctx.route(eventMessage(row, ev, scope.service, to.toString()), from, to);
    if (this.ctx.isLocal(to.domain)) await done; // a remote delivery may wait for a s2s connection
  }

  async event(scope: ServiceScope, node: string, row: NodeRow, kind: EventKind): Promise<void> {
    if (kind.type === 'items') this.metrics.published(kind.items.length);
    if (!wantsEvent(row, kind)) return;
    const ev = eventElement(node, row, kind);
    const targets: Jid[] = [];
    for (const s of Object.keys(row.subscriptions)) {
      const jid = Jid.tryParse(s);
      if (jid && (kind.type === 'delete' || (await this.engine.mayAccess(scope, row, jid)))) targets.push(jid);
    }
    await Promise.all(targets.map((t) => this.send(scope, row, ev, t)));
    this.metrics.notified(targets.length);
  }

  async subscribed(scope: ServiceScope, node: string, row: NodeRow, jid: Jid): Promise<void> {
    if (row.config.send_last_published_item === 'never') return;
    const [last] = await this.engine.readItems(scope, node, { max: 1 });
    if (!last) return;
    const msg = eventMessage(row, eventElement(node, row, { type: 'items', items: [last] }), scope.service, jid.toString());
    msg.c('delay', { xmlns: 'urn:xmpp:delay', from: scope.service, stamp: last.published });
    this.metrics.notified(1);
    const done = this.ctx.route(msg, Jid.parse(scope.service), jid);
    if (this.ctx.isLocal(jid.domain)) await done;
  }
}
