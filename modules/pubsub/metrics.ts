// Prometheus counters shared by the pep and pubsub modules (one metric each, labelled by host and service kind).
import type { ModuleContext } from '../../src/sdk.js';

export interface PubsubMetrics {
  /** Items published (stored or, on transient nodes, only notified). */
  published(n: number): void;
  /** Event notifications sent (one per recipient and event). */
  notified(n: number): void;
}

export function pubsubMetrics(ctx: ModuleContext<any>, service: 'pep' | 'pubsub'): PubsubMetrics {
  const items = ctx.counter({ name: 'xmppd_pubsub_items_published_total', help: 'Items published to pubsub nodes (XEP-0060), by service kind (pep: XEP-0163 accounts; pubsub: the service domain)', labelNames: ['host', 'service'] });
  const events = ctx.counter({ name: 'xmppd_pubsub_notifications_total', help: 'Pubsub event notifications sent, one per recipient, by service kind (pep or pubsub)', labelNames: ['host', 'service'] });
  const labels = { host: ctx.host, service };
  return { published: (n) => items.inc(labels, n), notified: (n) => events.inc(labels, n) };
}
