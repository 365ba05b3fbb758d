// Bounded retry of JetStream requests across leader elections: a request that times out or finds no
// responders while a stream or meta leader is being elected is sent again until `totalMs` is spent.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Errors that say "try again later" rather than "this request is wrong". */
export function transient(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: unknown; api_error?: { code?: number } };
  const text = `${e?.name ?? ''} ${e?.message ?? ''}`.toLowerCase();
  if (/maximum payload|max_payload|payload too large|message size exceeds/.test(text)) return false;
  if (/closed connection|connection closed/.test(text)) return false;
  return true;
}

export async function withRetry<T>(what: string, totalMs: number, fn: () => Promise<T>, stopped: () => boolean = () => false): Promise<T> {
  const deadline = Date.now() + totalMs;
  let wait = 100;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (stopped() || !transient(err) || Date.now() + wait > deadline) {
        throw Object.assign(new Error(`${what}: ${(err as Error)?.message ?? err}`), { cause: err });
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 1000);
    }
  }
}
