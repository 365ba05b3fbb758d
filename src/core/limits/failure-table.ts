// Bounded table of decaying failure counters (one per address or account) for the authentication throttle:
// least recently used entries are forgotten first, so spraying addresses or account names cannot grow it.

export interface FailureEntry {
  /** Recorded failures, fractional while decaying. */
  score: number;
  /** When `score` was last brought up to date. */
  at: number;
  /** Locked (attempts refused unchecked) until this time; 0 = never locked. */
  lockedUntil: number;
  /** Locks so far; each one doubles the next (reset when the score has fully decayed). */
  locks: number;
  /** Attempts begun and not yet decided: they count against the lock threshold, so parallel
   *  connections cannot get more guesses in than sequential ones. */
  pending: number;
  /** Failures of this address per claimed account, so a success forgives only its own account's. */
  perAccount: Map<string, number> | null;
}

export class FailureTable {
  private readonly entries = new Map<string, FailureEntry>();

  constructor(private readonly maxEntries: () => number) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The entry of `key` with its score decayed to `now` (one failure forgotten per `decayMs`, never while
   * locked), or a new one when `create`; it becomes the most recently used. A fully decayed, unlocked,
   * idle entry is dropped (and a new one returned when `create`).
   */
  get(key: string, now: number, decayMs: number, create: boolean): FailureEntry | undefined {
    let e = this.entries.get(key);
    if (e) {
      const from = Math.max(e.at, e.lockedUntil);
      if (now > from) {
        e.score = Math.max(0, e.score - (now - from) / decayMs);
        e.at = now;
      }
      this.entries.delete(key); // re-inserted below: Map order is the LRU order
      if (e.score === 0 && e.pending === 0 && now >= e.lockedUntil) e = undefined;
    }
    if (!e) {
      if (!create) return undefined;
      e = { score: 0, at: now, lockedUntil: 0, locks: 0, pending: 0, perAccount: null };
    }
    this.entries.set(key, e);
    const max = this.maxEntries();
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= max) break;
      this.entries.delete(oldest);
    }
    return e;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
