// `workers: N` (or `xmppd start --workers N`): N node processes on one machine sharing the listening ports
// (node:cluster), so xmppd uses more than one core. Each worker is a cluster node of its own: node name
// <cluster.node>-<i>, data under <data_dir>/<node>, control socket there; hence N > 1 needs the cluster section.
import { join } from 'node:path';
import { OperatorError } from '../errors.js';
import type { ClusterConfig } from './cluster-config.js';
import type { ServerConfig } from './types.js';

/** Set by the primary in each worker's environment: which worker it is (0..N-1). */
export const WORKER_ENV = 'XMPPD_WORKER_INDEX';
export const MAX_WORKERS = 64;

export function workersProblem(n: number, cluster: ClusterConfig | null): string | null {
  if (n > 1 && !cluster) {
    return `${n} workers need the cluster section: each worker is a cluster node sharing the data through NATS JetStream `
      + '(add cluster: {node: NAME, nats: [nats://HOST:4222]}, see "Running a cluster" in the README), or run one worker';
  }
  if (n > 1 && cluster && cluster.node.length + 1 + String(n - 1).length > 64) return `cluster.node is too long to add the worker suffix "-${n - 1}" (64 characters at most)`;
  return null;
}

export function parseWorkers(raw: unknown, cluster: ClusterConfig | null, fail: (p: string, problem: string) => never): number {
  if (raw === undefined) return 1;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > MAX_WORKERS) return fail('workers', `must be an integer from 1 to ${MAX_WORKERS}`);
  const problem = workersProblem(raw, cluster);
  return problem ? fail('workers', problem) : raw;
}

/** `--workers N` from the command line, checked as the option is. */
export function checkWorkersFlag(n: number, cluster: ClusterConfig | null): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new OperatorError('XMPPD_ERR_USAGE', `--workers must be an integer from 1 to ${MAX_WORKERS}`);
  const problem = workersProblem(n, cluster);
  if (problem) throw new OperatorError('XMPPD_ERR_CONFIG', `--workers ${n}: ${problem}`);
}

/** The configuration worker `index` runs with: its node name, data directory and control socket. */
export function workerConfig(config: ServerConfig, index: number): ServerConfig {
  if (!config.cluster) throw new OperatorError('XMPPD_ERR_CONFIG', workersProblem(2, null)!);
  const node = `${config.cluster.node}-${index}`;
  const data_dir = join(config.data_dir, node);
  return { ...config, data_dir, control_socket: join(data_dir, 'xmppd.sock'), cluster: { ...config.cluster, node } };
}

/** In a worker process (WORKER_ENV set), its own configuration; elsewhere `config` unchanged. */
export function asWorker(config: ServerConfig, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const raw = env[WORKER_ENV];
  if (raw === undefined || !config.cluster) return config;
  return workerConfig(config, Number(raw));
}
