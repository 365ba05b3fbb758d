// A digest of a replica's tables at one seq (divergence check, DESIGN.md "Data layer"): SHA-256 over the rows
// of a snapshot (key order, value and revision as stored), without the header and trailer, which carry a clock.
import { createHash } from 'node:crypto';
import type { Store } from '../types.js';

/**
 * Starts the digest of `store` as it is NOW: the LevelDB snapshot is taken synchronously in this call
 * (writeSnapshot), so rows applied after it returns are not included even while the hash is computed.
 */
export function digestNow(store: Store): Promise<string> {
  const hash = createHash('sha256');
  let writes = 0;
  let held: string | undefined;
  const out = {
    write(text: string): Promise<void> {
      // Hash each write once the next one arrives: the first is the header, the last one (held) the trailer.
      if (held !== undefined) hash.update(held);
      held = writes++ === 0 ? undefined : text;
      return Promise.resolve();
    },
  };
  return store.snapshot(out).then(() => hash.digest('hex'));
}
