// Processes one stream's stanzas strictly in order (RFC 6120 §10.1) while letting handlers be async,
// and applies backpressure: past a backlog the stream stops reading until the queue drains.
const MAX_PENDING = 64;

export interface OrderedQueueHooks {
  /** Stop reading from the peer (the backlog is full). */
  hold(): void;
  /** Read again (the backlog drained to a quarter). */
  release(): void;
  /** A handler threw: the stream is ended by the owner. */
  failed(err: unknown): void;
}

export class OrderedQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly hooks: OrderedQueueHooks) {}

  /**
   * Run `task` at once when nothing is queued (in the caller's turn, so a handler that finishes without
   * waiting costs no promise), else after everything queued before it. Only for callers that may run a
   * handler re-entrantly (a bound stream: its parser is never replaced by a stanza).
   */
  run(task: () => Promise<void> | void): void {
    if (this.pending !== 0) return this.push(task);
    this.pending = 1;
    let r: Promise<void> | void;
    try {
      r = task();
    } catch (err) {
      this.done();
      this.hooks.failed(err);
      return;
    }
    if (r === undefined) {
      this.pending = 0;
      return;
    }
    this.tail = r.then(
      () => this.done(),
      (err) => {
        this.done();
        this.hooks.failed(err);
      },
    );
  }

  /** Run `task` after everything queued before it; `gate` (if any) delays it, keeping the order. */
  push(task: () => Promise<void> | void, gate?: Promise<void> | null): void {
    if (++this.pending >= MAX_PENDING) this.hooks.hold();
    const start = gate ? this.tail.then(() => gate) : this.tail;
    this.tail = start.then(task).then(
      () => this.done(),
      (err) => {
        this.done();
        this.hooks.failed(err);
      },
    );
  }

  private done(): void {
    if (--this.pending === MAX_PENDING / 4) this.hooks.release();
  }
}
