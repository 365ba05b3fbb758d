// Wraps the data layer's Store so every transaction's latency lands in the storage histogram
// (xmppd_storage_transaction_seconds); reads are not timed (they are local and hot).
import type { Cond, Op, Store, TxResult } from '../data/index.js';
import type { Metrics } from './metrics.js';

export function meteredStore(store: Store, metrics: Metrics): Store {
  return {
    table: (name) => store.table(name),
    async transact(ops: Op[], conds?: Cond[]): Promise<TxResult> {
      const end = metrics.txLatency.startTimer();
      try {
        return await store.transact(ops, conds);
      } finally {
        end();
      }
    },
    watch: (table, cb) => store.watch(table, cb),
    barrier: () => store.barrier(),
    lastApplied: () => store.lastApplied(),
    close: () => store.close(),
  };
}
