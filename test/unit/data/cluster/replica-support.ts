// Cluster replicas for data-layer tests: one LevelDB temp dir and one NATS connection per node, all on the
// stream of one cluster name, over a real JetStream cluster (test/support/nats-cluster.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../../../src/core/config/cluster-config.js';
import { openReplica, type Replica } from '../../../../src/data/cluster/replica.js';
import type { NatsCluster } from '../../../support/nats-cluster.js';

export interface Logged { level: string; msg: string; fields?: Record<string, unknown> }

export class TestNode {
  readonly logs: Logged[] = [];
  replica!: Replica;
  nc!: NatsConnection;
  constructor(readonly name: string, readonly dir: string, readonly cfg: ClusterConfig) {}

  get store() { return this.replica.store; }

  async open(): Promise<this> {
    this.nc = await connect({ servers: this.cfg.nats, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 10_000 });
    const sink = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
      this.logs.push({ level, msg, ...(fields && { fields }) });
      if (process.env.XMPPD_TEST_CLUSTER_LOG) console.error(new Date().toISOString(), this.name, level, msg, JSON.stringify(fields));
    };
    this.replica = await openReplica(this.dir, {
      nc: this.nc, config: this.cfg, log: { info: sink('info'), warn: sink('warn'), error: sink('error') }, stallMs: 2000, tickMs: 200,
    });
    return this;
  }

  async close(): Promise<void> {
    await this.replica?.close();
    await this.nc?.close();
  }
}

export function clusterConfig(nats: NatsCluster, cluster: string, node: string): ClusterConfig {
  return {
    node, nats: nats.urls, name: cluster, replicas: 3, snapshot_interval: 3600, digest_interval: 0,
    heartbeat_interval: 0.2, node_timeout: 10, max_ready_lag: 1000,
  };
}

/** A fresh temp dir per node, removed by cleanup(). */
export class Nodes {
  readonly all: TestNode[] = [];
  readonly dirs: string[] = [];
  constructor(readonly nats: NatsCluster, readonly cluster: string) {}

  async dir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'xmppd-replica-'));
    this.dirs.push(d);
    return join(d, 'db');
  }

  async open(name: string, dir?: string, over: Partial<ClusterConfig> = {}): Promise<TestNode> {
    const n = new TestNode(name, dir ?? (await this.dir()), { ...clusterConfig(this.nats, this.cluster, name), ...over });
    await n.open();
    this.all.push(n);
    return n;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.all.map((n) => n.close()));
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}

/** Every row of a table on a node, as comparable text. */
export async function dump(n: TestNode, table: string): Promise<string> {
  const rows = await n.store.table(table).range();
  return JSON.stringify(rows);
}
