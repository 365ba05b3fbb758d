// A cluster replica (DESIGN.md "Data layer"): the local LevelDB store on the JetStream log, plus what keeps it
// healthy: catch-up from a snapshot at open, published progress, periodic snapshots and purges of the stream,
// a watchdog that recreates a stalled consumer, and a digest comparison between replicas at the same seq.
import { rm } from 'node:fs/promises';
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../core/config/cluster-config.js';
import { openStore } from '../open-store.js';
import type { LevelStoreOptions } from '../level-store.js';
import type { LogItem, Store } from '../types.js';
import { bucketKeys } from './bucket-keys.js';
import { planCatchUp } from './catch-up.js';
import { JetStreamLog, type LogSink } from './jetstream-log.js';
import { clusterNames, digestKey, nodeKey, type ClusterNames } from './names.js';
import { withRetry } from './retry.js';
import { storedSnapshot, uploadSnapshot } from './snapshot-transfer.js';
import { ensureStream } from './stream-setup.js';
import { digestNow } from './table-digest.js';

export interface ReplicaOptions extends Pick<LevelStoreOptions, 'sync' | 'onFailure' | 'onListenerError'> {
  nc: NatsConnection;
  config: ClusterConfig;
  log: LogSink;
  /** Watchdog: behind the stream with lastApplied still for this long = the consumer is stalled. Default 5 s; seen within stallMs + tickMs. */
  stallMs?: number;
  /** Progress / watchdog period; default the heartbeat interval. */
  tickMs?: number;
  /** How long a write keeps retrying through leader elections before it fails. Default 60 s. */
  appendTimeoutMs?: number;
}

interface Progress { lastApplied: number; at: number }
interface Digest { seq: number; digest: string }

export class Replica {
  readonly names: ClusterNames;
  /** The store the server uses: close() stops this replica's timers first. */
  readonly store: Store;
  divergence = 0;
  lastSnapshotSeq = 0;
  lastDigest: Digest | undefined;
  /** Cached stream state (refreshed every tick) for lag, readiness and metrics. */
  stream: StreamInfo;
  readonly #o: ReplicaOptions;
  readonly #inner: Store;
  readonly #timers: NodeJS.Timeout[] = [];
  #ticking: Promise<void> | undefined;
  #closed = false;
  #movedAt = Date.now();
  #lastSeen = -1;
  #catchUpTo: number;
  #compare: { seq: number; until: number; seen: Set<string> } | undefined;
  readonly #divergent = new Set<string>();

  constructor(
    opts: ReplicaOptions, readonly dir: string, names: ClusterNames, inner: Store, readonly log: JetStreamLog, readonly jsm: JetStreamManager,
    readonly kv: KV, readonly os: ObjectStore, si: StreamInfo,
  ) {
    this.#o = opts;
    this.names = names;
    this.#inner = inner;
    this.stream = si;
    this.#catchUpTo = si.state.last_seq;
    this.store = { ...bindAll(inner), close: () => this.close() };
  }

  get node(): string {
    return this.#o.config.node;
  }

  lastApplied(): number {
    return this.log.lastApplied();
  }

  lag(): number {
    return Math.max(0, Math.max(this.stream.state.last_seq, this.log.highestAppended()) - this.log.lastApplied());
  }

