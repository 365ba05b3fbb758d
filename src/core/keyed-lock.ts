// A keyed lock: operations under one key run one at a time, in arrival order, on this process (the data
// layer's conditional writes cover other processes). One implementation for every module that needs it.

/**
 * How long (ms of one event-loop turn) operations may run back to back before the next one waits a turn.
 * Each operation starts as a promise continuation of the one before, so a backlog under one key (a room's
 * 1000 queued joins, each a fan-out) ran as one microtask chain: no socket was read, no timer fired and
 * the writes of every other stream waited until the whole backlog was done (tens of seconds).
 */
export const SLICE_MS = 10;

export class KeyedLock {
  /** Per key, the tail of the operations in flight; removed once the last one settles. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** When the current run of back-to-back operations began (-1: none since the event loop last turned). */
  private sliceStart = -1;
  private readonly endSlice = (): void => {
    this.sliceStart = -1;
  };
  /** Before each operation: within the slice go on at once; past it, let I/O and timers run first. */
  private readonly gate = (): Promise<void> | undefined => {
    const now = performance.now();
    if (this.sliceStart < 0) {
      this.sliceStart = now;
      setImmediate(this.endSlice);
      return undefined;
    }
    if (now - this.sliceStart < SLICE_MS) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  };

  /** Run fn after every earlier operation under `key` has settled (whether it succeeded or failed). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    // prev never rejects (tails swallow failures): the gate runs after it, then fn.
    const result = prev.then(this.gate).then(fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with operations in flight (tests and leak checks). */
  get size(): number {
    return this.tails.size;
  }
}
