// What the logic layer knows of the cluster this node belongs to (DESIGN.md "Data layer"): the node's name, its
// NATS connection, and the sections of `xmppd cluster status`. Absent (core.cluster undefined) on a single node.
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from '../config/cluster-config.js';
import type { ClusterRpc } from './cluster-rpc.js';

export interface ClusterRuntime {
  readonly node: string;
  readonly config: ClusterConfig;
  readonly nc: NatsConnection;
  /** Sections of `xmppd cluster status` (replication, nodes, sessions...), each reported by the part that owns it. */
  readonly statusParts: Map<string, () => unknown | Promise<unknown>>;
  /** Requests between modules on different nodes (set once the cluster sessions run). */
  rpc?: ClusterRpc;
}

export async function clusterStatus(c: ClusterRuntime): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { node: c.node, cluster: c.config.name };
  for (const [name, part] of c.statusParts) {
    try {
      out[name] = await part();
    } catch (err) {
      out[name] = { error: (err as Error)?.message ?? String(err) };
    }
  }
  return out;
}