  /** Readiness: not ready while catching up, lagging more than max_ready_lag, or stopped. */
  readiness(): { ready: boolean; reason?: string } {
    if (this.log.fatal !== undefined) return { ready: false, reason: this.log.fatal };
    const applied = this.log.lastApplied();
    if (applied < this.#catchUpTo) return { ready: false, reason: `catching up: applied ${applied} of ${this.#catchUpTo}` };
    const lag = this.lag();
    if (lag > this.#o.config.max_ready_lag) return { ready: false, reason: `${lag} transactions behind the stream` };
    return { ready: true };
  }

  /** Starts progress, watchdog, snapshot and digest timers (openReplica does; idempotent). */
  startTimers(): void {
    if (this.#timers.length > 0 || this.#closed) return;
    const cfg = this.#o.config;
    const tick = this.#o.tickMs ?? Math.min(1000, cfg.heartbeat_interval * 1000);
    this.#timers.push(setInterval(() => this.tick(), tick));
    this.#timers.push(setInterval(() => { void this.#ifElected(() => this.snapshotNow(), () => this.#refreshSnapshotSeq()); }, cfg.snapshot_interval * 1000));
    if (cfg.digest_interval > 0) this.#timers.push(setInterval(() => { void this.#ifElected(() => this.requestDigest()); }, cfg.digest_interval * 1000));
    for (const t of this.#timers) t.unref();
  }

  /**
   * Watchdog, then progress, stream state and digest comparison (one at a time). The watchdog runs at every
   * tick even while the previous tick still waits on JetStream: a stream info or KV put can hang for the
   * request timeout (10 s) through a leader election, and the stall must still be seen within stallMs.
   */
  tick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#watchdog();
    return (this.#ticking ??= this.#tick().catch((err: unknown) => {
      this.#o.log.warn('replication tick failed', { err: (err as Error)?.message ?? String(err) });
    }).finally(() => { this.#ticking = undefined; }));
  }

  /**
   * The stream has entries this node has not applied, and nothing moved for stallMs: the consumer is recreated.
   * Synchronous, on the cached stream state: our own acked appends count too, as stream info is unavailable
   * from a server that is still rejoining the cluster.
   */
  #watchdog(): void {
    const applied = this.log.lastApplied();
    const now = Date.now();
    if (applied !== this.#lastSeen) {
      this.#lastSeen = applied;
      this.#movedAt = now;
      return;
    }
    const head = Math.max(this.stream.state.last_seq, this.log.highestAppended());
    if (head > applied && now - this.#movedAt > (this.#o.stallMs ?? 5000)) {
      this.#movedAt = now;
      this.log.recreateConsumer(`no progress at seq ${applied} while the stream is at ${head}`);
    }
  }

  async #tick(): Promise<void> {
    try {
      this.stream = await this.jsm.streams.info(this.names.stream);
    } catch { /* leader election: keep the last state */ }
    await this.publishProgress();
    if (this.#compare !== undefined) await this.#compareDigests();
  }

  async publishProgress(): Promise<void> {
    const p: Progress = { lastApplied: this.log.lastApplied(), at: Date.now() };
    await this.kv.put(nodeKey(this.node), JSON.stringify(p));
  }

  /** Live replicas (progress published within node_timeout), by name. */
  async liveNodes(): Promise<Map<string, Progress>> {
    const out = new Map<string, Progress>();
    const oldest = Date.now() - this.#o.config.node_timeout * 1000;
    for (const k of await bucketKeys(this.jsm, this.names.progress, 'node.')) {
      const e = await this.kv.get(k);
      if (e === null || e.operation !== 'PUT') continue;
      const p = e.json<Progress>();
      if (p.at >= oldest) out.set(k.slice('node.'.length), p);
    }
    out.set(this.node, { lastApplied: this.log.lastApplied(), at: Date.now() });
    return out;
  }

  /**
   * Snapshots and digests are taken by one node at a time: the lowest-named live node. Every node computes the
   * same answer from the progress bucket without any extra coordination (no lease to renew or lose across an
   * election), and when two nodes briefly disagree both doing it is harmless: uploads only move forward and a
   * purge never passes the slowest live node nor the stored snapshot.
   */
  async elected(): Promise<boolean> {
    const names = [...(await this.liveNodes()).keys()].sort();
    return names[0] === this.node;
  }

  async #ifElected(fn: () => Promise<unknown>, otherwise?: () => Promise<unknown>): Promise<void> {
    if (this.#closed) return;
    try {
      if (await this.elected()) await fn();
      else await otherwise?.();
    } catch (err) {
      this.#o.log.warn('replication maintenance failed', { err: (err as Error)?.message ?? String(err) });
    }
  }

  /** Uploads a snapshot of this replica when it is newer than the stored one, then purges the stream behind it. */
  async snapshotNow(): Promise<{ snapshotSeq: number; purgedTo: number }> {
    await this.publishProgress();
    const stored = await storedSnapshot(this.os);
    let seq = stored?.seq ?? 0;
    if (this.log.lastApplied() > seq) {
      seq = await uploadSnapshot(this.os, this.#inner, this.node, `${this.dir}.snapshot-upload-${nuid.next()}`);
      this.#o.log.info('cluster snapshot stored', { seq });
    }
    this.lastSnapshotSeq = seq;
    return { snapshotSeq: seq, purgedTo: await this.purge(seq) };
  }

  async #refreshSnapshotSeq(): Promise<void> {
    this.lastSnapshotSeq = (await storedSnapshot(this.os))?.seq ?? this.lastSnapshotSeq;
  }

  /** Purges the stream up to min(slowest live node, snapshot): every live node can still replay, a new one loads the snapshot. */
  async purge(snapshotSeq: number): Promise<number> {
    let floor = snapshotSeq;
    for (const p of (await this.liveNodes()).values()) floor = Math.min(floor, p.lastApplied);
    const si = await this.jsm.streams.info(this.names.stream);
    if (floor + 1 <= si.state.first_seq) return si.state.first_seq - 1;
    await this.jsm.streams.purge(this.names.stream, { seq: floor + 1 });
    this.#o.log.info('replication stream purged', { up_to: floor });
    return floor;
  }

  /** Appends a digest marker: every replica digests its tables right after applying it, at the same seq. */
  async requestDigest(): Promise<number> {
    return this.log.append({ txid: `digest:${this.node}:${nuid.next()}`, ops: [], conds: [], digest: true });
  }

  /** Called by the log right after each applied group (before the next one). */
  afterApply(item: LogItem): void {
    if (item.entry.digest !== true) return;
    const seq = item.seq;
    // Synchronous up to the LevelDB snapshot: the digest is of the replica at exactly this seq.
    digestNow(this.#inner).then(async (digest) => {
      this.lastDigest = { seq, digest };
      this.#compare = { seq, until: Date.now() + 60_000, seen: new Set() };
      await this.kv.put(digestKey(this.node), JSON.stringify({ seq, digest }));
      await this.#compareDigests();
    }).catch((err: unknown) => this.#o.log.warn('table digest failed', { seq, err: (err as Error)?.message ?? String(err) }));
  }

  async #compareDigests(): Promise<void> {
    const mine = this.lastDigest;
    const c = this.#compare;
    if (mine === undefined || c === undefined || c.seq !== mine.seq) return;
    for (const k of await bucketKeys(this.jsm, this.names.progress, 'digest.')) {
      const node = k.slice('digest.'.length);
      if (node === this.node || c.seen.has(node)) continue;
      const e = await this.kv.get(k);
      if (e === null || e.operation !== 'PUT') continue;
      const d = e.json<Digest>();
      if (d.seq !== mine.seq) continue;
      c.seen.add(node);
      if (d.digest !== mine.digest && !this.#divergent.has(`${node}@${d.seq}`)) {
        this.#divergent.add(`${node}@${d.seq}`);
        this.divergence = 1;
        this.#o.log.error('replicas diverge: table digests differ at the same seq', { seq: d.seq, node: this.node, digest: mine.digest, other: node, other_digest: d.digest });
      }
    }
    if (Date.now() > c.until) this.#compare = undefined;
  }

  /** The `replication` section of `xmppd cluster status`. */
  async status(): Promise<Record<string, unknown>> {
    const si = await this.jsm.streams.info(this.names.stream);
    this.stream = si;
    const name = this.log.consumerName();
    let host: string | undefined;
    if (name !== undefined) host = await this.jsm.consumers.info(this.names.stream, name).then((ci) => ci.cluster?.leader, () => undefined);
    const applied = this.log.lastApplied();
    return {
      lastApplied: applied, streamLastSeq: si.state.last_seq, streamFirstSeq: si.state.first_seq,
      lag: Math.max(0, si.state.last_seq - applied),
      leader: si.cluster?.leader,
      replicas: (si.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lag: r.lag })),
      consumers: si.state.consumer_count, consumer: { name, host, recreated: this.log.recreatedTotal },
      lastSnapshotSeq: this.lastSnapshotSeq, lastDigest: this.lastDigest ?? null,
      ...(this.log.fatal !== undefined && { stopped: this.log.fatal }),
    };
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const t of this.#timers) clearInterval(t);
    }
    await this.#ticking;
    await this.#inner.close();
  }
}

