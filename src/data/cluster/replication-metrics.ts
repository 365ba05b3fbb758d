// Prometheus metrics of a cluster replica (prom-client; the server's registry is passed in).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Replica } from './replica.js';

export function registerReplicationMetrics(registry: Registry, r: Replica): void {
  let applied = 0;
  let recreated = 0;
  const registers = [registry];
  new Gauge({ name: 'xmppd_cluster_apply_lag', help: 'Transactions in the stream not yet applied by this replica', registers,
    collect() { this.set(r.lag()); } });
  new Counter({ name: 'xmppd_cluster_applied_total', help: 'Stream entries applied by this replica', registers,
    collect() { const v = r.log.appliedTotal; this.inc(v - applied); applied = v; } });
  new Counter({ name: 'xmppd_cluster_consumer_recreated_total', help: 'Replication consumers recreated (stalled, lost, or delivering with a gap)', registers,
    collect() { const v = r.log.recreatedTotal; this.inc(v - recreated); recreated = v; } });
  new Gauge({ name: 'xmppd_cluster_divergence', help: '1 when another replica reported a different table digest at the same seq', registers,
    collect() { this.set(r.divergence); } });
  new Gauge({ name: 'xmppd_cluster_snapshot_seq', help: 'Seq of the latest cluster snapshot this node stored or loaded', registers,
    collect() { this.set(r.lastSnapshotSeq); } });
}
