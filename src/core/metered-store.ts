// Wraps the data layer's Store so every transaction's latency lands in the storage histogram
// (xmppd_storage_transaction_seconds); reads are not timed (they are local and hot). A write the
// store could not make (disk full, I/O error) becomes a resource-constraint stanza error, so every
// handler that passes StanzaErrors on answers it (RFC 6120 §8.3.3.18) instead of a bare internal error.
import { DataError, type Cond, type Op, type Store, type TxResult } from '../data/index.js';
import { StanzaError } from './errors.js';
import type { Metrics } from './metrics.js';

/** What a client is told; the operator's log (main.ts, onFailure) has the path and the cause. */
const REFUSED = 'the server cannot store data right now (storage failure); nothing was saved, try again later';

export function meteredStore(store: Store, metrics: Metrics): Store {
  return {
    table: (name) => store.table(name),
    async transact(ops: Op[], conds?: Cond[]): Promise<TxResult> {
      const end = metrics.txLatency.startTimer();
      try {
        return await store.transact(ops, conds);
      } catch (err) {
        if (err instanceof DataError && err.code === 'XMPPD_ERR_DATA_APPLY') {
          throw Object.assign(new StanzaError('resource-constraint', REFUSED, 'wait'), { cause: err });
        }
        throw err;
      } finally {
        end();
      }
    },
    watch: (table, cb) => store.watch(table, cb),
    watcherCount: () => store.watcherCount(),
    barrier: () => store.barrier(),
    lastApplied: () => store.lastApplied(),
    snapshot: (out, header) => store.snapshot(out, header),
    restoreSnapshot: (open, opts) => store.restoreSnapshot(open, opts),
    close: () => store.close(),
  };
}
