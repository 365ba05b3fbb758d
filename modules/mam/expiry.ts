// XEP-0313 archive retention (expire_after): a pass over this host's archives (its accounts', then its
// rooms' on each MUC domain they were archived under) removes the messages older than the cutoff, one
// archive and at most TRIM_BATCH rows at a time, yielding to the event loop in between.
import { setImmediate as nextTick } from 'node:timers/promises';
import { Jid, type ModuleContext, type Table } from '../../src/sdk.js';
import { MAM_TABLE, type ArchivedMessage } from './archive.js';
import { TRIM_BATCH, type ArchiveWriter } from './writer.js';

export class ArchiveExpiry {
  private readonly rows: Table<ArchivedMessage>;
  private readonly log: ModuleContext['log'];
  private running: Promise<number> | null = null;
  private stopped = false;

  /** `domains`: the key domains of this host's archives (the host, and the room domains), read per pass. */
  constructor(ctx: ModuleContext<any>, private readonly writer: ArchiveWriter, private readonly expireAfterMs: number, private readonly domains: () => Iterable<string>) {
    this.rows = ctx.table<ArchivedMessage>(MAM_TABLE);
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
    let removed = 0;
    for (const domain of [...this.domains()]) {
      if (this.stopped) break;
      removed += await this.passDomain(domain, cutoffMs);
    }
    if (removed) this.log.info('removed expired archived messages', { removed });
    return removed;
  }

  private async passDomain(domain: string, cutoffMs: number): Promise<number> {
    const domainPrefix = `${domain}/`;
    let from = domainPrefix;
    let removed = 0;
    while (!this.stopped) {
      // The first row of the next archive: one seek per archive, whatever its size.
      const [next] = await this.rows.range({ gte: from, lt: domainPrefix + '\uffff', limit: 1 });
      if (!next) break;
      const end = next.key.indexOf('\u0000', domainPrefix.length);
      const local = next.key.slice(domainPrefix.length, end < 0 ? undefined : end);
      from = `${domainPrefix}${local}\u0001`; // just past every `${domain}/${local}\u0000...` key
      let owner: Jid;
      try {
        owner = Jid.of(local, domain);
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
    return removed;
  }
}
