// Single-node ReplicationLog: seqs come from an in-process counter and entries are delivered to
// apply strictly one group at a time. Everything appended while a group is being written is
// delivered together as the next group (group commit, without timers).
import { DataError } from './data-error.js';
import type { LogEntry, LogItem, ReplicationLog } from './types.js';

export interface LocalLogOptions {
  /** Most entries handed to apply at once; bounds batch size and memory. */
  maxGroup?: number;
}

export class LocalLog implements ReplicationLog {
  #seq = 0;
  #pending: LogItem[] = [];
  #apply: ((items: LogItem[]) => Promise<void>) | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #maxGroup: number;

  constructor(opts: LocalLogOptions = {}) {
    this.#maxGroup = opts.maxGroup ?? 1000;
  }

  start(fromSeq: number, apply: (items: LogItem[]) => Promise<void>): void {
    this.#seq = fromSeq;
    this.#apply = apply;
    if (this.#pending.length > 0) this.#kick();
  }

  /** Assigns the seq synchronously, so concurrent callers get seqs in call order. */
  append(entry: LogEntry): Promise<number> {
    if (this.#closed) return Promise.reject(new DataError('XMPPD_ERR_DATA_CLOSED', 'the replication log is closed'));
    const seq = ++this.#seq;
    this.#pending.push({ seq, entry });
    this.#kick();
    return Promise.resolve(seq);
  }

  head(): Promise<number> {
    return Promise.resolve(this.#seq);
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== undefined) await this.#draining;
  }

  #kick(): void {
    if (this.#draining !== undefined || this.#apply === undefined) return;
    // Start on a microtask, so all transactions submitted in the same tick form the first group.
    this.#draining = new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const group = this.#pending.length <= this.#maxGroup ? this.#pending : this.#pending.slice(0, this.#maxGroup);
        this.#pending = group === this.#pending ? [] : this.#pending.slice(this.#maxGroup);
        // A failed group has already been reported to its transactions by the store; keep going
        // so later entries are delivered (and rejected by the now-failed store) instead of hanging.
        await this.#apply!(group).catch(() => undefined);
      }
    } finally {
      this.#draining = undefined;
    }
  }
}
