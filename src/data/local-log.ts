// Single-node ReplicationLog: seqs come from an in-process counter and entries are delivered to
// apply strictly one group at a time. Everything appended while a group is being written is
// delivered together as the next group (group commit, without timers). With a group window
// (durability: group) a group is also held open for a few ms, or until enough entries wait, so that
// more writers join one fsync.
import { DataError } from './data-error.js';
import type { LogEntry, LogItem, ReplicationLog } from './types.js';

export interface LocalLogOptions {
  /** Most entries handed to apply at once; bounds batch size and memory. */
  maxGroup?: number;
  /**
   * Group commit window: a group is delivered no earlier than this many ms after its first entry
   * arrived (or at once when maxGroup entries are waiting). 0 (default): deliver as soon as possible.
   */
  groupWindowMs?: number;
  /**
   * With a group window: deliver as soon as this many entries wait, without waiting out the window
   * (a burst of concurrent writers needs no window to share an fsync). Default maxGroup.
   */
  groupSize?: number;
}

export class LocalLog implements ReplicationLog {
  #seq = 0;
  #pending: LogItem[] = [];
  #apply: ((items: LogItem[]) => Promise<void>) | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #maxGroup: number;
  readonly #window: number;
  /** Pending entries at which a group window ends early. */
  readonly #enough: number;
  /** When the oldest pending entry arrived (performance.now()), for the group window. */
  #firstAt = 0;
  /** Ends the current window wait early (group full, or the log closing). */
  #wake: (() => void) | undefined;

  constructor(opts: LocalLogOptions = {}) {
    this.#maxGroup = opts.maxGroup ?? 1000;
    this.#window = opts.groupWindowMs ?? 0;
    this.#enough = Math.min(this.#maxGroup, Math.max(1, opts.groupSize ?? this.#maxGroup));
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
    if (this.#pending.length === 0 && this.#window > 0) this.#firstAt = performance.now();
    this.#pending.push({ seq, entry });
    if (this.#pending.length >= this.#enough) this.#wake?.();
    this.#kick();
    return Promise.resolve(seq);
  }

  head(): Promise<number> {
    return Promise.resolve(this.#seq);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.(); // nothing more can join: write what is waiting now
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
        if (this.#window > 0) await this.#holdWindow();
        const group = this.#pending.length <= this.#maxGroup ? this.#pending : this.#pending.slice(0, this.#maxGroup);
        this.#pending = group === this.#pending ? [] : this.#pending.slice(this.#maxGroup);
        // Entries left over from a full group keep the old #firstAt: their window is over, they go next.
        // A failed group has already been reported to its transactions by the store; keep going
        // so later entries are delivered (and rejected by the now-failed store) instead of hanging.
        await this.#apply!(group).catch(() => undefined);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** Waits until the oldest pending entry is #window ms old, enough entries wait, or the log closes. */
  async #holdWindow(): Promise<void> {
    const wait = this.#firstAt + this.#window - performance.now();
    if (wait <= 0 || this.#closed || this.#pending.length >= this.#enough) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }
}
