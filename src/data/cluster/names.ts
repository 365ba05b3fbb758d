// Names of the JetStream resources of one cluster (DESIGN.md "Data layer"): every name starts with the
// configured cluster name, so two clusters can share one NATS.

export interface ClusterNames {
  /** The transaction stream: its seq is the data layer's seq. */
  stream: string;
  /** The one subject of the transaction stream. */
  subject: string;
  /** KV bucket: per node lastApplied (purge floor, liveness of replicas) and table digests. */
  progress: string;
  /** Object store holding the latest snapshot of the tables, for new or lagging nodes. */
  snapshots: string;
}

export function clusterNames(name: string): ClusterNames {
  return { stream: `${name}_TX`, subject: `${name}.tx`, progress: `${name}_progress`, snapshots: `${name}_snapshots` };
}

/** Progress bucket keys: node names have no dots, so these never collide. */
export const nodeKey = (node: string): string => `node.${node}`;
export const digestKey = (node: string): string => `digest.${node}`;
