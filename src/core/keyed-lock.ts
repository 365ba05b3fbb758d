// A keyed lock: operations under one key run one at a time, in arrival order, on this process (the data
// layer's conditional writes cover other processes). One implementation for every module that needs it.

export class KeyedLock {
  /** Per key, the tail of the operations in flight; removed once the last one settles. */
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Run fn after every earlier operation under `key` has settled (whether it succeeded or failed). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
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
