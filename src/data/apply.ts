// The one deterministic state transition of the data layer: apply log entries, in seq order, to
// the local LevelDB. No clock, no randomness, no I/O but reads of local state: every replica that
// applies the same entries from the same state writes the same batches (the cluster relies on it).
import type { Level } from 'level';
import { DataError } from './data-error.js';
import { META_APPLY_VERSION, META_LAST_APPLIED, rowId, tableBounds } from './key-codec.js';
import { encodeRow, revOf } from './row-codec.js';
import type { Cond, LogItem, TxResult } from './types.js';

export type RowDb = Level<Buffer, string>;

/**
 * Apply logic versions. Changes to what apply does with an entry are switched at a log entry, never by the
 * version of the node: replicas running different xmppd versions must write the same batches for the same
 * seq. A new behaviour gets a new number here; once every node runs a version that knows it, an operator
 * appends an `{applyVersion: N}` entry, which each replica records (META applyVersion, in the same batch)
 * and from which seq on apply branches on it. A node that meets a version it does not know stops applying
 * (XMPPD_ERR_DATA_APPLY: upgrade it) rather than diverge. Snapshots carry the version in their header.
 *   1: today's logic (conditions absent/present/rev; put, del, delRange; rev = seq of the last write).
 */
export const APPLY_VERSION = 1;

/** A change to report to watchers once the batch is committed (`json` undefined = deleted). */
export interface PendingEvent { table: string; key: string; json: string | undefined }

export interface ApplyOutcome {
  /** Per item: its result, or null when seq <= lastApplied (already applied, skipped). */
  results: (TxResult | null)[];
  /** Per item: its changes, in op order (empty when not collected or when a condition failed). */
  events: PendingEvent[][];
  lastApplied: number;
}

export interface ApplyOptions {
  /** fsync the batch (survives power loss, not only a process crash). */
  sync?: boolean;
  /** Whether anyone watches `table`; changes of unwatched tables are not collected. */
  watched?: (table: string) => boolean;
}

/** Pending state of a row within the group: json undefined = deleted; rev = seq that wrote it. */
interface Pending { json: string | undefined; rev: number }

const NONE: PendingEvent[] = [];

/**
 * Applies `items` (ascending seq) on top of the replica whose marker is `lastApplied`. Entries
 * with seq <= lastApplied are skipped, so replaying a log tail is harmless. Each entry's
 * conditions are checked against the state left by the entries before it; a failed entry writes
 * nothing but still advances lastApplied. The whole group, plus the new lastApplied marker, is
 * written in ONE LevelDB batch: a crash leaves either all of it or none of it. A group of one
 * item is exactly "apply(seq, entry)"; larger groups are an optimisation with the same result.
 */
