// XEP-0313 archive writes under a per-account quota: each insert, trim and expiry changes the message rows
// and the account's count row in one transaction conditioned on that row's revision, so the count stays
// exact across processes, and ids from the clock are inserted only if absent (retried on a collision).
import type { Cond, Jid, ModuleContext, Op, Row, Table } from '../../src/sdk.js';
import { IdClock, MAM_COUNT_TABLE, MAM_TABLE, countKey, msPrefix, userPrefix, type ArchiveCount, type ArchivedMessage } from './archive.js';

/** Most rows one transaction removes: a lowered quota catches up over the next writes, expiry over batches. */
export const TRIM_BATCH = 500;
const ATTEMPTS = 8;

export class ArchiveWriter {
  private readonly clock = new IdClock();
  private readonly rows: Table<ArchivedMessage>;
  private readonly counts: Table<ArchiveCount>;
  /** Per-account tail of the writes in flight: one account's writes do not race each other in this process. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly ctx: ModuleContext<any>, private readonly maxMessages: () => number) {
    this.rows = ctx.table<ArchivedMessage>(MAM_TABLE);
    this.counts = ctx.table<ArchiveCount>(MAM_COUNT_TABLE);
  }

  /**
   * Archive one message for `owner`, removing its oldest messages beyond the quota in the same
   * transaction. `make` builds the row from the id and XEP-0082 stamp. Resolves with the id once durable.
   */
  append(owner: Jid, make: (id: string, stamp: string) => ArchivedMessage): Promise<string> {
    return this.serial(owner, async () => {
      const prefix = userPrefix(owner);
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        // The count first: any change after this read fails the revision condition below.
        const { row, n } = await this.current(owner);
        let head = row?.value.head;
        const { id, ms } = this.clock.next();
        const key = prefix + id;
        const ops: Op[] = [{ type: 'put', table: MAM_TABLE, key, value: { ...make(id, new Date(ms).toISOString()) } }];
        let left = n + 1;
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
        const r = await this.ctx.store.transact(ops, [{ type: 'absent', table: MAM_TABLE, key }, this.unchanged(owner, row)]);
        if (r.ok) return id;
      }
      throw new Error('could not archive the message: the archive kept changing');
    });
  }

  /** Remove up to TRIM_BATCH of the account's messages archived before `cutoffMs`; resolves with how many. */
  expireBatch(owner: Jid, cutoffMs: number): Promise<number> {
    return this.serial(owner, async () => {
      const prefix = userPrefix(owner);
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

  /** The ops that delete an account's whole archive (remove_user_data). */
  static removeOps(owner: Jid): Op[] {
    return [
      { type: 'delRange', table: MAM_TABLE, prefix: userPrefix(owner) },
      { type: 'del', table: MAM_COUNT_TABLE, key: countKey(owner) },
    ];
  }

  /** The account's count row and count; an archive written before counts were kept is counted once. */
  private async current(owner: Jid): Promise<{ row?: Row<ArchiveCount>; n: number }> {
    const row = await this.counts.get(countKey(owner));
    if (row) return { row, n: row.value.n };
    return { n: await this.rows.count({ prefix: userPrefix(owner) }) };
  }

  /** The condition that the count row is still the one read (or still absent). */
  private unchanged(owner: Jid, row: Row<ArchiveCount> | undefined): Cond {
    const key = countKey(owner);
    return row ? { type: 'rev', table: MAM_COUNT_TABLE, key, rev: row.rev } : { type: 'absent', table: MAM_COUNT_TABLE, key };
  }

  private serial<T>(owner: Jid, fn: () => Promise<T>): Promise<T> {
    const k = countKey(owner);
    const run = (this.locks.get(k) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return run;
  }
}
