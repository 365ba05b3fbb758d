// The verified capabilities cache (XEP-0115 §5.4 point 3.8, XEP-0390 "Capability Hash Cache"): one table for
// the whole server, keyed by protocol, hash algorithm and hash value, written through the data layer (so
// every node of a cluster shares it), with a bounded in-memory mirror of the rows read. Rows unused for
// cache_expire_after are swept (cache-upkeep.ts); past cache_max_rows new entries stay with their session.
import type { ModuleContext, Table } from '../../src/sdk.js';
import { clientName, type CapsIdentity, type DiscoData } from './disco-data.js';
import type { CacheUpkeep } from './cache-upkeep.js';

export const CAPS_TABLE = 'caps_cache';

/**
 * A row: what the disco#info behind a verified hash says. A hash names its content, so that never changes;
 * only `lastUsed` moves (ms; equal to verifiedAt when stored, absent in rows stored before it existed).
 */
export interface CapsRow { features: string[]; identities: CapsIdentity[]; verifiedAt: number; lastUsed?: number }

export const lastUsedOf = (row: CapsRow): number => row.lastUsed ?? row.verifiedAt;

/** Rows kept in memory; the table keeps them all. */
const MIRROR_MAX = 4096;
/** lastUsed is written at most once a day per row (or twice per cache_expire_after when that is shorter). */
const STAMP_EVERY_MAX = 86_400_000;

interface Mirrored { features: ReadonlySet<string>; lastUsed: number; client: string | undefined }

export class CapsCache {
  private readonly rows: Table<CapsRow>;
  private readonly mirror = new Map<string, Mirrored>();
  private readonly stampEvery: number;
  private readonly maxRows: number;

  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly upkeep: CacheUpkeep,
    limits: { expireAfterMs: number; maxRows: number },
  ) {
    this.rows = ctx.table<CapsRow>(CAPS_TABLE);
    this.maxRows = limits.maxRows;
    this.stampEvery = Math.min(STAMP_EVERY_MAX, limits.expireAfterMs / 2);
    // A row deleted (swept, by an operator or on another node) leaves the mirror too; a stamp moves it.
    // A row stored by another node (a cluster) is mirrored at once: its clients' features are known here too.
    ctx.watch(CAPS_TABLE, (ev) => {
      if (ev.value === undefined) this.mirror.delete(ev.key);
      else {
        const row = ev.value as unknown as CapsRow;
        const seen = this.mirror.get(ev.key);
        if (seen) seen.lastUsed = Math.max(seen.lastUsed, lastUsedOf(row));
        else this.remember(ev.key, new Set(row.features), lastUsedOf(row), clientName(row.identities ?? []));
      }
    });
  }

  /** The features of a verified hash when this node has it in memory (no read, not marked as used). */
  peek(key: string): ReadonlySet<string> | undefined {
    return this.mirror.get(key)?.features;
  }

  /** The features of a verified hash, or undefined when it is not cached. Marks the row as used. */
  async get(key: string): Promise<ReadonlySet<string> | undefined> {
    let seen = this.mirror.get(key);
    if (!seen) {
      const row = await this.rows.get(key);
      if (!row) return undefined;
      seen = this.remember(key, new Set(row.value.features), lastUsedOf(row.value), clientName(row.value.identities ?? []));
    }
    this.used(key, seen);
    return seen.features;
  }

  /**
   * Store a verified answer (insert-if-absent: a hash has one content; whoever stored it first wins). With
   * the cache full, the features are returned without storing them: the caller keeps them for its session.
   */
  async put(key: string, info: DiscoData): Promise<ReadonlySet<string>> {
    const features = new Set(info.features);
    if (this.upkeep.full(this.ctx, this.maxRows)) return features;
    const now = Date.now();
    const value: CapsRow = { features: [...features], identities: info.identities, verifiedAt: now, lastUsed: now };
    await this.ctx.store.transact([{ type: 'put', table: CAPS_TABLE, key, value: value as never }], [{ type: 'absent', table: CAPS_TABLE, key }]);
    return this.remember(key, features, now, clientName(info.identities)).features;
  }

  /** The client name of a cached hash (its identity of category client), when it is in memory. */
  clientOf(key: string): string | undefined {
    return this.mirror.get(key)?.client;
  }

  /** Write a new lastUsed when the stored one is older than stampEvery (never on every presence). */
  private used(key: string, seen: Mirrored): void {
    const now = Date.now();
    if (now - seen.lastUsed < this.stampEvery) return;
    seen.lastUsed = now;
    void (async () => {
      const row = await this.rows.get(key);
      if (!row || now - lastUsedOf(row.value) < this.stampEvery) return;
      // Conditional on the revision read: a row swept meanwhile is not brought back.
      await this.ctx.store.transact([{ type: 'put', table: CAPS_TABLE, key, value: { ...row.value, lastUsed: now } as never }], [{ type: 'rev', table: CAPS_TABLE, key, rev: row.rev }]);
    })().catch((err) => this.ctx.log.error('marking cached capabilities as used failed', { err }));
  }

  private remember(key: string, features: ReadonlySet<string>, lastUsed: number, client: string | undefined): Mirrored {
    if (this.mirror.size >= MIRROR_MAX) this.mirror.delete(this.mirror.keys().next().value!);
    const m = { features, lastUsed, client };
    this.mirror.set(key, m);
    return m;
  }
}
