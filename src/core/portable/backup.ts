// `xmppd backup` / `restore`: every row of every table as JSON lines (a header, one {"t","k","v"} line per
// row, a trailer with the row count), read through ONE LevelDB iterator, whose implicit snapshot makes the
// copy consistent while the server keeps writing. Unlike `export` (XEP-0227: accounts, rosters, vCards,
// private data, offline messages) it keeps everything: blocking lists, last activity, roster versions,
// whatever a plugin stores. Restore validates the whole file first (a truncated backup changes nothing),
// then replaces the tables' contents through ordinary transactions (replicated, watched).
import { createInterface } from 'node:readline';
import type { Json, Op, Store } from '../../data/index.js';
import type { RowDb } from '../../data/apply.js';
import { LevelTable } from '../../data/level-table.js';
import type { Core } from '../core.js';
import { CommandError } from '../admin/command-def.js';
import { createOutFile, openInFile } from './file-io.js';
import type { Progress } from './pie-export.js';

const FORMAT = 'xmppd-backup';
const VERSION = 1;
const TABLE_NAME = /^[a-z0-9_]+$/;
const LONE_SURROGATE = /\p{Cs}/u;
/** Rows of LevelDB start with their table name ([a-z0-9_]); store metadata starts with \x00. */
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
  const db = rawDb(core.store);
  const every = opts.every ?? 100_000;
  await core.store.barrier(); // everything acknowledged so far is in the local replica
  const lastApplied = core.store.lastApplied();
  const out = await createOutFile(opts.file, { overwrite: opts.overwrite });
  const tables: Record<string, number> = {};
  let rows = 0;
  const it = db.iterator({ gte: FIRST_ROW });
  try {
    await out.write(JSON.stringify({ format: FORMAT, version: VERSION, created: new Date().toISOString(), server: core.version, hosts: core.config.hosts, lastApplied }) + '\n');
    for (;;) {
      if (opts.signal?.aborted) throw new CommandError('the backup was cancelled (the requester went away); no file was written');
      const chunk = await it.nextv(1000);
      if (chunk.length === 0) break;
      let text = '';
      for (const [k, raw] of chunk) {
        const key = k.toString('utf8');
        const nul = key.indexOf('\u0000');
        if (nul < 0) continue;
        const table = key.slice(0, nul);
        // The stored row is {"v":<value>,"r":<rev>} (data/row-codec.ts): the value's JSON is copied as is;
        // revisions are not kept (restore writes new ones).
        const value = raw.slice(5, raw.lastIndexOf(',"r":'));
        text += `{"t":${JSON.stringify(table)},"k":${JSON.stringify(key.slice(nul + 1))},"v":${value}}\n`;
        tables[table] = (tables[table] ?? 0) + 1;
        if (++rows % every === 0) opts.progress?.(`backup: ${rows} rows`);
      }
      await out.write(text);
    }
    await out.write(JSON.stringify({ end: true, rows, tables }) + '\n');
    await it.close();
    await out.commit();
  } catch (err) {
    await it.close().catch(() => undefined);
    await out.abort();
    throw err;
  }
  opts.progress?.(`backup: done, ${rows} rows`);
  return { file: opts.file, rows, tables, lastApplied };
}

export interface RestoreReport { file: string; rows: number; tables: Record<string, number>; cleared: string[]; created: string; warnings: string[] }

interface Header { format: string; version: number; created: string; hosts: string[] }

/** Table names present in the store now (a skip scan: one seek per table). */
async function storedTables(db: RowDb): Promise<string[]> {
  const names: string[] = [];
  let from = FIRST_ROW;
  for (;;) {
    const [first] = await db.keys({ gte: from, limit: 1 }).all();
    if (!first) return names;
    const key = first.toString('utf8');
    const table = key.slice(0, key.indexOf('\u0000'));
    if (!TABLE_NAME.test(table)) return names;
    names.push(table);
    from = Buffer.from(`${table}\u0001`, 'utf8');
  }
}

/** How restore names the file in its messages: the caller's name; line numbers only for the CLI's operator. */
interface Shown { file: string; name?: string; positions?: boolean }

