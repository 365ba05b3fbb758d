// Upkeep of the server-wide verified caps cache (caps_cache): the row count behind cache_max_rows (and the
// xmppd_caps_cache_rows gauge), the expiry sweep of rows unused for cache_expire_after, and the hourly
// "cache full" warning. One per data store: the caps instances of every host share it, and one of them leads.
import type { ModuleContext, Table } from '../../src/sdk.js';
import { CAPS_TABLE, lastUsedOf, type CapsRow } from './caps-cache.js';

/** Rows read per page during a sweep. */
const PAGE = 1000;
/** The "cache full" warning is logged at most this often (ms). */
const WARN_EVERY = 3_600_000;

interface Member { ctx: ModuleContext<any>; expireAfterMs: number }

export class CacheUpkeep {
  /** Rows in the table: counted at start and by each sweep, followed between them by the change feed. */
  rows = 0;
  private readonly members: Member[] = [];
  private lastWarn = -Infinity;
  private sweeping: Promise<{ removed: number; rows: number }> | null = null;

  private constructor(private readonly table: Table<CapsRow>) {}

  /** Join the upkeep of `ctx`'s store (created by its first member); left again when the instance stops. */
  static join(ctx: ModuleContext<any>, expireAfterMs: number): CacheUpkeep {
    let u = UPKEEP.get(ctx.store);
    if (!u) {
      u = new CacheUpkeep(ctx.table<CapsRow>(CAPS_TABLE));
      UPKEEP.set(ctx.store, u);
      const first = u;
      void first.table.count().then((n) => (first.rows = n), (err) => ctx.log.error('counting the caps cache failed', { err }));
    }
    const upkeep = u;
    const me: Member = { ctx, expireAfterMs };
    upkeep.members.push(me);
    ctx.onStop(() => {
      upkeep.members.splice(upkeep.members.indexOf(me), 1);
      if (!upkeep.members.length && UPKEEP.get(ctx.store) === upkeep) UPKEEP.delete(ctx.store);
    });
    // Every node of a cluster applies every insert and delete, so each follows the count on its own; only
    // the leading instance counts, so that several hosts do not count one change twice.
    ctx.watch(CAPS_TABLE, (ev) => {
      if (upkeep.members[0] !== me) return;
      if (ev.value === undefined) upkeep.rows = Math.max(0, upkeep.rows - 1);
      else if (isInsert(ev.value as unknown as CapsRow)) upkeep.rows++;
    });
    return upkeep;
  }

  /** Whether `ctx` is the instance that sweeps (the first of the store's members still running). */
  leads(ctx: ModuleContext<any>): boolean {
    return this.members[0]?.ctx === ctx;
  }

  /**
   * The cache holds `maxRows` or more: a new verified entry is kept for its session only. Logged once an
   * hour (a client per login could otherwise fill the log).
   */
  full(ctx: ModuleContext<any>, maxRows: number): boolean {
    if (this.rows < maxRows) return false;
    const now = Date.now();
    if (now - this.lastWarn >= WARN_EVERY) {
      this.lastWarn = now;
      ctx.log.warn('capabilities cache is full: new verified capabilities are kept for their session only (modules.caps.cache_max_rows)', { rows: this.rows, max: maxRows });
    }
    return true;
  }

  /** One pass with the leader's cache_expire_after; a pass already running is joined, never doubled. */
  sweep(now = Date.now()): Promise<{ removed: number; rows: number }> {
    const leader = this.members[0];
    if (!leader) return Promise.resolve({ removed: 0, rows: this.rows });
    this.sweeping ??= this.pass(leader.ctx, now - leader.expireAfterMs).finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async pass(ctx: ModuleContext<any>, cutoff: number): Promise<{ removed: number; rows: number }> {
    let removed = 0;
    let seen = 0;
    let gte: string | undefined;
    for (;;) {
      const page = await this.table.range({ ...(gte !== undefined && { gte }), limit: PAGE });
      seen += page.length;
      const old = page.filter((r) => lastUsedOf(r.value) < cutoff);
      removed += await this.remove(ctx, old);
      if (page.length < PAGE) break;
      gte = `${page[page.length - 1]!.key}\u0000`;
    }
    this.rows = seen - removed;
    if (removed) ctx.log.info('removed unused capabilities from the cache', { removed, rows: this.rows });
    return { removed, rows: this.rows };
  }

  /** Delete rows unless they changed since they were read (a lastUsed stamp in between keeps a row). */
  private async remove(ctx: ModuleContext<any>, rows: Array<{ key: string; rev: number }>): Promise<number> {
    if (!rows.length) return 0;
    const del = (r: { key: string }) => ({ type: 'del' as const, table: CAPS_TABLE, key: r.key });
    const cond = (r: { key: string; rev: number }) => ({ type: 'rev' as const, table: CAPS_TABLE, key: r.key, rev: r.rev });
    if ((await ctx.store.transact(rows.map(del), rows.map(cond))).ok) return rows.length;
    let n = 0; // one of them was used meanwhile: the others go one by one
    for (const r of rows) if ((await ctx.store.transact([del(r)], [cond(r)])).ok) n++;
    return n;
  }
}

/** A row as first stored (lastUsed equal to verifiedAt, or absent in rows older than the stamp). */
const isInsert = (row: CapsRow): boolean => row.lastUsed === undefined || row.lastUsed === row.verifiedAt;

/** By data store: several servers may run in one process (tests), each with its own store. */
const UPKEEP = new WeakMap<object, CacheUpkeep>();
