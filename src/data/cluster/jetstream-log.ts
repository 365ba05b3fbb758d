// The cluster ReplicationLog (DESIGN.md "Data layer"): transactions are published to one replicated JetStream
// stream, whose seq is the data layer's seq, and every node applies the whole stream in order from its own
// consumer. JetStream gives order, consensus and durability; this file only publishes, consumes and restarts.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, nuid, type NatsConnection } from '@nats-io/transport-node';
import { DataError } from '../data-error.js';
import type { LogEntry, LogItem, ReplicationLog } from '../types.js';
import type { ClusterNames } from './names.js';
import { sleep, withRetry } from './retry.js';

export interface LogSink {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface JetStreamLogOptions {
  nc: NatsConnection;
  names: ClusterNames;
  node: string;
  log: LogSink;
  /** How long append() keeps retrying one entry (leader elections take seconds) before it rejects. */
  appendTimeoutMs?: number;
  /** Most entries handed to apply at once. */
  maxGroup?: number;
}

/** Longest wait for one consumer setup request before it is abandoned and tried again. */
const SETUP_MS = 5000;
/** Entries queued ahead of apply before the consumer is paused. */
const HIGH_WATER = 4000;

export class JetStreamLog implements ReplicationLog {
  readonly #o: JetStreamLogOptions;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #maxGroup: number;
  readonly #appendMs: number;
  #apply: ((items: LogItem[]) => Promise<void>) | undefined;
  #queue: LogItem[] = [];
  /** The next stream seq to queue; everything below it is queued or applied. */
  #next = 1;
  #applied = 0;
  #applier: Promise<void> | undefined;
  #space: (() => void) | undefined;
  #messages: ConsumerMessages | undefined;
  /** Abandons the consumer being set up (a create request can hang for long while a server is down). */
  #abort: ((why: Error) => void) | undefined;
  /** The consumer in use; undefined between two (the last one may linger in JetStream until it expires). */
  #consumer: string | undefined;
  #made = 0;
  #runner: Promise<void> | undefined;
  #closed = false;
  #stopped = false;
  #inflight = new Set<Promise<unknown>>();
  #ownMax = 0;
  /** Why this replica stopped applying (a gap in the stream, a failed apply); it needs a restart. */
  fatal: string | undefined;
  appliedTotal = 0;
  /**
   * Consumers made after the first one, whatever ended the previous one: the watchdog, a lost server, or a gap
   * in what it delivered. Counted when the new one exists, so it also says that apply has a consumer again.
   */
  recreatedTotal = 0;
  /** Called synchronously after each applied group, before the next one is handed to apply. */
  onApplied: ((last: LogItem) => void) | undefined;

  /** Use open(). */
  constructor(opts: JetStreamLogOptions, jsm: JetStreamManager) {
    this.#o = opts;
    this.#js = jetstream(opts.nc);
    this.#jsm = jsm;
    this.#maxGroup = opts.maxGroup ?? 500;
    this.#appendMs = opts.appendTimeoutMs ?? 60_000;
  }

  static async open(opts: JetStreamLogOptions): Promise<JetStreamLog> {
    return new JetStreamLog(opts, await jetstreamManager(opts.nc, { timeout: 10_000 }));
  }

  lastApplied(): number {
    return this.#applied;
  }

  /** The highest seq this node's own appends were given (known even when stream info cannot be read). */
  highestAppended(): number {
    return this.#ownMax;
  }

  consumerName(): string | undefined {
    return this.#consumer;
  }

  start(fromSeq: number, apply: (items: LogItem[]) => Promise<void>): void {
    this.#applied = fromSeq;
    this.#next = fromSeq + 1;
    this.#apply = apply;
    this.#runner = this.#run();
  }