function bindAll(s: Store): Store {
  return {
    table: (n) => s.table(n), transact: (o, c) => s.transact(o, c), watch: (t, cb) => s.watch(t, cb),
    watcherCount: () => s.watcherCount(), barrier: () => s.barrier(), lastApplied: () => s.lastApplied(),
    snapshot: (o, h) => s.snapshot(o, h), restoreSnapshot: (o, x) => s.restoreSnapshot(o, x), close: () => s.close(),
  };
}

/** Opens (creating if needed) the stream, buckets and the replica at `dir`, catching up from a snapshot when the log no longer reaches back far enough. */
export async function openReplica(dir: string, opts: ReplicaOptions): Promise<Replica> {
  const cfg = opts.config;
  const names = clusterNames(cfg.name);
  const jsm = await jetstreamManager(opts.nc, { timeout: 10_000 });
  let si = await ensureStream(jsm, names, cfg.replicas);
  const kv = await withRetry(`KV ${names.progress}`, 60_000, () => new Kvm(opts.nc).create(names.progress, { replicas: cfg.replicas, history: 1 }));
  const os = await withRetry(`object store ${names.snapshots}`, 60_000, () => new Objm(opts.nc).create(names.snapshots, { replicas: cfg.replicas }));
  const file = `${dir}.snapshot-download`;
  try {
    // Counted as live from now on, at the oldest seq it may need: no purge goes past it while it joins.
    await withRetry(`KV ${names.progress}`, 60_000, () => kv.put(nodeKey(cfg.node), JSON.stringify({ lastApplied: Math.max(0, si.state.first_seq - 1), at: Date.now() })));
    const plan = await planCatchUp(dir, si, os, file);
    if (plan.fromSnapshot !== undefined) opts.log.info('catching up from the cluster snapshot', { local: plan.local, snapshot_seq: plan.snapshotSeq, stream_first_seq: si.state.first_seq });
    const log = await JetStreamLog.open({ nc: opts.nc, names, node: cfg.node, log: opts.log, ...(opts.appendTimeoutMs !== undefined && { appendTimeoutMs: opts.appendTimeoutMs }) });
    si = await jsm.streams.info(names.stream);
    // Digest markers met while replaying the tail (before the Replica exists) are old ones: not digested.
    let replica: Replica | undefined;
    log.onApplied = (item) => replica?.afterApply(item);
    const inner = await openStore(dir, {
      log,
      ...(opts.sync !== undefined && { sync: opts.sync }),
      ...(opts.onFailure !== undefined && { onFailure: opts.onFailure }),
      ...(opts.onListenerError !== undefined && { onListenerError: opts.onListenerError }),
      ...(plan.fromSnapshot !== undefined && { fromSnapshot: plan.fromSnapshot }),
    });
    replica = new Replica(opts, dir, names, inner, log, jsm, kv, os, si);
    if (plan.snapshotSeq !== undefined) replica.lastSnapshotSeq = plan.snapshotSeq;
    replica.startTimers(); // progress from the start: a long replay must not look like a dead node
    return replica;
  } finally {
    await rm(file, { force: true });
  }
}
