// The top-level `cluster` option (DESIGN.md "Data layer"): N xmppd nodes on a NATS JetStream cluster.
// Absent: one node, LocalLog, no NATS. Every duration is in seconds.
import { isAbsolute, resolve } from 'node:path';

export interface ClusterConfig {
  /** This node's name: unique in the cluster and stable across restarts (its consumer and registry keys). */
  node: string;
  /** NATS client URLs (nats://host:port or tls://host:port); the client tries them all. */
  nats: string[];
  /** Prefix of every stream, bucket and subject name: two clusters can share one NATS. */
  name: string;
  /** JetStream replicas of the transaction stream, buckets and object stores (1, 3 or 5). */
  replicas: number;
  /** NATS credentials: a user/password, a token, or a .creds file (decentralised auth). */
  user?: string;
  password?: string;
  token?: string;
  creds_file?: string;
  /** TLS to NATS: a CA to verify the servers, and a client certificate where the servers require one. */
  tls?: { ca_file?: string; cert_file?: string; key_file?: string };
  /** A snapshot of the tables goes to the object store every this many seconds (and the log is purged behind it). */
  snapshot_interval: number;
  /** Nodes compare a digest of their tables every this many seconds (0: never). */
  digest_interval: number;
  /** Liveness heartbeat period of a node. */
  heartbeat_interval: number;
  /** A node silent for this long is dead: its sessions are purged and its rooms taken over. */
  node_timeout: number;
  /** Not ready while more than this many transactions behind the stream. */
  max_ready_lag: number;
  /** SIGTERM: clients are told to reconnect here (XEP-0198/RFC 6120 see-other-host) when set, else system-shutdown. */
  see_other_host?: string;
}

const KEYS = new Set([
  'node', 'nats', 'name', 'replicas', 'user', 'password', 'token', 'creds_file', 'tls', 'snapshot_interval',
  'digest_interval', 'heartbeat_interval', 'node_timeout', 'max_ready_lag', 'see_other_host',
]);
const TLS_KEYS = new Set(['ca_file', 'cert_file', 'key_file']);
// NATS subject tokens and stream names: no dots, spaces, wildcards or path separators.
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

type Fail = (path: string, problem: string) => never;

export function parseCluster(raw: unknown, base: string, fail: Fail): ClusterConfig | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('cluster', 'must be a mapping {node, nats: [urls], ...}');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KEYS.has(key)) fail(`cluster.${key}`, `unknown option (known: ${[...KEYS].join(', ')})`);
  const str = (v: unknown, p: string): string => (typeof v === 'string' && v !== '' ? v : fail(p, 'must be a non-empty string'));
  const name = (v: unknown, p: string, dflt?: string): string => {
    if (v === undefined && dflt !== undefined) return dflt;
    const s = str(v, p);
    return NAME.test(s) ? s : fail(p, 'must be 1-64 characters of letters, digits, "-" and "_"');
  };
  const secs = (v: unknown, p: string, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return fail(p, `must be a number of seconds from ${min} to ${max}`);
    return v;
  };
  const file = (v: unknown, p: string): string => {
    const s = str(v, p);
    return isAbsolute(s) ? s : resolve(base, s);
  };
  const natsRaw = typeof r.nats === 'string' ? [r.nats] : r.nats;
  if (!Array.isArray(natsRaw) || natsRaw.length === 0) fail('cluster.nats', 'must list at least one NATS URL (nats://host:4222)');
  const nats = (natsRaw as unknown[]).map((u, i) => {
    const s = str(u, `cluster.nats[${i}]`);
    if (!/^(nats|tls|wss?):\/\/[^\s/]+(:\d+)?\/?$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) fail(`cluster.nats[${i}]`, `"${s}" is not a NATS URL (nats://host:4222)`);
    return s;
  });
  const replicas = r.replicas ?? 3;
  if (replicas !== 1 && replicas !== 3 && replicas !== 5) fail('cluster.replicas', 'must be 1, 3 or 5 (JetStream replicas)');
  const out: ClusterConfig = {
    node: name(r.node, 'cluster.node'),
    nats,
    name: name(r.name, 'cluster.name', 'xmppd'),
    replicas: replicas as number,
    snapshot_interval: secs(r.snapshot_interval, 'cluster.snapshot_interval', 600, 1, 86400),
    digest_interval: secs(r.digest_interval, 'cluster.digest_interval', 300, 0, 86400),
    heartbeat_interval: secs(r.heartbeat_interval, 'cluster.heartbeat_interval', 2, 0.1, 60),
    node_timeout: secs(r.node_timeout, 'cluster.node_timeout', 10, 0.5, 600),
    max_ready_lag: secs(r.max_ready_lag, 'cluster.max_ready_lag', 1000, 0, 1e9),
  };
  if (out.node_timeout <= out.heartbeat_interval) fail('cluster.node_timeout', 'must be longer than cluster.heartbeat_interval');
  if (r.user !== undefined) out.user = str(r.user, 'cluster.user');
  if (r.password !== undefined) out.password = str(r.password, 'cluster.password');
  if ((out.user === undefined) !== (out.password === undefined)) fail('cluster.password', 'user and password go together');
  if (r.token !== undefined) out.token = str(r.token, 'cluster.token');
  if (r.creds_file !== undefined) out.creds_file = file(r.creds_file, 'cluster.creds_file');
  if ([out.user, out.token, out.creds_file].filter((x) => x !== undefined).length > 1) fail('cluster', 'choose one of user/password, token and creds_file');
  if (r.tls !== undefined) {
    if (typeof r.tls !== 'object' || r.tls === null || Array.isArray(r.tls)) fail('cluster.tls', 'must be a mapping {ca_file, cert_file, key_file}');
    const t = r.tls as Record<string, unknown>;
    for (const key of Object.keys(t)) if (!TLS_KEYS.has(key)) fail(`cluster.tls.${key}`, 'unknown option (known: ca_file, cert_file, key_file)');
    out.tls = {};
    if (t.ca_file !== undefined) out.tls.ca_file = file(t.ca_file, 'cluster.tls.ca_file');
    if (t.cert_file !== undefined) out.tls.cert_file = file(t.cert_file, 'cluster.tls.cert_file');
    if (t.key_file !== undefined) out.tls.key_file = file(t.key_file, 'cluster.tls.key_file');
    if ((out.tls.cert_file === undefined) !== (out.tls.key_file === undefined)) fail('cluster.tls', 'cert_file and key_file go together');
  }
  if (r.see_other_host !== undefined) out.see_other_host = str(r.see_other_host, 'cluster.see_other_host');
  return out;
}
