// A token bucket: the rate arithmetic behind the shapers (ejabberd's p1_shaper works the same way: a rate
// plus a burst size). Time is passed in (ms, performance.now()) so the arithmetic is testable.

export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param rate tokens added per second (> 0)
   * @param capacity the most the bucket holds: what may be spent at once after a quiet spell (the burst)
   */
  constructor(readonly rate: number, readonly capacity: number, now: number) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Tokens available now; negative while in debt (spent ahead of the rate). */
  level(now: number): number {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    return this.tokens;
  }

  /** Spend n tokens; the level may go negative (debt). */
  take(n: number, now: number): void {
    this.level(now);
    this.tokens -= n;
  }

  /** Milliseconds until the level reaches `target` (0 when it already has). */
  waitFor(target: number, now: number): number {
    const l = this.level(now);
    return l >= target ? 0 : ((target - l) / this.rate) * 1000;
  }

  /** Full again: whoever spends from it has stayed within the rate for capacity/rate seconds. */
  isFull(now: number): boolean {
    return this.level(now) >= this.capacity;
  }
}
