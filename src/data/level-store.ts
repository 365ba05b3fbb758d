// The Store over one LevelDB: transact submits to the replication log, the log delivers entries
// in seq order to apply(), and each committed group wakes its transactions, watchers and barriers.
import { randomBytes } from 'node:crypto';
import { applyEntries, type PendingEvent, type RowDb } from './apply.js';
import { DataError } from './data-error.js';
import { checkKey, checkTable } from './key-codec.js';
import { LevelTable } from './level-table.js';
import { LocalLog } from './local-log.js';
import { loadSnapshot, SnapshotError, writeSnapshot, type LoadReport, type SnapshotIn, type SnapshotOut, type SnapshotTrailer } from './snapshot.js';
import type {
  ChangeEvent, Cond, Json, LogEntry, LogItem, LogOp, Op, ReplicationLog, Store, Table, TxResult,
} from './types.js';

export interface LevelStoreOptions {
  /** fsync every batch (survives power loss, not only a process crash); default false. */
  sync?: boolean;
  /**
   * Called once when a write fails and the store stops accepting writes (disk full, I/O error), so the
   * operator hears of it even when the callers that get the error do not log it.
   */
  onFailure?: (err: DataError) => void;
  /** Where a throwing watch callback is reported; the feed goes on either way. */
  onListenerError?: (err: unknown, ev: ChangeEvent) => void;
}

type Listener = (ev: ChangeEvent) => void;
interface Waiter { resolve: (r: TxResult) => void; reject: (err: unknown) => void }
interface BarrierWaiter { seq: number; resolve: () => void; reject: (err: unknown) => void }

export class LevelStore implements Store {
  readonly #db: RowDb;
  readonly #log: ReplicationLog;
  readonly #opts: LevelStoreOptions;
  readonly #dir: string;
  #last: number;
  readonly #tables = new Map<string, LevelTable<unknown>>();
  readonly #listeners = new Map<string | null, Set<Listener>>();
  readonly #waiters = new Map<string, Waiter>();
  #barriers: BarrierWaiter[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #failure: DataError | undefined;
  #closing: Promise<void> | undefined;
  // Writer-side txid stamp: unique per store instance, so a cluster log can carry entries of many
  // nodes and each node recognises its own. (Randomness is fine here; it never reaches apply.)
  readonly #txPrefix = randomBytes(6).toString('base64url') + ':';
  #txCount = 0;

  /** Use openStore(); this expects an open DB and its lastApplied marker. */
  constructor(db: RowDb, dir: string, log: ReplicationLog, lastApplied: number, opts: LevelStoreOptions = {}) {
    this.#db = db;
    this.#dir = dir;
    this.#log = log;
    this.#last = lastApplied;
    this.#opts = opts;
  }

  /** Connects the log; it delivers every entry after lastApplied (a cluster log: the tail first). */
  async start(): Promise<void> {
    await this.#log.start(this.#last, (items) => this.#deliver(items));
  }

