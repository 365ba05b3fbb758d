// Store snapshots: every table's raw rows with their revisions plus lastApplied, read from ONE explicit
// LevelDB snapshot (a group commit writes rows and lastApplied in one batch, so a snapshot never holds half a
// transaction). JSON lines: a header, one {"t","k","v","r"} line per row in LevelDB key order, and a trailer
// with the row count and a SHA-256 of every line before it, so a truncated or altered file is refused.
import { createHash, type Hash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';
import { once } from 'node:events';
import type { RowDb } from './apply.js';
import { DataError } from './data-error.js';
import { META_APPLY_VERSION, META_LAST_APPLIED, checkKey } from './key-codec.js';

export const SNAPSHOT_FORMAT = 'xmppd-backup';
export const SNAPSHOT_VERSION = 2;
/** Rows start with their table name ([a-z0-9_]); store metadata starts with \x00. */
export const FIRST_ROW = Buffer.from([0x01]);
const TABLE_NAME = /^[a-z0-9_]+$/;
const CHUNK = 1000;

export interface SnapshotHeader {
  format: string; version: number; created: string; lastApplied: number; tables: string[];
  /** Anything the caller adds (server version, hosts). */
  [extra: string]: unknown;
}
export interface SnapshotTrailer { end: true; rows: number; tables: Record<string, number>; sha256: string }
export interface SnapshotRow { table: string; key: string; rev: number; /** the value's JSON text, as stored */ json: string }

/** Where a snapshot goes: a stream (backpressure honoured) or anything with an async write. */
export type SnapshotOut = Writable | { write(text: string): Promise<void> };
/** Where a snapshot comes from: a function, so it can be read twice (verify, then load). */
export type SnapshotIn = () => Readable | Promise<Readable>;

function writer(out: SnapshotOut): (text: string) => Promise<void> {
  if (out instanceof Writable) {
    return async (text) => {
      if (!out.write(text)) await once(out, 'drain');
    };
  }
  return (text) => out.write(text);
}

/** Table names present (a skip scan: one seek per table), within `snapshot` when given. */
export async function tableNames(db: RowDb, snapshot?: unknown): Promise<string[]> {
  const names: string[] = [];
  let from = FIRST_ROW;
  for (;;) {
    const [first] = await db.keys({ gte: from, limit: 1, ...(snapshot !== undefined && { snapshot }) } as object).all();
    if (!first) return names;
    const key = first.toString('utf8');
    const table = key.slice(0, key.indexOf('\u0000'));
    if (!TABLE_NAME.test(table)) return names;
    names.push(table);
    from = Buffer.from(`${table}\u0001`, 'utf8');
  }
}

/**
 * Writes a snapshot of `db` to `out` in bounded chunks. `extra` fields go into the header. The caller
 * should barrier() first if it wants everything acknowledged so far to be included.
 */
export async function writeSnapshot(db: RowDb, out: SnapshotOut, extra: Record<string, unknown> = {}, onRows?: (rows: number) => void): Promise<SnapshotTrailer & { lastApplied: number }> {
  const write = writer(out);
  const snapshot = db.snapshot();
  try {
    const [last, applyVersion] = await db.getMany([META_LAST_APPLIED, META_APPLY_VERSION], { snapshot });
    const lastApplied = last === undefined ? 0 : Number(last);
    const header: SnapshotHeader = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, created: new Date().toISOString(), lastApplied, tables: await tableNames(db, snapshot), ...extra };
    // The apply logic version in force at lastApplied (apply.ts), so a replica loaded from it applies the tail alike.
    if (applyVersion !== undefined) header.applyVersion = Number(applyVersion);
    const hash = createHash('sha256');
    const put = async (line: string) => {
      hash.update(line);
      await write(line);
    };
    await put(JSON.stringify(header) + '\n');
    const tables: Record<string, number> = {};
    let rows = 0;
    const it = db.iterator({ gte: FIRST_ROW, snapshot });
    try {
      for (;;) {
        const chunk = await it.nextv(CHUNK);
        if (chunk.length === 0) break;
        let text = '';
        for (const [k, raw] of chunk) {
          const key = k.toString('utf8');
          const nul = key.indexOf('\u0000');
          if (nul < 0) continue;
          const table = key.slice(0, nul);
          // raw is {"v":<value>,"r":<rev>} (row-codec.ts): copied as is behind the table and key.
          text += `{"t":${JSON.stringify(table)},"k":${JSON.stringify(key.slice(nul + 1))},${raw.slice(1)}\n`;
          tables[table] = (tables[table] ?? 0) + 1;
          rows++;
        }
        await put(text);
        onRows?.(rows);
      }
    } finally {
      await it.close();
    }
    const trailer: SnapshotTrailer = { end: true, rows, tables, sha256: hash.digest('hex') };
    await write(JSON.stringify(trailer) + '\n');
    return { ...trailer, lastApplied };
  } finally {
    await snapshot.close();
  }
}

/** One parsed line of a snapshot file. */
export type SnapshotItem =
  | { kind: 'header'; header: SnapshotHeader }
  | { kind: 'row'; row: SnapshotRow; line: number }
  | { kind: 'end'; trailer: SnapshotTrailer };

export class SnapshotError extends DataError {
  constructor(message: string) {
    super('XMPPD_ERR_DATA_SNAPSHOT', message);
  }
}

/**
 * Reads and checks a snapshot (version 2) line by line. Throws SnapshotError on anything wrong, including a
 * missing trailer or a trailer whose count or checksum does not match: consumers must not commit anything
 * before the 'end' item has been yielded.
 */
