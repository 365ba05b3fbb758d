// Public types of the data layer: tables, transactions, change feed, and the replication seam that
// orders transactions (in-process counter on one node, a replicated stream in a cluster).

import type { LoadReport, SnapshotIn, SnapshotOut, SnapshotTrailer } from './snapshot.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A stored row. `rev` is the seq of the transaction that last wrote it (for compare-and-set). */
export interface Row<V = Json> { key: string; value: V; rev: number }

export type Op =
  | { type: 'put'; table: string; key: string; value: Json }
  | { type: 'del'; table: string; key: string }
  | { type: 'delRange'; table: string; prefix?: string; gte?: string; lt?: string };

export type Cond =
  | { type: 'absent'; table: string; key: string }               // insert-if-absent
  | { type: 'present'; table: string; key: string }
  | { type: 'rev'; table: string; key: string; rev: number };    // compare-and-set; rev 0 = must be absent

export type TxResult = { ok: true; seq: number } | { ok: false; seq: number; failed: Cond };

/**
 * Key ranges are in Unicode code point order (= UTF-8 byte order, what LevelDB sorts by). It only
 * differs from JS `<` for keys that mix astral characters with U+E000..U+FFFF at the same position.
 */
export interface RangeOptions { prefix?: string; gte?: string; lt?: string; reverse?: boolean; limit?: number }

/** One written (`value` set) or deleted (`value` undefined) key. Values are shared: do not mutate. */
export interface ChangeEvent { seq: number; table: string; key: string; value?: Json }

export interface Table<V = Json> {
  readonly name: string;
  get(key: string): Promise<Row<V> | undefined>;
  getMany(keys: string[]): Promise<(Row<V> | undefined)[]>;
  range(opts?: RangeOptions): Promise<Row<V>[]>;
  count(opts?: RangeOptions): Promise<number>;
}

export interface Store {
  table<V = Json>(name: string): Table<V>;
  /** Atomic, conditional write; resolves once the LOCAL replica has applied it (read-your-writes). */
  transact(ops: Op[], conds?: Cond[]): Promise<TxResult>;
  /** Post-commit change feed in seq order; `null` = all tables. Returns an unsubscribe function. */
  watch(table: string | null, cb: (ev: ChangeEvent) => void): () => void;
  /** How many watch registrations are live (leak checks: a stopped module leaves none behind). */
  watcherCount(): number;
  /** Resolves when the local replica has applied everything submitted to the log so far. */
  barrier(): Promise<void>;
  lastApplied(): number;
  /**
   * Writes a consistent snapshot of the local replica (every row with its revision, and lastApplied) to
   * `out`, from one LevelDB snapshot: concurrent writes are either wholly in it or not at all.
   */
  snapshot(out: SnapshotOut, header?: Record<string, unknown>): Promise<SnapshotTrailer & { lastApplied: number }>;
  /**
   * Replaces the local replica by a snapshot (rows, revisions, lastApplied) when this store is the only
   * writer (single node, nothing in flight); refuses a non-empty store unless `replace`. Watchers are not
   * told. A cluster replica refuses: its lastApplied cannot move back under a shared log.
   */
  restoreSnapshot(open: SnapshotIn, opts?: { replace?: boolean; name?: string }): Promise<LoadReport>;
  close(): Promise<void>;
}

// ---- replication seam -------------------------------------------------------------------------

/**
 * An op as it travels through the log: put values are already serialized, so the entry is a
 * snapshot (later mutation by the caller cannot leak in) and the stream payload is plain JSON.
 */
export type LogOp =
  | { type: 'put'; table: string; key: string; json: string }
  | { type: 'del'; table: string; key: string }
  | { type: 'delRange'; table: string; prefix?: string; gte?: string; lt?: string };

/**
 * A transaction as submitted to the log. `txid` is stamped by the writer to find its waiter. Two marker
 * kinds carry no ops: `digest` (every replica digests its tables right after applying it, to compare them
 * at the same seq) and `applyVersion` (switches the apply logic from this seq on; see apply.ts).
 */
export interface LogEntry { txid: string; ops: LogOp[]; conds: Cond[]; digest?: true; applyVersion?: number }

export interface LogItem { seq: number; entry: LogEntry }

/**
 * Orders transactions. `LocalLog` is the single-node implementation; a cluster implementation
 * publishes to a replicated stream and delivers every entry (its own and others') in stream order.
 */
export interface ReplicationLog {
  /**
   * Begin delivering entries with seq > fromSeq to `apply`, in seq order, a group at a time. The
   * log must await each call before delivering the next group (apply is strictly sequential).
   */
  start(fromSeq: number, apply: (items: LogItem[]) => Promise<void>): void | Promise<void>;
  /** Submit an entry; resolves with the seq it was given (it may have been applied already). */
  append(entry: LogEntry): Promise<number>;
  /** The highest seq submitted to the log so far (by anyone): what barrier() waits for. */
  head(): Promise<number>;
  /** Stop accepting entries and resolve after everything appended has been delivered. */
  close(): Promise<void>;
}