export async function applyEntries(
  db: RowDb, lastApplied: number, items: readonly LogItem[], opts: ApplyOptions = {},
): Promise<ApplyOutcome> {
  const results: (TxResult | null)[] = new Array<TxResult | null>(items.length).fill(null);
  const events: PendingEvent[][] = new Array<PendingEvent[]>(items.length).fill(NONE);
  const live: boolean[] = new Array<boolean>(items.length);
  let last = lastApplied;

  // One read for all condition keys of the group; the DB cannot change underneath us because
  // applies are serialized and this function is the only writer.
  const base = new Map<string, string | undefined>();
  for (let i = 0; i < items.length; i++) {
    const { seq, entry } = items[i]!;
    live[i] = seq > last;
    if (!live[i]) continue;
    last = seq;
    for (const c of entry.conds) base.set(rowId(c.table, c.key), undefined);
  }
  if (last === lastApplied) return { results, events, lastApplied };
  if (base.size > 0) {
    const ids = [...base.keys()];
    const raws = await db.getMany(ids.map((id) => Buffer.from(id, 'utf8')));
    for (let i = 0; i < ids.length; i++) base.set(ids[i]!, raws[i]);
  }

  const overlay = new Map<string, Pending>();
  const holds = (c: Cond): boolean => {
    const id = rowId(c.table, c.key);
    const p = overlay.get(id);
    let present: boolean;
    let rev = 0;
    if (p !== undefined) {
      present = p.json !== undefined;
      rev = p.rev;
    } else {
      const raw = base.get(id);
      present = raw !== undefined;
      if (present) rev = revOf(raw!);
    }
    switch (c.type) {
      case 'absent': return !present;
      case 'present': return present;
      case 'rev': return c.rev === 0 ? !present : present && rev === c.rev;
    }
  };

  let version: number | undefined;
  for (let i = 0; i < items.length; i++) {
    if (!live[i]) continue;
    const { seq, entry } = items[i]!;
    if (entry.applyVersion !== undefined) {
      const v = entry.applyVersion;
      if (!Number.isSafeInteger(v) || v < 1 || v > APPLY_VERSION) {
        throw new DataError('XMPPD_ERR_DATA_APPLY',
          `log entry ${seq} switches the apply logic to version ${JSON.stringify(v)}; this xmppd knows versions 1..${APPLY_VERSION}: upgrade this node`);
      }
      version = v;
      results[i] = { ok: true, seq };
      continue;
    }
    const failed = entry.conds.find((c) => !holds(c));
    if (failed !== undefined) {
      results[i] = { ok: false, seq, failed };
      continue;
    }
    let evs: PendingEvent[] | undefined;
    const note = (table: string, key: string, json: string | undefined): void => {
      if (opts.watched?.(table)) (evs ??= []).push({ table, key, json });
    };
    for (const op of entry.ops) {
      switch (op.type) {
        case 'put':
          overlay.set(rowId(op.table, op.key), { json: op.json, rev: seq });
          note(op.table, op.key, op.json);
          break;
        case 'del':
          overlay.set(rowId(op.table, op.key), { json: undefined, rev: seq });
          note(op.table, op.key, undefined);
          break;
        case 'delRange':
          for (const key of await rangeKeys(db, overlay, op)) {
            overlay.set(rowId(op.table, key), { json: undefined, rev: seq });
            note(op.table, key, undefined);
          }
          break;
      }
    }
    results[i] = { ok: true, seq };
    if (evs !== undefined) events[i] = evs;
  }

  const batch: Array<{ type: 'put'; key: Buffer; value: string } | { type: 'del'; key: Buffer }> = [];
  for (const [id, p] of overlay) {
    const key = Buffer.from(id, 'utf8');
    batch.push(p.json === undefined ? { type: 'del', key } : { type: 'put', key, value: encodeRow(p.json, p.rev) });
  }
  if (version !== undefined) batch.push({ type: 'put', key: META_APPLY_VERSION, value: String(version) });
  batch.push({ type: 'put', key: META_LAST_APPLIED, value: String(last) });
  await db.batch(batch, { sync: opts.sync ?? false });
  return { results, events, lastApplied: last };
}

/**
 * The keys a delRange deletes, in key order: rows present in the DB or written earlier in this
 * group, minus rows already deleted earlier in this group.
 */
async function rangeKeys(
  db: RowDb, overlay: Map<string, Pending>, op: { table: string; prefix?: string; gte?: string; lt?: string },
): Promise<string[]> {
  const b = tableBounds(op.table, op);
  if (b === null) return [];
  const found = new Map<string, Buffer>();
  for (const k of await db.keys({ gte: b.gte, lt: b.lt }).all()) {
    const id = k.toString('utf8');
    const p = overlay.get(id);
    if (p !== undefined && p.json === undefined) continue;
    found.set(id, k);
  }
  const head = op.table + '\x00';
  for (const [id, p] of overlay) {
    if (p.json === undefined || found.has(id) || !id.startsWith(head)) continue;
    const k = Buffer.from(id, 'utf8');
    if (Buffer.compare(k, b.gte) >= 0 && Buffer.compare(k, b.lt) < 0) found.set(id, k);
  }
  const keys = [...found.values()];
  keys.sort(Buffer.compare);
  return keys.map((k) => k.toString('utf8', head.length));
}
