// XEP-0163 §4.3 notification delivery for PEP: to the owner's own available resources and to contacts'
// available resources whose XEP-0115 caps carry "<node>+notify" (filtered notifications, §4.3.3), within
// the node's access model, plus explicit subscribers; and the last items (§4.3.2, §6) sent when a client
// becomes available or its caps become known, once per resource and item.
import { Jid, CAPS_SERVICE, ROSTER_SERVICE, elementFromJson, type Element, type ModuleContext } from '../../src/sdk.js';
import type { PubsubEngine, ServiceScope } from './engine/engine.js';
import { eventElement, eventMessage, wantsEvent, type EventKind } from './engine/events.js';
import type { Notifier } from './engine/protocol.js';
import type { ItemRow, NodeRow } from './engine/types.js';
import type { PubsubMetrics } from './metrics.js';

const hasFrom = (s: string) => s === 'from' || s === 'both';
const hasTo = (s: string) => s === 'to' || s === 'both';

/**
 * Whether a contact with a from/both subscription (in `groups`) may see a node, from its row alone (no reads
 * per contact on the publish path): presence and open nodes let every contact in, roster nodes the allowed
 * groups, whitelist nodes the affiliated; outcasts never.
 */
function contactMay(row: NodeRow, bare: string, groups: string[]): boolean {
  const aff = row.affiliations[bare] ?? 'none';
  if (aff === 'outcast') return false;
  if (aff === 'owner' || aff === 'publisher' || aff === 'member') return true;
  switch (row.config.access_model) {
    case 'open':
    case 'presence': return true;
    case 'roster': return groups.some((g) => row.config.roster_groups_allowed.includes(g));
    case 'whitelist': return false;
  }
}

