// `xmppd backup` / `restore`. A backup is a data-layer snapshot (data/snapshot.ts: every row with its revision
// and lastApplied, from one LevelDB snapshot, with a checksummed trailer). Unlike `export` (XEP-0227) it keeps
// everything: blocking lists, last activity, roster versions, whatever a plugin stores. Restore checks the
// whole file first (a damaged backup changes nothing) and compares it with the store; replacing a running
// server's data, or data the backup does not hold, needs force, and what is dropped is reported. Version 1
// backups (JSON lines without revisions or checksum) are still restored.
import { createInterface } from 'node:readline';
import {
  readSnapshot, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Json, type Op, type Store,
} from '../../data/index.js';
import type { RowDb } from '../../data/apply.js';
import { LevelTable } from '../../data/level-table.js';
import type { Core } from '../core.js';
import { CommandError } from '../admin/command-def.js';
import { createOutFile, openInFile } from './file-io.js';
import type { Progress } from './pie-export.js';

const TABLE_NAME = /^[a-z0-9_]+$/;
const LONE_SURROGATE = /\p{Cs}/u;
const FIRST_ROW = Buffer.from([0x01]);
const BATCH_OPS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

/** The LevelDB under the store (the single-node store and the cluster replica both keep one). */
function rawDb(store: Store): RowDb {
  const t = store.table('accounts');
  if (!(t instanceof LevelTable)) throw new CommandError('this store cannot be read as a snapshot; use export instead', 'unavailable');
  return t.db;
}

export interface BackupReport { file: string; rows: number; tables: Record<string, number>; lastApplied: number }

export async function backupStore(core: Core, opts: { file: string; overwrite?: boolean; progress?: Progress; every?: number; signal?: AbortSignal }): Promise<BackupReport> {
  const every = opts.every ?? 100_000;
  await core.store.barrier(); // everything acknowledged so far is in the local replica
  const out = await createOutFile(opts.file, { overwrite: opts.overwrite });
  let lines = 0;
  let shown = 0;
  let r;
  try {
    r = await core.store.snapshot({
      write: async (text: string) => {
        if (opts.signal?.aborted) throw new CommandError('the backup was cancelled (the requester went away); no file was written');
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
        if (lines - shown >= every) opts.progress?.(`backup: ${(shown = lines) - 1} rows`);
        await out.write(text);
      },
    }, { server: core.version, hosts: core.config.hosts });
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
  opts.progress?.(`backup: done, ${r.rows} rows`);
  return { file: opts.file, rows: r.rows, tables: r.tables, lastApplied: r.lastApplied };
}

/** How restore names the file in its messages: the caller's name; line numbers only for the CLI's operator. */
interface Shown { file: string; name?: string; positions?: boolean }

interface Header { version: number; created: string; lastApplied: number; hosts?: string[] }
/** A row of either version; `json` is the value's JSON text. */
interface FileRow { table: string; key: string; json: string }
type Item = { kind: 'header'; header: Header } | { kind: 'row'; row: FileRow } | { kind: 'end' };

/** The format version of a backup, from its first line. */
async function versionOf(f: Shown): Promise<number> {
  const input = await openInFile(f.file, { nofollow: f.positions === false });
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      try {
        const rec = JSON.parse(line) as { format?: unknown; version?: unknown };
        if (rec.format === SNAPSHOT_FORMAT && typeof rec.version === 'number') return rec.version;
      } catch { /* reported below */ }
      break;
    }
  } finally {
    rl.close();
    input.destroy(); // only the first line was needed
  }
  throw new CommandError(`${f.name ?? f.file}: this is not an xmppd backup (use "xmppd import" for XEP-0227 files); nothing was restored`);
}

/** The rows of a backup, checked as they are read; throws (before 'end') on anything damaged. */
async function* items(f: Shown, version: number): AsyncGenerator<Item> {
  const file = f.name ?? f.file;
  if (version === SNAPSHOT_VERSION) {
    try {
      for await (const it of readSnapshot(await openInFile(f.file, { nofollow: f.positions === false }), file)) {
        if (it.kind === 'row') yield { kind: 'row', row: it.row };
        else if (it.kind === 'header') yield { kind: 'header', header: it.header as unknown as Header };
        else yield { kind: 'end' };
      }
    } catch (err) {
      if (!(err instanceof SnapshotError)) throw err;
      const msg = f.positions === false ? err.message.replace(/ line \d+:/, ':') : err.message;
      throw new CommandError(`${msg.replace('the snapshot is incomplete', 'the backup is incomplete')}; nothing was restored`);
    }
    return;
  }
  if (version !== 1) throw new CommandError(`${file}: backup format version ${version} is not supported (this xmppd reads 1 and ${SNAPSHOT_VERSION}); nothing was restored`);
  yield* itemsV1(f);
}

