// The verified capabilities cache (XEP-0115 §5.4 point 3.8, XEP-0390 "Capability Hash Cache"): one table for
// the whole server, keyed by protocol, hash algorithm and hash value, written through the data layer (so
// every node of a cluster shares it), with a bounded in-memory mirror of the rows read.
import type { ModuleContext, Table } from '../../src/sdk.js';
import type { CapsIdentity, DiscoData } from './disco-data.js';

export const CAPS_TABLE = 'caps_cache';

/** A row: what the disco#info behind a verified hash says. A hash names its content, so rows never change. */
export interface CapsRow { features: string[]; identities: CapsIdentity[]; verifiedAt: number }

/** Rows kept in memory; the table keeps them all. */
const MIRROR_MAX = 4096;

export class CapsCache {
  private readonly rows: Table<CapsRow>;
  private readonly mirror = new Map<string, ReadonlySet<string>>();

  constructor(private readonly ctx: ModuleContext<any>) {
    this.rows = ctx.table<CapsRow>(CAPS_TABLE);
    // A row deleted by an operator (or on another node) leaves the mirror too.
    ctx.watch(CAPS_TABLE, (ev) => {
      if (ev.value === undefined) this.mirror.delete(ev.key);
    });
  }

  /** The features of a verified hash, or undefined when it is not cached. */
  async get(key: string): Promise<ReadonlySet<string> | undefined> {
    const seen = this.mirror.get(key);
    if (seen) return seen;
    const row = await this.rows.get(key);
    if (!row) return undefined;
    return this.remember(key, new Set(row.value.features));
  }

  /** Store a verified answer (insert-if-absent: a hash has one content; whoever stored it first wins). */
  async put(key: string, info: DiscoData): Promise<ReadonlySet<string>> {
    const value: CapsRow = { features: [...new Set(info.features)], identities: info.identities, verifiedAt: Date.now() };
    await this.ctx.store.transact([{ type: 'put', table: CAPS_TABLE, key, value: value as never }], [{ type: 'absent', table: CAPS_TABLE, key }]);
    return this.remember(key, new Set(value.features));
  }

  private remember(key: string, features: ReadonlySet<string>): ReadonlySet<string> {
    if (this.mirror.size >= MIRROR_MAX) this.mirror.delete(this.mirror.keys().next().value!);
    this.mirror.set(key, features);
    return features;
  }
}
