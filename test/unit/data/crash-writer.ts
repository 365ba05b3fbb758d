// Child process for crash.test.ts: opens the store in $XMPPD_CRASH_DIR and writes multi-op
// transactions in bursts until it is SIGKILLed. Does nothing when run without that variable
// (e.g. picked up by `node --test` on the whole directory).
import { openStore, type Durability, type Op } from '../../../src/data/index.js';

export const KEYS = 10;
export const BURST = 8;

async function main(dir: string): Promise<void> {
  // $XMPPD_CRASH_DURABILITY: none (default) | batch | group (2 ms window).
  const store = await openStore(dir, { durability: (process.env.XMPPD_CRASH_DURABILITY ?? 'none') as Durability });
  let n = ((await store.table<number>('crash').get('counter'))?.value ?? 0);
  if (n !== store.lastApplied()) throw new Error(`counter ${n} != lastApplied ${store.lastApplied()}`);
  let announced = false;
  for (;;) {
    // A burst of concurrent transactions: seq = call order, so transaction n gets seq n.
    const burst = Array.from({ length: BURST }, () => {
      const m = ++n;
      const ops: Op[] = [];
      for (let k = 0; k < KEYS; k++) ops.push({ type: 'put', table: 'crash', key: `k${k}`, value: m });
      ops.push({ type: 'put', table: 'crash_log', key: String(m).padStart(10, '0'), value: m });
      ops.push({ type: 'put', table: 'crash', key: 'counter', value: m });
      return store.transact(ops).then((r) => {
        if (!r.ok || r.seq !== m) throw new Error(`transaction ${m} got ${JSON.stringify(r)}`);
      });
    });
    await Promise.all(burst);
    if (!announced) {
      announced = true;
      process.stdout.write('ready\n');
    }
  }
}

const dir = process.env.XMPPD_CRASH_DIR;
if (dir !== undefined) {
  main(dir).catch((err: unknown) => {
    console.error(err);
    process.exit(3);
  });
}