/** Version 1: a header, {"t","k","v"} lines, {"end":true,"rows"}; no revisions, no checksum. */
async function* itemsV1(f: Shown): AsyncGenerator<Item> {
  const file = f.name ?? f.file;
  const rl = createInterface({ input: await openInFile(f.file, { nofollow: f.positions === false }), crlfDelay: Infinity });
  let header = false;
  let trailer: { rows: number } | null = null;
  let rows = 0;
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    const bad = (why: string): never => {
      throw new CommandError(`${file}${f.positions === false ? '' : ` line ${n}`}: ${why}; nothing was restored`);
    };
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      bad('not valid JSON (damaged file?)');
    }
    if (!header) {
      header = true;
      yield { kind: 'header', header: { version: 1, created: String(rec!.created), lastApplied: Number(rec!.lastApplied ?? 0), hosts: rec!.hosts as string[] } };
      continue;
    }
    if (trailer) bad('data after the end record');
    if (rec!.end === true) {
      trailer = rec! as { rows: number };
      continue;
    }
    if (typeof rec!.t !== 'string' || !TABLE_NAME.test(rec!.t) || typeof rec!.k !== 'string' || !('v' in rec!)) bad('not a row record');
    if (LONE_SURROGATE.test(rec!.k as string)) bad('the key is not valid Unicode');
    rows++;
    yield { kind: 'row', row: { table: rec!.t as string, key: rec!.k as string, json: JSON.stringify(rec!.v) } };
  }
  if (!trailer) throw new CommandError(`${file} has no end record: the backup is incomplete (truncated?); nothing was restored`);
  if (trailer.rows !== rows) {
    throw new CommandError(f.positions === false ? `${file}: its rows do not match its end record (damaged file?); nothing was restored` : `${file} holds ${rows} rows but its end record says ${trailer.rows}; nothing was restored`);
  }
  yield { kind: 'end' };
}

/** Per table: rows in the store now, rows in the backup, and what the restore drops or changes. */
export interface TableDiff { store: number; backup: number; dropped: number; changed: number; added: number }

export interface RestorePlan {
  version: number;
  created: string;
  hosts?: string[];
  /** The backup's lastApplied and the store's now; newerTransactions = how many the store has beyond it. */
  backupLastApplied: number;
  storeLastApplied: number;
  newerTransactions: number;
  rows: number;
  tables: Record<string, TableDiff>;
  /** Store rows the restore deletes (not in the backup) or overwrites with another value. */
  dropped: number;
  changed: number;
}

/**
 * Pass 1: reads the whole file (it must be intact) and merges it, key order against key order, with one
 * snapshot of the store, to tell what the restore replaces.
 */
async function plan(store: Store, f: Shown, version: number): Promise<RestorePlan> {
  const db = rawDb(store);
  await store.barrier();
  const snapshot = db.snapshot();
  const it = db.iterator({ gte: FIRST_ROW, snapshot });
  let buf: Array<[Buffer, string]> = [];
  let pos = 0;
  const peek = async (): Promise<[Buffer, string] | undefined> => {
    if (pos >= buf.length) {
      buf = await it.nextv(1000);
      pos = 0;
    }
    return buf[pos];
  };
  const tables: Record<string, TableDiff> = {};
  const t = (name: string) => (tables[name] ??= { store: 0, backup: 0, dropped: 0, changed: 0, added: 0 });
  const storeRow = (k: Buffer) => {
    const s = k.toString('utf8');
    return t(s.slice(0, s.indexOf('\u0000')));
  };
  let header: Header | undefined;
  let rows = 0;
  try {
    const storeLastApplied = Number((await db.get(Buffer.from('\x00meta\x00lastApplied'), { snapshot })) ?? 0);
    for await (const item of items(f, version)) {
      if (item.kind === 'header') header = item.header;
      if (item.kind !== 'row') continue;
      const { table, key, json } = item.row;
      rows++;
      t(table).backup++;
      const k = Buffer.from(table + '\x00' + key, 'utf8');
      let s = await peek();
      while (s !== undefined && Buffer.compare(s[0], k) < 0) {
        const d = storeRow(s[0]);
        d.store++;
        d.dropped++;
        pos++;
        s = await peek();
      }
      if (s !== undefined && Buffer.compare(s[0], k) === 0) {
        t(table).store++;
        if (s[1].slice(5, s[1].lastIndexOf(',"r":')) !== json) t(table).changed++;
        pos++;
      } else {
        t(table).added++;
      }
    }
    for (let s = await peek(); s !== undefined; s = await peek()) {
      const d = storeRow(s[0]);
      d.store++;
      d.dropped++;
      pos++;
    }
    const h = header!;
    let dropped = 0;
    let changed = 0;
    for (const d of Object.values(tables)) {
      dropped += d.dropped;
      changed += d.changed;
    }
    return {
      version, created: h.created, ...(h.hosts && { hosts: h.hosts }), backupLastApplied: h.lastApplied, storeLastApplied,
      newerTransactions: Math.max(0, storeLastApplied - h.lastApplied), rows, tables, dropped, changed,
    };
  } finally {
    await it.close();
    await snapshot.close();
  }
}

