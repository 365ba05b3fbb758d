// XEP-0191 block lists: one row per blocked JID, keyed `${domain}/${local}\0${jid}` so that an account's
// list is one prefix range (remove_user_data deletes it with one delRange), plus the in-memory cache
// the stanza filter reads: lists of users with sessions stay loaded, others are loaded on first use.
import type { Jid, ModuleContext, Op, Table } from '../../src/sdk.js';
import { EMPTY, type BlockList } from './match.js';

export const TABLE = 'blocking_items';

/** The key prefix of one account's rows. */
export function userPrefix(owner: Jid): string {
  return `${owner.domain}/${owner.local}\u0000`;
}

/** How many cache entries eviction inspects per insert (bounds the work when most are pinned). */
const EVICT_SCAN = 32;

export class BlockLists {
  private readonly table: Table<Record<string, never>>;
  /** bare JID -> list. Entries are updated in place from the change feed; EMPTY is never mutated. */
  private readonly cache = new Map<string, BlockList>();
  private readonly loading = new Map<string, Promise<BlockList>>();
  /** Accounts with a session on this node: their lists are never evicted. */
  private readonly pinned = new Set<string>();

  constructor(private readonly ctx: ModuleContext<any>, private readonly cacheSize: number) {
    this.table = ctx.table(TABLE);
    // The change feed keeps the cache exact, for this node's writes and (in a cluster) everyone else's.
    // Rows are keyed by host first: this instance watches its own host's rows only.
    ctx.watch(TABLE, (ev) => this.changed(ev.key, ev.value !== undefined), { prefix: `${ctx.host}/` });
  }

  /** The cached list, or undefined when it has to be loaded (the filter's synchronous fast path). */
  peek(owner: Jid): BlockList | undefined {
    return this.cache.get(owner.bareString());
  }

  /** The list, from the cache or the table. */
  get(owner: Jid): BlockList | Promise<BlockList> {
    const k = owner.bareString();
    const hit = this.cache.get(k);
    if (hit !== undefined) return hit;
    const inFlight = this.loading.get(k);
    if (inFlight !== undefined) return inFlight;
    const prefix = userPrefix(owner);
    const p: Promise<BlockList> = this.table.range({ prefix }).then(
      (rows) => {
        const list: BlockList = rows.length ? new Set(rows.map((r) => r.key.slice(prefix.length))) : EMPTY;
        // A change applied while we read may or may not be in `rows`; changed() then dropped us.
        if (this.loading.get(k) === p) {
          this.loading.delete(k);
          this.remember(k, list);
        }
        return list;
      },
      (err: unknown) => {
        if (this.loading.get(k) === p) this.loading.delete(k);
        throw err;
      },
    );
    this.loading.set(k, p);
    return p;
  }

  /** A copy of the list, safe to keep across awaits. */
  async snapshot(owner: Jid): Promise<Set<string>> {
    return new Set(await this.get(owner));
  }

  /** A session of `owner` was bound here: keep its list loaded. */
  pin(owner: Jid): void {
    this.pinned.add(owner.bareString());
  }

  /** A session ended: the list may be evicted once the account has no session left. */
  unpin(owner: Jid): void {
    if (this.ctx.sessionsOf(owner.bare()).length === 0) this.pinned.delete(owner.bareString());
  }

  putOps(owner: Jid, items: Iterable<string>): Op[] {
    const prefix = userPrefix(owner);
    return [...items].map((jid) => ({ type: 'put', table: TABLE, key: prefix + jid, value: {} }));
  }

  delOps(owner: Jid, items: Iterable<string>): Op[] {
    const prefix = userPrefix(owner);
    return [...items].map((jid) => ({ type: 'del', table: TABLE, key: prefix + jid }));
  }

  clearOp(owner: Jid): Op {
    return { type: 'delRange', table: TABLE, prefix: userPrefix(owner) };
  }

  private remember(k: string, list: BlockList): void {
    this.cache.set(k, list);
    if (this.cache.size <= this.cacheSize + this.pinned.size) return;
    let scanned = 0;
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.cacheSize + this.pinned.size || ++scanned > EVICT_SCAN) break;
      if (!this.pinned.has(key) && key !== k) this.cache.delete(key);
    }
  }

  /** One row written or deleted (change feed). */
  private changed(key: string, present: boolean): void {
    const sep = key.indexOf('\u0000');
    const slash = key.indexOf('/');
    if (sep < 0 || slash < 0 || slash > sep) return;
    const k = `${key.slice(slash + 1, sep)}@${key.slice(0, slash)}`;
    this.loading.delete(k); // a read in flight may predate this change: it must not land in the cache
    const cur = this.cache.get(k);
    if (cur === undefined) return;
    const item = key.slice(sep + 1);
    if (present) {
      if (cur === EMPTY) this.cache.set(k, new Set([item]));
      else (cur as Set<string>).add(item);
    } else if (cur !== EMPTY) {
      (cur as Set<string>).delete(item);
      if (cur.size === 0) this.cache.set(k, EMPTY);
    }
  }
}

