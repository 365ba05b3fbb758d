#!/usr/bin/env node
// Cost of the `durability` setting: transactions/s and p50/p99 commit latency of the data layer for
// none / batch / group, with 1 and with 32 concurrent writers, on the disk under --dir (default $TMPDIR).
// Each writer commits offline-message-sized rows in a closed loop; --rates adds open-loop runs (commits
// arriving evenly at R/s from independent writers, as from many client sessions), where group commit
// shows what it saves: device flushes. Uses dist/ (npm run build first).
//   node test/bench/durability.mjs [--dir DIR] [--seconds 3] [--window 2] [--writers 1,32] [--rates 1000,4000]
//        [--modes none,batch,group]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { openStore } = await import(pathToFileURL(join(REPO, 'dist/src/data/index.js')).href);
const { blockFlushes: flushes } = await import(pathToFileURL(join(REPO, 'dist/test/unit/data/block-flushes.js')).href);

const A = {};
for (let i = 2; i < process.argv.length; i += 2) A[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const base = A.dir ?? tmpdir();
const seconds = Number(A.seconds ?? 3);
const windowMs = Number(A.window ?? 2);
const writerCounts = (A.writers ?? '1,32').split(',').map(Number);
const rates = (A.rates ?? '1000,4000').split(',').filter(Boolean).map(Number);
const modes = (A.modes ?? 'none,batch,group').split(',');

// A stored offline message is about this big (XML with a <delay/>, stamp, sender).
const BODY = 'x'.repeat(400);

const row = (w, n) => [{ type: 'put', table: 'bench', key: `w${w}/${String(n).padStart(12, '0')}`, value: { xml: BODY, stamp: new Date().toISOString(), from: `u${w}@bench.local` } }];

/** writers > 0: that many closed-loop writers; rate > 0: open loop, one commit every 1/rate s. */
async function run(mode, writers, rate = 0) {
  const dir = mkdtempSync(join(base, 'xmppd-durability-'));
  const f0 = flushes(dir);
  const store = await openStore(dir, { durability: mode, groupWindowMs: windowMs });
  const lat = [];
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  if (rate > 0) {
    const inflight = [];
    // Ticks of 1 ms; each submits the commits due by now, so arrivals are spread, not bursts per writer.
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (n < due) {
        const s = performance.now();
        inflight.push(store.transact(row(n % 1000, ++n)).then(() => lat.push(performance.now() - s)));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inflight);
  } else {
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < end) {
        const s = performance.now();
        await store.transact(row(w, ++n));
        lat.push(performance.now() - s);
      }
    }));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const f1 = flushes(dir);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { mode, writers: rate > 0 ? `open loop ${rate}/s` : writers, tx: lat.length, txPerSec: lat.length / elapsed, p50: q(0.5), p99: q(0.99), flushes: f0 === null || f1 === null ? null : f1 - f0 };
}

console.log(`data dir under ${base}; ${seconds} s per run; group window ${windowMs} ms; node ${process.version}`);
// Device flushes are machine-wide (other processes count too); a rough view of fsyncs per transaction.
console.log('| durability | writers | tx/s | p50 ms | p99 ms | device flushes / 1000 tx |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const writers of writerCounts) {
  for (const mode of modes) {
    const r = await run(mode, writers);
    const fl = r.flushes === null ? 'n/a' : Math.round((r.flushes * 1000) / r.tx);
    console.log(`| ${r.mode} | ${r.writers} | ${Math.round(r.txPerSec)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${fl} |`);
  }
}
for (const rate of rates) {
  for (const mode of modes) {
    const r = await run(mode, 0, rate);
    const fl = r.flushes === null ? 'n/a' : Math.round((r.flushes * 1000) / r.tx);
    console.log(`| ${r.mode} | ${r.writers} | ${Math.round(r.txPerSec)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${fl} |`);
  }
}
