// A table view over the store's LevelDB: local reads only (never through the log), so a read is
// one LevelDB lookup or scan. Writes go through Store.transact.
import type { RowDb } from './apply.js';
import { checkKey, checkRange, checkTable, keyOf, rowKey, tableBounds } from './key-codec.js';
import { decodeRow } from './row-codec.js';
import type { Json, RangeOptions, Row, Table } from './types.js';

export class LevelTable<V = Json> implements Table<V> {
  constructor(readonly name: string, readonly db: RowDb) {
    checkTable(name);
  }

  async get(key: string): Promise<Row<V> | undefined> {
    checkKey(key);
    const k = rowKey(this.name, key);
    // A point read from LevelDB takes about a microsecond; the async get's round trip through the thread
    // pool cost ~30 µs of CPU per call (two per login). The sync read is used once the DB is open.
    const raw = this.db.status === 'open' && (this.db.supports as { getSync?: boolean }).getSync ? this.db.getSync(k) : await this.db.get(k);
    return raw === undefined ? undefined : toRow<V>(key, raw);
  }

  async getMany(keys: string[]): Promise<(Row<V> | undefined)[]> {
    if (keys.length === 0) return [];
    for (const k of keys) checkKey(k);
    const raws = await this.db.getMany(keys.map((k) => rowKey(this.name, k)));
    return raws.map((raw, i) => (raw === undefined ? undefined : toRow<V>(keys[i]!, raw)));
  }

  async range(opts: RangeOptions = {}): Promise<Row<V>[]> {
    checkRange(opts);
    const b = tableBounds(this.name, opts);
    if (b === null || opts.limit === 0) return [];
    const entries = await this.db
      .iterator({ gte: b.gte, lt: b.lt, reverse: opts.reverse ?? false, ...(opts.limit !== undefined && { limit: opts.limit }) })
      .all();
    return entries.map(([k, raw]) => toRow<V>(keyOf(this.name, k), raw));
  }

  async count(opts: RangeOptions = {}): Promise<number> {
    checkRange(opts);
    const b = tableBounds(this.name, opts);
    if (b === null || opts.limit === 0) return 0;
    const it = this.db.keys({ gte: b.gte, lt: b.lt, ...(opts.limit !== undefined && { limit: opts.limit }) });
    // Count in chunks rather than materialising every key of a large table at once.
    let n = 0;
    try {
      for (;;) {
        const chunk = await it.nextv(1000);
        if (chunk.length === 0) return n;
        n += chunk.length;
      }
    } finally {
      await it.close();
    }
  }
}

function toRow<V>(key: string, raw: string): Row<V> {
  const { v, r } = decodeRow(raw);
  return { key, value: v as V, rev: r };
}
