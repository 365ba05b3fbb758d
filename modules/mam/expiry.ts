// XEP-0313 archive retention (expire_after): a pass over this host's archives removes the messages older
// than the cutoff, one account and at most TRIM_BATCH rows at a time, yielding to the event loop in between.
import { setImmediate as nextTick } from 'node:timers/promises';
import { Jid, type ModuleContext, type Table } from '../../src/sdk.js';
import { MAM_TABLE, type ArchivedMessage } from './archive.js';
import { TRIM_BATCH, type ArchiveWriter } from './writer.js';

export class ArchiveExpiry {
  private readonly rows: Table<ArchivedMessage>;
  private readonly host: string;
  private readonly log: ModuleContext['log'];
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(ctx: ModuleContext<any>, private readonly writer: ArchiveWriter, private readonly expireAfterMs: number) {
    this.rows = ctx.table<ArchivedMessage>(MAM_TABLE);
    this.host = ctx.host;
    this.log = ctx.log;
  }

  /** One pass with the cutoff `now - expire_after`; a pass already running is joined, never doubled. */
  run(now = Date.now()): Promise<number> {
    this.running ??= this.pass(now - this.expireAfterMs).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** End a running pass at its next step and wait for it (module stop: no store access after this). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async pass(cutoffMs: number): Promise<number> {
    const hostPrefix = `${this.host}/`;
    let from = hostPrefix;
    let removed = 0;
    while (!this.stopped) {
      // The first row of the next account: one seek per account, whatever the size of its archive.
      const [next] = await this.rows.range({ gte: from, lt: hostPrefix + '\uffff', limit: 1 });
      if (!next) break;
      const end = next.key.indexOf('\u0000', hostPrefix.length);
      const local = next.key.slice(hostPrefix.length, end < 0 ? undefined : end);
      from = `${hostPrefix}${local}\u0001`; // just past every `${host}/${local}\u0000...` key
      let owner: Jid;
      try {
        owner = Jid.of(local, this.host);
      } catch {
        this.log.warn('skipping archive rows with an invalid owner', { key: next.key });
        continue;
      }
      for (;;) {
        const n = await this.writer.expireBatch(owner, cutoffMs);
        removed += n;
        if (n < TRIM_BATCH || this.stopped) break;
        await nextTick();
      }
      await nextTick();
    }
    if (removed) this.log.info('removed expired archived messages', { removed });
    return removed;
  }
}
