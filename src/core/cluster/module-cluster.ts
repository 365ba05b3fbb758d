// What a module sees of the cluster (ctx.cluster, issue 13): the node's name and JetStream object stores shared by
// every node (XEP-0363 uploads served from any node). Buckets are `<cluster name>_<name>` with the configured replicas.
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { ClusterRuntime } from './cluster-runtime.js';
import { withRetry } from '../../data/cluster/retry.js';

export type { ObjectStore };

export interface ModuleCluster {
  /** This node's name (config cluster.node). */
  readonly node: string;
  /** The object store `<cluster name>_<name>`, created on first use; one instance per node and name. */
  objectStore(name: string): Promise<ObjectStore>;
}

const VIEWS = new WeakMap<ClusterRuntime, ModuleCluster>();

export function moduleCluster(c: ClusterRuntime): ModuleCluster {
  let view = VIEWS.get(c);
  if (!view) {
    const stores = new Map<string, Promise<ObjectStore>>();
    view = {
      node: c.node,
      objectStore(name) {
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`object store name "${name}": letters, digits, "-" and "_" only`);
        let s = stores.get(name);
        if (!s) {
          s = withRetry(`object store ${c.config.name}_${name}`, 60_000, () => new Objm(c.nc).create(`${c.config.name}_${name}`, { replicas: c.config.replicas }));
          s.catch(() => stores.delete(name)); // a NATS outage at first use: try again next time
          stores.set(name, s);
        }
        return s;
      },
    };
    VIEWS.set(c, view);
  }
  return view;
}