  /**
   * Publishes with msgID = txid, so a retry after a lost ack (timeout, leader election, reconnect) is dropped
   * by JetStream's duplicate window and answered with the first copy's seq: an entry is in the stream once.
   */
  async append(entry: LogEntry): Promise<number> {
    if (this.#closed) throw new DataError('XMPPD_ERR_DATA_CLOSED', 'the replication log is closed');
    if (this.fatal !== undefined) throw new DataError('XMPPD_ERR_DATA_CLUSTER', this.fatal);
    const data = JSON.stringify(entry);
    const p = withRetry(`publish to ${this.#o.names.stream}`, this.#appendMs,
      () => this.#js.publish(this.#o.names.subject, data, { msgID: entry.txid, timeout: 2000 }),
      () => this.#closed); // shutting down: no new attempts (the writer hears "may still be applied")
    this.#inflight.add(p);
    try {
      const ack = await p;
      if (ack.seq > this.#ownMax) this.#ownMax = ack.seq;
      return ack.seq;
    } catch (err) {
      throw new DataError('XMPPD_ERR_DATA_CLUSTER',
        `the transaction was not acknowledged by the JetStream cluster within ${this.#appendMs / 1000} s (${(err as Error).message}); it may still be applied`,
        { cause: err });
    } finally {
      this.#inflight.delete(p);
    }
  }

  async head(): Promise<number> {
    if (this.fatal !== undefined) throw new DataError('XMPPD_ERR_DATA_CLUSTER', this.fatal);
    const si = await withRetry(`stream info ${this.#o.names.stream}`, this.#appendMs, () => this.#jsm.streams.info(this.#o.names.stream));
    return si.state.last_seq;
  }

  /**
   * Drops the current consumer; the loop makes a new one from the first seq not yet queued (= lastApplied + 1
   * once the queue has been applied; queued entries are applied, not fetched again). The watchdog's tool.
   */
  recreateConsumer(why: string): void {
    // A consumer being set up is bounded by SETUP_MS already: abandoning it early only restarts the wait.
    if (this.#stopped || this.fatal !== undefined || this.#messages === undefined) return;
    this.#o.log.warn('recreating the replication consumer', { why, from_seq: this.#next, consumer: this.#consumer });
    this.#abort?.(new Error(`recreated: ${why}`));
    this.#messages?.stop();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    // Our own writers resolve when this node applied their entries: wait for them (bounded).
    const until = Date.now() + 10_000;
    while (this.#applied < this.#ownMax && this.fatal === undefined && Date.now() < until) await sleep(20);
    this.#stopped = true;
    this.#space?.();
    this.#abort?.(new Error('closed'));
    this.#messages?.stop();
    await this.#runner;
    while (this.#applier !== undefined) await this.#applier;
  }

  async #run(): Promise<void> {
    let wait = 250;
    while (!this.#stopped && this.fatal === undefined) {
      try {
        await this.#consumeOnce();
        wait = 250;
        if (!this.#stopped) await sleep(100); // a consumer that ends at once must not spin
      } catch (err) {
        if (this.#stopped) break;
        this.#o.log.warn('replication consumer failed; retrying', { err: (err as Error)?.message ?? String(err), from_seq: this.#next });
        await sleep(wait);
        wait = Math.min(wait * 2, 2000);
      }
    }
  }

  /** One ephemeral, in-memory, unacknowledged pull consumer from #next; returns when it is stopped or lost. */
  async #consumeOnce(): Promise<void> {
    const stream = this.#o.names.stream;
    const name = `${this.#o.node}_${nuid.next()}`;
    const aborted = new Promise<never>((_, reject) => { this.#abort = reject; });
    aborted.catch(() => undefined);
    // Each setup step is bounded: an abandoned create leaves an ephemeral consumer that expires by itself.
    const step = <T>(p: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${SETUP_MS} ms`)), SETUP_MS); });
      return Promise.race([p, aborted, late]).finally(() => clearTimeout(timer));
    };
    if (this.#stopped) return;
    await step(this.#jsm.consumers.add(stream, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#next,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(60_000),
    }), 'consumer create');
    if (this.#made++ > 0) this.recreatedTotal++;
    this.#consumer = name;
    this.#o.log.info('replication consumer created', { consumer: name, from_seq: this.#next });
    try {
      const consumer = await step(this.#js.consumers.get(stream, name), 'consumer info');
      const msgs = await step(consumer.consume({ max_messages: 1000, expires: 5000, idle_heartbeat: 1000 }), 'consume');
      this.#messages = msgs;
      this.#abort = () => msgs.stop();
      if (this.#stopped) msgs.stop();
      void (async () => {
        for await (const s of msgs.status()) {
          // The server holding the consumer is gone (or the consumer is): start again elsewhere.
          if ((s.type === 'heartbeats_missed' && s.count >= 2) || s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
            this.recreateConsumer(s.type);
          }
        }
      })().catch(() => undefined);
      for await (const m of msgs) {
        const seq = m.seq;
        if (seq < this.#next) continue; // already queued by an earlier consumer
        if (seq > this.#next && !(await this.#skippable(seq))) {
          msgs.stop();
          break;
        }
        this.#queue.push({ seq, entry: parseEntry(m.data, seq, this.#o.log) });
        this.#next = seq + 1;
        this.#kick();
        if (this.#queue.length >= HIGH_WATER && !this.#stopped) await new Promise<void>((r) => { this.#space = r; });
      }
      this.#o.log.info('replication consumer ended', { consumer: name, next_seq: this.#next });
    } finally {
      this.#messages = undefined;
      this.#abort = undefined;
      this.#consumer = undefined;
      this.#jsm.consumers.delete(stream, name).catch(() => undefined); // else it expires (inactive_threshold)
    }
  }

  /**
   * A consumer jumped from #next to `seq`. A clustered stream can hold interior deleted seqs (skip records after
   * a leader change): every replica skips those alike. Purged seqs (below first_seq) cannot be replayed: this
   * replica must restart from the snapshot. A message the consumer lost: make a new consumer from #next.
   */
  async #skippable(seq: number): Promise<boolean> {
    const stream = this.#o.names.stream;
    try {
      for (let s = this.#next; s < seq; s++) {
        if ((await this.#jsm.streams.getMessage(stream, { seq: s })) !== null) {
          this.#o.log.warn('the replication consumer skipped a stored entry; recreating it', { seq: s });
          return false;
        }
        const first = (await this.#jsm.streams.info(stream)).state.first_seq;
        if (s < first) {
          this.#fail(`the stream no longer holds seq ${s} (purged up to ${first - 1}) while this node had applied only ${this.#applied}; restart it to catch up from the snapshot`);
          return false;
        }
        this.#next = s + 1; // an interior delete: no entry at this seq on any replica
      }
      return true;
    } catch (err) {
      this.#o.log.warn('could not check a gap in the stream; recreating the consumer', { seq: this.#next, err: (err as Error)?.message ?? String(err) });
      return false;
    }
  }

  #kick(): void {
    if (this.#applier !== undefined || this.#apply === undefined) return;
    this.#applier = this.#drain().finally(() => {
      this.#applier = undefined;
      if (this.#queue.length > 0 && this.fatal === undefined) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.fatal === undefined) {
      let n = Math.min(this.#queue.length, this.#maxGroup);
      // A digest marker ends its group: its digest is taken right after it, before anything later is applied.
      const marker = this.#queue.findIndex((it, i) => i < n && it.entry.digest === true);
      if (marker >= 0) n = marker + 1;
      const group = this.#queue.splice(0, n);
      if (this.#queue.length < HIGH_WATER / 2 && this.#space !== undefined) {
        const wake = this.#space;
        this.#space = undefined;
        wake();
      }
      try {
        await this.#apply!(group);
      } catch (err) {
        this.#fail(`apply failed: ${(err as Error)?.message ?? err}`);
        return;
      }
      const last = group[group.length - 1]!;
      this.#applied = last.seq;
      this.appliedTotal += group.length;
      try {
        this.onApplied?.(last);
      } catch (err) {
        this.#o.log.error('after-apply hook failed', { err: (err as Error)?.message ?? String(err) });
      }
    }
  }

  #fail(why: string): void {
    if (this.fatal !== undefined) return;
    this.fatal = why;
    this.#o.log.error('replication stopped on this node', { why });
    this.#messages?.stop();
  }
}

/**
 * Every node parses the same bytes the same way: an entry that is not a transaction becomes a no-op at its
 * seq on every replica (nothing skips it, nothing diverges).
 */
function parseEntry(data: Uint8Array, seq: number, log: LogSink): LogEntry {
  try {
    const e = JSON.parse(Buffer.from(data).toString('utf8')) as LogEntry;
    if (typeof e?.txid === 'string' && Array.isArray(e.ops) && Array.isArray(e.conds)) return e;
  } catch { /* below */ }
  log.error('a stream entry is not a transaction; applied as a no-op', { seq });
  return { txid: `invalid:${seq}`, ops: [], conds: [] };
}