  table<V = Json>(name: string): Table<V> {
    let t = this.#tables.get(name);
    if (t === undefined) {
      t = new LevelTable<unknown>(name, this.#db);
      this.#tables.set(name, t);
    }
    return t as Table<V>;
  }

  transact(ops: Op[], conds: Cond[] = []): Promise<TxResult> {
    if (this.#closing !== undefined) return Promise.reject(this.#closedError());
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    let entry: LogEntry;
    try {
      entry = { txid: this.#txPrefix + (++this.#txCount).toString(36), ops: ops.map(toLogOp), conds: conds.map(toCond) };
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<TxResult>((resolve, reject) => {
      this.#waiters.set(entry.txid, { resolve, reject });
      // Not awaited: the result comes from apply, which may even run before append resolves.
      this.#log.append(entry).catch((err: unknown) => {
        if (this.#waiters.delete(entry.txid)) reject(err);
      });
    });
  }

  watcherCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  watch(table: string | null, cb: (ev: ChangeEvent) => void): () => void {
    if (table !== null) checkTable(table);
    let set = this.#listeners.get(table);
    if (set === undefined) this.#listeners.set(table, (set = new Set()));
    const listener: Listener = (ev) => cb(ev); // a fresh identity, so the same cb may watch twice
    set.add(listener);
    return () => {
      const s = this.#listeners.get(table);
      if (s?.delete(listener) && s.size === 0) this.#listeners.delete(table);
    };
  }

  async barrier(): Promise<void> {
    const head = await this.#log.head();
    if (this.#last >= head) return;
    if (this.#failure !== undefined) throw this.#failure;
    await new Promise<void>((resolve, reject) => this.#barriers.push({ seq: head, resolve, reject }));
  }

  lastApplied(): number {
    return this.#last;
  }

  snapshot(out: SnapshotOut, header: Record<string, unknown> = {}): Promise<SnapshotTrailer & { lastApplied: number }> {
    if (this.#closing !== undefined) return Promise.reject(this.#closedError());
    return writeSnapshot(this.#db, out, header);
  }

  async restoreSnapshot(open: SnapshotIn, opts: { replace?: boolean; name?: string } = {}): Promise<LoadReport> {
    if (this.#closing !== undefined) throw this.#closedError();
    if (this.#failure !== undefined) throw this.#failure;
    if (!(this.#log instanceof LocalLog)) {
      throw new SnapshotError('this store applies a shared replication log: its lastApplied cannot be set from a snapshot; restore the rows through transactions instead');
    }
    const log = this.#log;
    await this.barrier();
    // On the apply chain, so no group is applied while the rows are replaced.
    const run = this.#chain.then(async () => {
      if (this.#waiters.size > 0 || (await log.head()) !== this.#last) {
        throw new SnapshotError('transactions are in flight; a snapshot is only loaded into an idle store');
      }
      const r = await loadSnapshot(this.#db, open, opts);
      this.#last = r.lastApplied;
      log.start(r.lastApplied, (items) => this.#deliver(items)); // the in-process seq continues from the snapshot
      return r;
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#log.close(); // delivers (and so applies) everything already appended
    await this.#chain;
    const err = this.#closedError();
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
    for (const b of this.#barriers) b.reject(err);
    this.#barriers = [];
    this.#listeners.clear();
    await this.#db.close();
  }

  /** The log's apply callback: strictly one group at a time, even if a log calls it concurrently. */
  #deliver(items: LogItem[]): Promise<void> {
    const run = this.#chain.then(() => this.#applyGroup(items));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #applyGroup(items: LogItem[]): Promise<void> {
    if (this.#failure !== undefined) {
      this.#rejectItems(items, this.#failure);
      throw this.#failure;
    }
    let out;
    try {
      out = await applyEntries(this.#db, this.#last, items, { sync: this.#opts.sync ?? false, watched: this.#watched });
    } catch (cause) {
      // A replica that skipped an entry would diverge from the log, so stop writing altogether.
      const first = items[0]?.seq;
      const last = items[items.length - 1]?.seq;
      this.#failure = new DataError('XMPPD_ERR_DATA_APPLY',
        `could not apply transactions ${first}..${last} to ${this.#dir}: ${(cause as Error)?.message ?? cause}. ` +
        'The store no longer accepts writes; check the disk (space, permissions) and restart xmppd.', { cause });
      this.#rejectItems(items, this.#failure);
      for (const b of this.#barriers) b.reject(this.#failure);
      this.#barriers = [];
      try {
        this.#opts.onFailure?.(this.#failure);
      } catch { /* reporting must not change what the writers see */ }
      throw this.#failure;
    }
    this.#last = out.lastApplied;
    for (let i = 0; i < items.length; i++) {
      const { seq, entry } = items[i]!;
      const result = out.results[i];
      if (result !== null && result !== undefined && out.events[i]!.length > 0) this.#emit(seq, out.events[i]!);
      const w = this.#waiters.get(entry.txid);
      if (w === undefined) continue; // another node's transaction
      this.#waiters.delete(entry.txid);
      if (result !== null && result !== undefined) w.resolve(result);
      // Only reachable if something else applied this seq first: report instead of hanging.
      else w.reject(new DataError('XMPPD_ERR_DATA_APPLY', `transaction seq ${seq} was already applied by another writer`));
    }
    if (this.#barriers.length > 0) {
      const still: BarrierWaiter[] = [];
      for (const b of this.#barriers) (b.seq <= this.#last ? b.resolve() : still.push(b));
      this.#barriers = still;
    }
  }

  readonly #watched = (table: string): boolean => this.#listeners.has(table) || this.#listeners.has(null);

  #emit(seq: number, evs: PendingEvent[]): void {
    for (const e of evs) {
      const byTable = this.#listeners.get(e.table);
      const all = this.#listeners.get(null);
      if (byTable === undefined && all === undefined) continue;
      const ev: ChangeEvent = { seq, table: e.table, key: e.key };
      if (e.json !== undefined) ev.value = JSON.parse(e.json) as Json;
      if (byTable !== undefined) for (const cb of byTable) this.#call(cb, ev);
      if (all !== undefined) for (const cb of all) this.#call(cb, ev);
    }
  }

  #call(cb: Listener, ev: ChangeEvent): void {
    try {
      cb(ev);
    } catch (err) {
      if (this.#opts.onListenerError !== undefined) this.#opts.onListenerError(err, ev);
      else console.error(`xmppd data: watch callback for ${ev.table} threw`, err);
    }
  }

  #rejectItems(items: LogItem[], err: unknown): void {
    for (const { entry } of items) {
      const w = this.#waiters.get(entry.txid);
      if (w === undefined) continue;
      this.#waiters.delete(entry.txid);
      w.reject(err);
    }
  }

  #closedError(): DataError {
    return new DataError('XMPPD_ERR_DATA_CLOSED', `the store at ${this.#dir} is closed`);
  }
}

/** Validates an op and snapshots it for the log (put values serialized now, not at apply time). */
function toLogOp(op: Op): LogOp {
  checkTable(op?.table);
  switch (op.type) {
    case 'put': {
      checkKey(op.key);
      const json = JSON.stringify(op.value);
      if (typeof json !== 'string') {
        throw new DataError('XMPPD_ERR_DATA_INVALID', `put ${op.table}/${op.key}: value is not JSON-serializable`);
      }
      return { type: 'put', table: op.table, key: op.key, json };
    }
    case 'del':
      checkKey(op.key);
      return { type: 'del', table: op.table, key: op.key };
    case 'delRange': {
      const out: LogOp = { type: 'delRange', table: op.table };
      if (op.prefix !== undefined) { checkKey(op.prefix, 'prefix'); out.prefix = op.prefix; }
      if (op.gte !== undefined) { checkKey(op.gte, 'gte'); out.gte = op.gte; }
      if (op.lt !== undefined) { checkKey(op.lt, 'lt'); out.lt = op.lt; }
      return out;
    }
    default:
      throw new DataError('XMPPD_ERR_DATA_INVALID', `unknown op type ${JSON.stringify((op as { type: unknown }).type)}`);
  }
}

function toCond(c: Cond): Cond {
  checkTable(c?.table);
  checkKey(c.key);
  switch (c.type) {
    case 'absent':
    case 'present':
      return { type: c.type, table: c.table, key: c.key };
    case 'rev':
      if (!Number.isSafeInteger(c.rev) || c.rev < 0) {
        throw new DataError('XMPPD_ERR_DATA_INVALID', `rev condition on ${c.table}/${c.key}: rev must be a non-negative integer`);
      }
      return { type: 'rev', table: c.table, key: c.key, rev: c.rev };
    default:
      throw new DataError('XMPPD_ERR_DATA_INVALID', `unknown condition type ${JSON.stringify((c as { type: unknown }).type)}`);
  }
}