export class PepDelivery implements Notifier {
  /** Remote contacts' available resources, per local owner (learnt from their presence, §4.3.2). */
  private readonly remote = new Map<string, Map<string, Jid>>();
  /**
   * The item each resource last got per node since it became available (full JID -> "owner\0node" -> item
   * id): the last item is not sent again to a resource that has it. One entry per node, not per item.
   */
  private readonly sent = new Map<string, Map<string, string>>();

  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly engine: PubsubEngine,
    private readonly scopeOf: (owner: Jid) => ServiceScope,
    private readonly metrics: PubsubMetrics,
  ) {}

  /**
   * Whether a resource asked for `node` (+notify): known here (a local client, or a verified hash met before),
   * else looked up in the shared cache (a client on another cluster node; awaited only then).
   */
  private asks(full: Jid, node: string): boolean | Promise<boolean> {
    const caps = this.ctx.service(CAPS_SERVICE);
    if (!caps) return false;
    const features = caps.featuresOf(full);
    if (features || !this.ctx.clusterNode) return features?.has(`${node}+notify`) ?? false;
    return caps.load(full).then((f) => f?.has(`${node}+notify`) ?? false);
  }

  private available(bare: Jid): Jid[] {
    return this.ctx.sessionsOf(bare).filter((s) => s.presence !== null).map((s) => s.jid);
  }

  private mark(full: Jid, owner: string, node: string, id: string): boolean {
    const k = full.toString();
    let last = this.sent.get(k);
    if (!last) this.sent.set(k, (last = new Map()));
    const key = `${owner}\u0000${node}`;
    if (last.get(key) === id) return false;
    last.set(key, id);
    return true;
  }

  /** Local resources that have had an owner's available presence (full JID -> owners' bare JIDs). */
  private readonly seen = new Map<string, Set<string>>();

  /** A resource went away: it gets the last items again when it comes back. */
  forget(full: Jid): void {
    this.sent.delete(full.toString());
    this.seen.delete(full.toString());
  }

  /**
   * An owner's presence reached a local contact (bare: its available resources): the first available one
   * since the contact's resource has been available, or since the owner's last unavailable, brings the last
   * items (§4.3.2: e.g. right after the owner approved the contact's subscription, or logged in).
   */
  async ownerPresence(owner: Jid, to: Jid, available: boolean): Promise<void> {
    if (!this.ctx.isLocal(to.domain) || to.bare().equals(owner)) return;
    const targets = to.resource ? [to] : this.available(to.bare());
    const o = owner.bareString();
    for (const full of targets) {
      const k = full.toString();
      let owners = this.seen.get(k);
      if (!available) {
        owners?.delete(o);
        continue;
      }
      if (owners?.has(o)) continue;
      if (!owners) this.seen.set(k, (owners = new Set()));
      owners.add(o);
      await this.sendLast(owner, full);
    }
  }

  /** Everyone (full JIDs, or bare JIDs of explicit subscribers) who hears about `node` of `owner`. */
  private async recipients(scope: ServiceScope, owner: Jid, node: string, row: NodeRow): Promise<Jid[]> {
    const out = new Map<string, Jid>();
    for (const full of this.available(owner)) {
      const w = this.asks(full, node); // awaited only for a client on another cluster node
      if (w === true || (w !== false && (await w))) out.set(full.toString(), full);
    }
    const roster = this.ctx.service(ROSTER_SERVICE);
    const contacts = roster ? (await roster.items(owner)).filter((i) => hasFrom(i.subscription)) : [];
    const remote = new Map<string, Jid[]>();
    for (const r of this.remote.get(owner.bareString())?.values() ?? []) remote.set(r.bareString(), [...(remote.get(r.bareString()) ?? []), r]);
    for (const item of contacts) {
      const contact = Jid.tryParse(item.jid);
      if (!contact || !contactMay(row, item.jid, item.groups)) continue;
      const resources = this.ctx.isLocal(contact.domain) ? this.available(contact) : remote.get(contact.bareString()) ?? [];
      for (const full of resources) {
        const w = this.asks(full, node);
        if (w === true || (w !== false && (await w))) out.set(full.toString(), full);
      }
    }
    for (const s of Object.keys(row.subscriptions)) {
      const jid = Jid.tryParse(s);
      if (jid && !out.has(s) && (await this.engine.mayAccess(scope, row, jid))) out.set(s, jid);
    }
    return [...out.values()];
  }

  private async send(owner: Jid, row: NodeRow, event: Element, to: Jid): Promise<void> {
    const msg = eventMessage(row, event, owner.toString(), to.toString());
    const done = this.ctx.route(msg, owner, to);
    if (this.ctx.isLocal(to.domain)) await done; // a remote delivery may wait for a s2s connection
  }

  async event(scope: ServiceScope, node: string, row: NodeRow, kind: EventKind, publisher: Jid): Promise<void> {
    const owner = Jid.parse(scope.service);
    if (kind.type === 'items') this.metrics.published(kind.items.length);
    if (kind.type === 'items' || kind.type === 'retract') await this.published(owner, node, kind, publisher);
    if (!wantsEvent(row, kind)) return;
    const event = eventElement(node, row, kind);
    const targets = await this.recipients(scope, owner, node, row);
    if (kind.type === 'items') for (const t of targets) for (const it of kind.items) if (t.resource) this.mark(t, owner.bareString(), node, it.id);
    await Promise.all(targets.map((t) => this.send(owner, row, event, t)));
    this.metrics.notified(targets.length);
  }

  /** pep_item_published, once per item stored or retracted. */
  private async published(owner: Jid, node: string, kind: EventKind, publisher: Jid): Promise<void> {
    if (!this.ctx.hasHandlers('pep_item_published')) return;
    if (kind.type === 'items') {
      for (const it of kind.items) {
        await this.ctx.runNotify('pep_item_published', { owner, node, itemId: it.id, payload: it.payload ? elementFromJson(it.payload) : null, publisher });
      }
    } else if (kind.type === 'retract') {
      for (const id of kind.ids) await this.ctx.runNotify('pep_item_published', { owner, node, itemId: id, payload: null, publisher });
    }
  }

  /** §6.1.3: a new explicit subscriber gets the last item when the node says so. */
  async subscribed(scope: ServiceScope, node: string, row: NodeRow, jid: Jid): Promise<void> {
    if (row.config.send_last_published_item === 'never') return;
    const [last] = await this.engine.readItems(scope, node, { max: 1 });
    if (last) await this.sendItem(Jid.parse(scope.service), node, row, last, jid, false);
  }

  private async sendItem(owner: Jid, node: string, row: NodeRow, item: ItemRow, to: Jid, once = true): Promise<void> {
    if (once && to.resource && !this.mark(to, owner.bareString(), node, item.id)) return;
    const event = eventElement(node, row, { type: 'items', items: [item] });
    // XEP-0203: the item was published earlier than this notification.
    const msg = eventMessage(row, event, owner.toString(), to.toString());
    msg.c('delay', { xmlns: 'urn:xmpp:delay', from: owner.toString(), stamp: item.published });
    this.metrics.notified(1);
    const done = this.ctx.route(msg, owner, to);
    if (this.ctx.isLocal(to.domain)) await done;
  }

  /**
   * The last item of each of `owner`'s nodes that `to` (a full JID) asks for and may see, unless it already
   * has it (§4.3.2 presence-based delivery, send_last_published_item on_sub_and_presence).
   */
  async sendLast(owner: Jid, to: Jid): Promise<void> {
    const caps = this.ctx.service(CAPS_SERVICE);
    if (!caps || !caps.featuresOf(to)) return;
    const scope = this.scopeOf(owner);
    for (const { name, row } of await this.engine.nodes(scope)) {
      if (row.config.send_last_published_item !== 'on_sub_and_presence' || !caps.wantsNotify(to, name)) continue;
      if (!(await this.engine.mayAccess(scope, row, to))) continue;
      const [last] = await this.engine.readItems(scope, name, { max: 1 });
      if (last) await this.sendItem(owner, name, row, last, to);
    }
  }

  /**
   * A local client is available and (maybe now) has known caps: the last items of its own account's nodes
   * if it is on this host, and of its contacts on this host whose presence it has (they have it as 'from').
   */
  async clientReady(full: Jid): Promise<void> {
    // Nothing to send before the client's caps are known, nor to a client that asks for no notifications.
    const features = full.resource ? this.ctx.service(CAPS_SERVICE)?.featuresOf(full) : undefined;
    if (!features || ![...features].some((f) => f.endsWith('+notify'))) return;
    const bare = full.bare();
    if (full.domain === this.ctx.host) await this.sendLast(bare, full);
    const roster = this.ctx.service(ROSTER_SERVICE);
    if (!roster) return;
    for (const item of await roster.items(bare)) {
      const owner = Jid.tryParse(item.jid);
      if (!owner || owner.domain !== this.ctx.host || !hasTo(item.subscription) || owner.equals(bare)) continue;
      await this.sendLast(owner, full);
    }
  }

  /** Presence from a remote contact's resource to a local owner (§4.3.2: available -> last items). */
  async remotePresence(owner: Jid, from: Jid, available: boolean): Promise<void> {
    const key = owner.bareString();
    if (!available) {
      this.remote.get(key)?.delete(from.toString());
      this.forget(from);
      return;
    }
    const roster = this.ctx.service(ROSTER_SERVICE);
    const item = roster ? await roster.get(owner, from.bare()) : undefined;
    if (!item || !hasFrom(item.subscription)) return;
    let m = this.remote.get(key);
    if (!m) this.remote.set(key, (m = new Map()));
    m.set(from.toString(), from);
    await this.sendLast(owner, from);
  }
}