export async function* readSnapshot(input: Readable, name = 'snapshot'): AsyncGenerator<SnapshotItem> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  const hash: Hash = createHash('sha256');
  let header: SnapshotHeader | null = null;
  let trailer: SnapshotTrailer | null = null;
  let rows = 0;
  let n = 0;
  for await (const line of rl) {
    n++;
    const bad = (why: string): never => { throw new SnapshotError(`${name} line ${n}: ${why}`); };
    if (trailer) bad('data after the end record');
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      bad(header ? 'not valid JSON (damaged file?)' : 'this is not an xmppd snapshot');
    }
    if (!header) {
      if (rec!.format !== SNAPSHOT_FORMAT) bad('this is not an xmppd snapshot');
      if (rec!.version !== SNAPSHOT_VERSION) bad(`snapshot format version ${rec!.version} is not supported here (this reads ${SNAPSHOT_VERSION})`);
      if (!Number.isSafeInteger(rec!.lastApplied) || (rec!.lastApplied as number) < 0) bad('the header has no valid lastApplied');
      header = rec! as SnapshotHeader;
      hash.update(line + '\n');
      yield { kind: 'header', header };
      continue;
    }
    if (rec!.end === true) {
      trailer = rec! as unknown as SnapshotTrailer;
      if (trailer.rows !== rows) bad(`the file holds ${rows} rows but its end record says ${trailer.rows} (damaged file?)`);
      if (trailer.sha256 !== hash.digest('hex')) bad('the checksum does not match its content (damaged file?)');
      yield { kind: 'end', trailer };
      continue;
    }
    hash.update(line + '\n');
    const { t, k, v, r } = rec! as { t?: unknown; k?: unknown; v?: unknown; r?: unknown };
    if (typeof t !== 'string' || !TABLE_NAME.test(t) || typeof k !== 'string' || v === undefined) bad('not a row record');
    if (!Number.isSafeInteger(r) || (r as number) < 0) bad('the row has no valid revision');
    try {
      checkKey(k as string);
    } catch {
      bad('the key is not valid Unicode');
    }
    rows++;
    yield { kind: 'row', row: { table: t as string, key: k as string, rev: r as number, json: JSON.stringify(v) }, line: n };
  }
  if (!header) throw new SnapshotError(`${name} is empty`);
  if (!trailer) throw new SnapshotError(`${name} has no end record: the snapshot is incomplete (truncated?)`);
}

/** A marker present while a snapshot is being loaded: a directory holding it is incomplete. */
export const META_RESTORING = Buffer.from('\x00meta\x00restoring');
const BATCH_OPS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

export interface LoadReport { rows: number; tables: Record<string, number>; lastApplied: number; replaced: number }

/**
 * Loads a snapshot into `db`, which must hold no rows unless `replace`. The file is read twice: verified
 * whole first (nothing is touched if it is damaged), then loaded in bounded batches under a "restoring"
 * marker that is removed, with lastApplied set, only in the last batch, once the second read verified too.
 * The caller must make sure nothing else writes `db` meanwhile (a store that is idle or not started).
 */
export async function loadSnapshot(db: RowDb, open: SnapshotIn, opts: { replace?: boolean; name?: string } = {}): Promise<LoadReport> {
  const name = opts.name ?? 'snapshot';
  for await (const _ of readSnapshot(await open(), name)) { /* pass 1: verify only */ }
  const [any] = await db.keys({ gte: FIRST_ROW, limit: 1 }).all();
  if (any !== undefined && opts.replace !== true) {
    throw new SnapshotError('the store is not empty; a snapshot is loaded into an empty store unless replace is asked for');
  }
  await db.put(META_RESTORING, '1', { sync: true });
  let replaced = 0;
  const old = db.keys({ gte: FIRST_ROW });
  try {
    for (;;) {
      const keys = await old.nextv(BATCH_OPS);
      if (keys.length === 0) break;
      await db.batch(keys.map((key) => ({ type: 'del' as const, key })));
      replaced += keys.length;
    }
  } finally {
    await old.close();
  }
  let batch: Array<{ type: 'put'; key: Buffer; value: string } | { type: 'del'; key: Buffer }> = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await db.batch(batch);
    batch = [];
    bytes = 0;
  };
  let header: SnapshotHeader | undefined;
  let trailer: SnapshotTrailer | undefined;
  for await (const item of readSnapshot(await open(), name)) {
    if (item.kind === 'header') header = item.header;
    else if (item.kind === 'end') trailer = item.trailer;
    else {
      const { table, key, rev, json } = item.row;
      batch.push({ type: 'put', key: Buffer.from(table + '\x00' + key, 'utf8'), value: '{"v":' + json + ',"r":' + rev + '}' });
      bytes += json.length + key.length;
      if (batch.length >= BATCH_OPS || bytes >= BATCH_BYTES) await flush();
    }
  }
  batch.push({ type: 'put', key: META_LAST_APPLIED, value: String(header!.lastApplied) }, { type: 'del', key: META_RESTORING });
  const v = header!.applyVersion;
  batch.push(Number.isSafeInteger(v) && (v as number) > 1
    ? { type: 'put', key: META_APPLY_VERSION, value: String(v) }
    : { type: 'del', key: META_APPLY_VERSION });
  await db.batch(batch, { sync: true });
  return { rows: trailer!.rows, tables: trailer!.tables, lastApplied: header!.lastApplied, replaced };
}
