#!/usr/bin/env node
// Cost of the caps cache upkeep (modules/caps/cache-upkeep.ts): an in-process server whose caps_cache holds
// R rows (a share `old` of them unused for 40 days), then one sweep through the admin command
// caps.cache_sweep: wall time, rows/s scanned, rows removed. Uses dist/ (build first); indicative on a
// shared machine. Usage: node test/bench/caps-cache-sweep.mjs [rows=100000] [old=0.5]
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { admin } = await import(new URL('test/e2e/portable-support.js', dist));

const R = Number(process.argv[2] ?? 100_000);
const OLD = Number(process.argv[3] ?? 0.5);
const DAY = 86_400_000;

const t = await startTestServer({ modules: { disco: {}, roster: {}, presence: {}, caps: {} } });
try {
  const now = Date.now();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < R; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(R, i + 1000); j++) {
      const at = j < R * OLD ? now - 40 * DAY : now - DAY;
      const features = ['http://jabber.org/protocol/disco#info', `urn:example:bench:${j}`, 'http://jabber.org/protocol/tune+notify'];
      ops.push({ type: 'put', table: 'caps_cache', key: `caps1/sha-1/bench${String(j).padStart(8, '0')}=`, value: { features, identities: [{ category: 'client', type: 'pc' }], verifiedAt: at, lastUsed: at } });
    }
    await t.server.core.store.transact(ops);
  }
  const filled = Number(process.hrtime.bigint() - t0) / 1e6;
  const s0 = process.hrtime.bigint();
  const r = await admin(t, 'caps.cache_sweep', {});
  const ms = Number(process.hrtime.bigint() - s0) / 1e6;
  const left = await t.server.core.store.table('caps_cache').count();
  console.log(`rows ${R} (filled in ${filled.toFixed(0)} ms), sweep ${ms.toFixed(0)} ms = ${(R / (ms / 1000)).toFixed(0)} rows/s scanned, removed ${r.removed}, left ${r.rows} (table count ${left})`);
} finally {
  await t.stop();
}
