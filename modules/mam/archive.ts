// XEP-0313 archive storage: one row per archived message, keyed `${domain}/${local}\u0000${id}` so an
// archive (an account's, or a room's on its MUC service domain) is one prefix range in time order (the id
// starts with the zero-padded ms timestamp), and one row per archive holding its message count (the quota
// check without a scan). Room domains are never virtual hosts, so room and account keys never mix.
import type { Jid, ModuleContext, Row } from '../../src/sdk.js';

/** The table name (its rows are this module's alone: archive.query lives in commands.ts). */
export const MAM_TABLE = 'mam_messages';

/** Per archive (key `${domain}/${local}`): how many rows the archive has in MAM_TABLE. */
export const MAM_COUNT_TABLE = 'mam_counts';

export interface ArchiveCount {
  n: number;
  /**
   * The id of the newest message removed from the head of the archive (quota or expiry): the next trim
   * starts after it instead of seeking across the deleted keys LevelDB has not compacted yet.
   */
  head?: string;
}

export interface ArchivedMessage {
  id: string;
  /** XEP-0082 DateTime (UTC) the server archived the message at. */
  stamp: string;
  /** Bare JID of the other party (in a room's archive: the room). */
  with: string;
  /** The other party's full address, for `with` filters on a full JID (XEP-0313 §4.1.1); in a room's
   *  archive the sender's occupant JID room@service/nick. */
  peer: string;
  /** In a room's archive: the sender's real bare JID (kept for moderators; never sent in results). */
  occupant?: string;
  /** The stanza as archived (XML). */
  xml: string;
}

/** The key prefix of `owner`'s archive: an account's bare JID or a room's JID. */
export const archivePrefix = (owner: Jid): string => `${owner.domain}/${owner.local}\u0000`;

/** The key of the archive's count row. */
export const countKey = (owner: Jid): string => `${owner.domain}/${owner.local}`;

/** The id prefix of a millisecond timestamp: ids sort by time, so start/end become key bounds. */
export const msPrefix = (ms: number): string => String(Math.max(0, ms)).padStart(15, '0');

/** Time-ordered, unique archive ids: ms timestamp + a counter within the same ms (monotonic in-process). */
export class IdClock {
  private lastMs = 0;
  private n = 0;
  next(): { id: string; ms: number } {
    let ms = Date.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      if (++this.n > 9999) {
        ms = ++this.lastMs;
        this.n = 0;
      }
    } else {
      this.lastMs = ms;
      this.n = 0;
    }
    return { id: `${msPrefix(ms)}-${String(this.n).padStart(4, '0')}`, ms };
  }
}

export interface Filter { with?: Jid; start?: number; end?: number }

/** The rows of one archive that match the filter, oldest first. */
export async function matching(ctx: ModuleContext<any>, owner: Jid, f: Filter): Promise<Row<ArchivedMessage>[]> {
  const p = archivePrefix(owner);
  const rows = await ctx.table<ArchivedMessage>(MAM_TABLE).range({
    gte: p + (f.start !== undefined ? msPrefix(f.start) : ''),
    lt: f.end !== undefined ? p + msPrefix(f.end + 1) : p + '\uffff',
  });
  if (!f.with) return rows;
  const w = f.with;
  return rows.filter((r) => (w.resource ? r.value.peer === w.toString() : r.value.with === w.bareString()));
}
