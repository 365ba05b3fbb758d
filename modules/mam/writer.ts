// XEP-0313 archive writes under a per-archive quota (an account's or a room's): each insert, trim and expiry
// changes the message rows and the archive's count row in one transaction conditioned on that row's
// revision, so the count stays exact across processes, and ids from the clock are inserted only if absent
// (retried on a collision). One writer per quota: accounts use max_messages, rooms room_max_messages.
import type { Cond, Jid, ModuleContext, Op, Row, Table } from '../../src/sdk.js';
import { IdClock, MAM_COUNT_TABLE, MAM_TABLE, countKey, msPrefix, archivePrefix, type ArchiveCount, type ArchivedMessage } from './archive.js';

/** Most rows one transaction removes: a lowered quota catches up over the next writes, expiry over batches. */
export const TRIM_BATCH = 500;
const ATTEMPTS = 8;
/** Most messages one account's write takes at once. */
const GROUP_MAX = 100;

type MakeRow = (id: string, stamp: string) => ArchivedMessage;
interface Waiting { make: MakeRow; resolve: (id: string) => void; reject: (err: unknown) => void }
interface AccountQueue { owner: Jid; waiting: Waiting[]; busy?: boolean }

export class ArchiveWriter {
  private readonly clock = new IdClock();
  private readonly rows: Table<ArchivedMessage>;
  private readonly counts: Table<ArchiveCount>;
  /** Per account: the messages waiting for the next write. */
  private readonly queues = new Map<string, AccountQueue>();

  constructor(private readonly ctx: ModuleContext<any>, private readonly maxMessages: () => number) {
    this.rows = ctx.table<ArchivedMessage>(MAM_TABLE);
    this.counts = ctx.table<ArchiveCount>(MAM_COUNT_TABLE);
  }

  /**
   * Archive one message for `owner`, removing its oldest messages beyond the quota in the same
   * transaction. `make` builds the row from the id and XEP-0082 stamp. Resolves with the id once durable.
   * Messages for one account that arrive while its previous write is in flight are written together
   * in the next transaction (group commit per account: one account's writes are sequential).
   */
  append(owner: Jid, make: MakeRow): Promise<string> {
    return new Promise((resolve, reject) => {
      const k = countKey(owner);
      let q = this.queues.get(k);
      if (!q) this.queues.set(k, (q = { owner, waiting: [] }));
      q.waiting.push({ make, resolve, reject });
      if (!q.busy) void this.drain(k, q); // drain marks the queue busy before its first await
    });
  }

  private async drain(k: string, q: AccountQueue): Promise<void> {
    q.busy = true;
    while (q.waiting.length) {
      // At most max_messages at once, so the quota never removes a row of the same write.
      const batch = q.waiting.splice(0, Math.max(1, Math.min(GROUP_MAX, this.maxMessages())));
      try {
        const ids = await this.serial(q.owner, () => this.write(q.owner, batch.map((w) => w.make)));
        batch.forEach((w, i) => w.resolve(ids[i]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    q.busy = false;
    this.queues.delete(k);
  }

  private async write(owner: Jid, makes: MakeRow[]): Promise<string[]> {
    const prefix = archivePrefix(owner);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      // The count first: any change after this read fails the revision condition below.
      const { row, n } = await this.current(owner);
      let head = row?.value.head;
      const ids: string[] = [];
      const ops: Op[] = [];
      const conds: Cond[] = [this.unchanged(owner, row)];
      for (const make of makes) {
        const { id, ms } = this.clock.next();
        ids.push(id);
        ops.push({ type: 'put', table: MAM_TABLE, key: prefix + id, value: { ...make(id, new Date(ms).toISOString()) } });
        conds.push({ type: 'absent', table: MAM_TABLE, key: prefix + id });
      }
      let left = n + makes.length;
      const excess = Math.min(left - this.maxMessages(), TRIM_BATCH);
      if (excess > 0) {
        const gte = head !== undefined ? prefix + head + '\u0000' : prefix;
        for (const old of await this.rows.range({ gte, lt: prefix + '\uffff', limit: excess })) {
          ops.push({ type: 'del', table: MAM_TABLE, key: old.key });
          head = old.key.slice(prefix.length);
          left--;
        }
      }
      ops.push({ type: 'put', table: MAM_COUNT_TABLE, key: countKey(owner), value: { n: left, ...(head !== undefined && { head }) } });
      if ((await this.ctx.store.transact(ops, conds)).ok) return ids;
    }
    throw new Error('could not archive the message: the archive kept changing');
  }

  /** Remove up to TRIM_BATCH of the account's messages archived before `cutoffMs`; resolves with how many. */
  expireBatch(owner: Jid, cutoffMs: number): Promise<number> {
    return this.serial(owner, async () => {
      const prefix = archivePrefix(owner);
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const { row, n } = await this.current(owner);
        const old = await this.rows.range({ gte: prefix, lt: prefix + msPrefix(cutoffMs), limit: TRIM_BATCH });
        if (old.length === 0) return 0;
        const ops: Op[] = old.map((r) => ({ type: 'del' as const, table: MAM_TABLE, key: r.key }));
        // Expiry scans from the start (it also finds a row older than `head` that another node's clock
        // wrote late); `head` only moves forward.
        const last = old.at(-1)!.key.slice(prefix.length);
        const prev = row?.value.head;
        const head = prev !== undefined && prev > last ? prev : last;
        ops.push({ type: 'put', table: MAM_COUNT_TABLE, key: countKey(owner), value: { n: Math.max(0, n - old.length), head } });
        const r = await this.ctx.store.transact(ops, [this.unchanged(owner, row)]);
        if (r.ok) return old.length;
      }
      return 0; // busy: the next sweep tries again
    });
  }

  /** Delete an archive (a destroyed room), after any write to it in flight in this process. */
  remove(owner: Jid): Promise<void> {
    return this.serial(owner, async () => {
      const r = await this.ctx.store.transact(ArchiveWriter.removeOps(owner));
      if (!r.ok) throw new Error(`could not remove the archive of ${owner.toString()}`);
    });
  }

  /** The ops that delete an account's whole archive (remove_user_data). */
  static removeOps(owner: Jid): Op[] {
    return [
      { type: 'delRange', table: MAM_TABLE, prefix: archivePrefix(owner) },
      { type: 'del', table: MAM_COUNT_TABLE, key: countKey(owner) },
    ];
  }

  /** The account's count row and count; an archive written before counts were kept is counted once. */
  private async current(owner: Jid): Promise<{ row?: Row<ArchiveCount>; n: number }> {
    const row = await this.counts.get(countKey(owner));
    if (row) return { row, n: row.value.n };
    return { n: await this.rows.count({ prefix: archivePrefix(owner) }) };
  }

  /** The condition that the count row is still the one read (or still absent). */
  private unchanged(owner: Jid, row: Row<ArchiveCount> | undefined): Cond {
    const key = countKey(owner);
    return row ? { type: 'rev', table: MAM_COUNT_TABLE, key, rev: row.rev } : { type: 'absent', table: MAM_COUNT_TABLE, key };
  }

  /** One account's writes do not race each other in this process (the count row's revision covers the rest). */
  private serial<T>(owner: Jid, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock(countKey(owner), fn);
  }
}