async function* lines(f: Shown): AsyncGenerator<{ n: number; line: string }> {
  const rl = createInterface({ input: await openInFile(f.file, { nofollow: f.positions === false }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() !== '') yield { n, line };
  }
}

/** Pass 1: the whole file must parse and end with a trailer that matches, before anything is touched. */
async function check(f: Shown): Promise<{ header: Header; rows: number; tables: Record<string, number> }> {
  const file = f.name ?? f.file;
  let header: Header | null = null;
  let trailer: { rows: number } | null = null;
  let rows = 0;
  const tables: Record<string, number> = {};
  for await (const { n, line } of lines(f)) {
    const bad = (why: string): never => {
      throw new CommandError(`${file}${f.positions === false ? '' : ` line ${n}`}: ${why}; nothing was restored`);
    };
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      bad(header ? 'not valid JSON (damaged file?)' : 'this is not an xmppd backup');
    }
    if (!header) {
      if (rec!.format !== FORMAT) bad('this is not an xmppd backup (use "xmppd import" for XEP-0227 files)');
      if (rec!.version !== VERSION) bad(`backup format version ${rec!.version} is not supported (this xmppd reads ${VERSION})`);
      header = rec! as unknown as Header;
      continue;
    }
    if (trailer) bad('data after the end record');
    if (rec!.end === true) {
      trailer = rec! as { rows: number };
      continue;
    }
    if (typeof rec!.t !== 'string' || !TABLE_NAME.test(rec!.t) || typeof rec!.k !== 'string' || !('v' in rec!)) bad('not a row record');
    if (LONE_SURROGATE.test(rec!.k as string)) bad('the key is not valid Unicode');
    tables[rec!.t as string] = (tables[rec!.t as string] ?? 0) + 1;
    rows++;
  }
  if (!header) throw new CommandError(`${file} is empty; nothing was restored`);
  if (!trailer) throw new CommandError(`${file} has no end record: the backup is incomplete (truncated?); nothing was restored`);
  if (trailer.rows !== rows) {
    throw new CommandError(f.positions === false ? `${file}: its rows do not match its end record (damaged file?); nothing was restored` : `${file} holds ${rows} rows but its end record says ${trailer.rows}; nothing was restored`);
  }
  return { header, rows, tables };
}

export async function restoreStore(core: Core, opts: Shown & { progress?: Progress; every?: number }): Promise<RestoreReport> {
  const db = rawDb(core.store);
  const every = opts.every ?? 100_000;
  const { header, rows, tables } = await check(opts);
  const warnings: string[] = [];
  const missing = core.config.hosts.filter((h) => !header.hosts?.includes(h));
  const extra = (header.hosts ?? []).filter((h) => !core.config.hosts.includes(h));
  if (missing.length || extra.length) warnings.push(`the backup was made for hosts ${(header.hosts ?? []).join(', ')}; this server serves ${core.config.hosts.join(', ')}`);

  // Pass 2: the tables' contents are replaced. The first transaction clears them (and carries the first
  // rows); an interrupted restore is completed by running it again.
  const cleared = [...new Set([...(await storedTables(db)), ...Object.keys(tables)])].sort();
  let ops: Op[] = cleared.map((table) => ({ type: 'delRange' as const, table }));
  let bytes = 0;
  let done = 0;
  const flush = async () => {
    if (!ops.length) return;
    await core.store.transact(ops);
    ops = [];
    bytes = 0;
  };
  for await (const { line } of lines(opts)) {
    const rec = JSON.parse(line) as { t?: string; k: string; v: Json };
    if (typeof rec.t !== 'string') continue; // header and trailer
    ops.push({ type: 'put', table: rec.t, key: rec.k, value: rec.v });
    bytes += line.length;
    if (ops.length >= BATCH_OPS || bytes >= BATCH_BYTES) await flush();
    if (++done % every === 0) opts.progress?.(`restore: ${done}/${rows} rows`);
  }
  await flush();
  opts.progress?.(`restore: done, ${done} rows`);
  return { file: opts.file, rows: done, tables, cleared, created: header.created, warnings };
}