/** One line for the operator: what a restore replaces. */
export function describePlan(p: RestorePlan): string {
  const per = Object.entries(p.tables).filter(([, d]) => d.store > 0 || d.backup > 0)
    .map(([name, d]) => `${name} ${d.store}->${d.backup}${d.dropped || d.changed ? ` (${d.dropped} deleted, ${d.changed} changed)` : ''}`);
  return `the backup was taken at transaction ${p.backupLastApplied}, the store is at ${p.storeLastApplied} ` +
    `(${p.newerTransactions} transactions newer than the backup); ${p.dropped} rows would be deleted and ${p.changed} changed; ` +
    `rows per table (store->backup): ${per.join(', ') || 'none'}`;
}

export interface RestoreReport {
  file: string; rows: number; tables: Record<string, number>; cleared: string[]; created: string; warnings: string[];
  /** What the restore replaced; `dropped`/`changed`/`newerTransactions` are the data that is gone. */
  replaced: RestorePlan;
  /** 'transactions': rows rewritten through the log (new revisions); 'snapshot': loaded as is (revisions, lastApplied). */
  method: 'transactions' | 'snapshot';
}

/**
 * `running`: the server is serving (restore then needs force). Without a running server, force is needed
 * only if the restore would drop or change rows, or the store has transactions newer than the backup.
 */
export async function restoreStore(core: Core, opts: Shown & { progress?: Progress; every?: number; force?: boolean; running?: boolean }): Promise<RestoreReport> {
  const every = opts.every ?? 100_000;
  const version = await versionOf(opts);
  const p = await plan(core.store, opts, version);
  const summary = describePlan(p);
  const loses = p.dropped > 0 || p.changed > 0 || p.newerTransactions > 0;
  if (opts.force !== true && (opts.running === true || loses)) {
    throw new CommandError(`${opts.running ? 'the server is running: restore replaces its data' : 'restore would replace data'} and needs force (--force): ${summary}; nothing was restored`, 'conflict');
  }
  const warnings: string[] = [];
  const hosts = p.hosts ?? [];
  const missing = core.config.hosts.filter((h) => !hosts.includes(h));
  const extra = hosts.filter((h) => !core.config.hosts.includes(h));
  if (missing.length || extra.length) warnings.push(`the backup was made for hosts ${hosts.join(', ')}; this server serves ${core.config.hosts.join(', ')}`);
  if (loses) core.log.warn(`restore replaces data: ${summary}`, { part: 'restore', file: opts.name ?? opts.file, dropped: p.dropped, changed: p.changed, newerTransactions: p.newerTransactions });
  const tables = Object.fromEntries(Object.entries(p.tables).filter(([, d]) => d.backup > 0).map(([n, d]) => [n, d.backup]));
  const cleared = Object.keys(p.tables).sort();
  const base = { file: opts.file, tables, cleared, created: p.created, warnings, replaced: p };

  if (opts.running !== true && version === SNAPSHOT_VERSION) {
    // Nothing else writes: load it as is (revisions and lastApplied kept). A cluster replica refuses
    // (its lastApplied cannot move back) and the rows go through transactions instead.
    try {
      const r = await core.store.restoreSnapshot(async () => openInFile(opts.file, { nofollow: opts.positions === false }), { replace: true, name: opts.name ?? opts.file });
      opts.progress?.(`restore: done, ${r.rows} rows`);
      return { ...base, rows: r.rows, method: 'snapshot' };
    } catch (err) {
      if (!(err instanceof SnapshotError && /shared replication log/.test(err.message))) throw err;
    }
  }

  // Through ordinary transactions (replicated, watched): the first clears the tables and carries the first
  // rows; an interrupted restore is completed by running it again. Revisions are the new transactions' seqs,
  // so a compare-and-set made with a revision read before the restore fails, as it should.
  let ops: Op[] = cleared.map((table) => ({ type: 'delRange' as const, table }));
  let bytes = 0;
  let done = 0;
  const flush = async () => {
    if (!ops.length) return;
    await core.store.transact(ops);
    ops = [];
    bytes = 0;
  };
  for await (const item of items(opts, version)) {
    if (item.kind !== 'row') continue;
    const { table, key, json } = item.row;
    ops.push({ type: 'put', table, key, value: JSON.parse(json) as Json });
    bytes += json.length + key.length;
    if (ops.length >= BATCH_OPS || bytes >= BATCH_BYTES) await flush();
    if (++done % every === 0) opts.progress?.(`restore: ${done}/${p.rows} rows`);
  }
  await flush();
  opts.progress?.(`restore: done, ${done} rows`);
  return { ...base, rows: done, method: 'transactions' };
}
