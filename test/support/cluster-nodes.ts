// Test harness: N xmppd nodes in-process on one NATS JetStream cluster (nats-cluster.ts), each with its own
// data dir and node name, both test hosts (localhost, example.test); fast heartbeats so a dead node is found soon.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startCrashChild, killCrashChild, type CrashChild } from './crash-child.js';
import { Jid } from '../../src/core/jid.js';
import type { RosterApi } from '../../src/core/services/roster-service.js';
import { startTestServer, HOSTS, type TestServer } from './harness.js';
import type { NatsCluster } from './nats-cluster.js';
import { until } from './until.js';

export const CLUSTER_MODULES = {
  disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, carbons: {}, last: {}, stream_management: {},
};

/** The `cluster` config section of node `node` (a fresh cluster name per test file: buckets never mix). */
export function clusterSection(nats: NatsCluster, name: string, node: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { node, name, nats: nats.urls, replicas: 3, heartbeat_interval: 0.3, node_timeout: 2, ...more };
}

export function clusterName(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export async function startNodes(
  nats: NatsCluster, count: number, name = clusterName(), modules: Record<string, unknown> = CLUSTER_MODULES,
  more: Record<string, unknown> = {}, config: Record<string, unknown> = {},
): Promise<TestServer[]> {
  const nodes: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(await startTestServer({ ...config, modules, cluster: clusterSection(nats, name, `x${i + 1}`, more) }));
  }
  // Every node has heard every other one's heartbeat.
  await until(() => nodes.every((t) => t.server.clusterSessions!.liveness.nodes.size >= count), 'every node sees the others');
  return nodes;
}

/**
 * Accounts (and mutual `both` subscriptions), written on the first node: the replicated tables bring them to
 * the others, which are waited for.
 */
export async function seedUsers(nodes: TestServer[], users: string[], friends: Array<[string, string]>, hosts: readonly string[] = HOSTS): Promise<void> {
  for (const t of nodes.slice(0, 1)) {
    for (const host of hosts) {
      for (const u of users) await t.addUser(u, `pw-${u}`, host);
      const roster = t.server.core.services.get<RosterApi>(host, 'roster')!;
      for (const [a, b] of friends) {
        for (const [o, c] of [[a, b], [b, a]] as const) {
          await roster.update(Jid.of(o, host), Jid.of(c, host), () => ({ jid: `${c}@${host}`, groups: [], subscription: 'both', ask: false, approved: false, pendingIn: false }));
        }
      }
    }
  }
  for (const t of nodes) await t.server.core.store.barrier();
}

/** Node `t` routes to `full` (the registry entry reached its session manager). */
export function sees(t: TestServer, full: string, available = true, timeoutMs = 10_000): Promise<unknown> {
  const jid = Jid.parse(full);
  return until(() => {
    const s = t.server.core.sessions.get(jid);
    return s && (!available || s.presence !== null);
  }, `${full} is visible on ${t.server.core.cluster?.node}`, timeoutMs);
}

/** A node in its own process (kill -9 is a real crash), in a temp dir; `dispose` kills it and removes the dir. */
export interface ProcessNode extends CrashChild { dir: string; dispose(): Promise<void> }

/**
 * Starts node `node` of cluster `name` as a child process (both test hosts, c2s on a free port) and waits until
 * every node of `peers` hears it. Its accounts come from the replicated tables.
 */
export async function startProcessNode(nats: NatsCluster, name: string, node: string, modules: Record<string, unknown>, peers: TestServer[]): Promise<ProcessNode> {
  const dir = await mkdtemp(join(tmpdir(), `xmppd-cluster-${node}-`));
  const configFile = join(dir, 'xmppd.yaml');
  await writeFile(configFile, stringify({
    hosts: [...HOSTS], data_dir: dir, control_socket: join(dir, `${node}.sock`), log_level: 'error',
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }],
    modules,
    cluster: clusterSection(nats, name, node),
  }));
  let child: CrashChild;
  try {
    child = await startCrashChild(configFile, `node ${node}`);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await until(() => peers.every((t) => t.server.clusterSessions!.liveness.isReachable(node)), `every node hears ${node}`);
  return {
    ...child, dir,
    async dispose() {
      killCrashChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
