// `cluster.status` (xmppd cluster status): this node's view of the cluster, each section reported by the part
// that owns it (replication lag and last applied, stream leader, consumers, nodes, sessions: core.cluster.statusParts).
import { clusterStatus } from '../cluster/cluster-runtime.js';
import type { CommandDef } from './command-def.js';

export const CLUSTER_COMMANDS: CommandDef[] = [
  {
    name: 'cluster.status', description: 'Cluster status: nodes, replication lag, last applied, stream leader, consumers', args: [],
    run: async (t) => {
      const c = t.core.cluster;
      if (!c) {
        return {
          clustered: false,
          message: t.core.config.cluster
            ? 'this node has not joined its cluster (the cluster runtime did not start): see the log'
            : 'this server runs as a single node (no cluster section in its configuration)',
        };
      }
      return { clustered: true, ...(await clusterStatus(c)) };
    },
  },
];
