#!/usr/bin/env node
// Message carbons (XEP-0280) cost on the c2s message path over real sockets: bob sends alice N chat
// messages; alice has 3 sessions. Three runs: carbons not loaded, loaded with no session enabled, enabled on
// all three (each message then makes 2 <received/> copies). Prints wall time and messages/s per run.
// Build first (npx tsc -p tsconfig.json); timings on a shared machine are indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));

const N = Number(process.argv[2] ?? 2000);
const BASE = { disco: {}, ping: {}, roster: {}, presence: {}, offline: {} };

async function run(label, modules, enable) {
  const t = await startTestServer({ modules });
  try {
    await t.addUser('alice', 'pw-alice');
    await t.addUser('bob', 'pw-bob');
    const alice = [];
    for (const r of ['a1', 'a2', 'a3']) {
      const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', r, { presence: false });
      c.send(`<presence><priority>${r === 'a1' ? 1 : 0}</priority></presence>`);
      if (enable) await c.iq(`e${r}`, `<iq type='set' id='e${r}'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
      alice.push(c);
    }
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'b');
    await bob.iq('warm', "<iq type='get' id='warm' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) bob.send(`<message to='alice@localhost' type='chat' id='m${i}'><body>message ${i}</body></message>`);
    // a1 gets every original; with carbons a2 and a3 get every copy: wait for the last one everywhere.
    await Promise.all((enable ? alice : alice.slice(0, 1)).map((c) => c.expect(new RegExp(`id=["']m${N - 1}["']`), 120_000)));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`${label.padEnd(34)} ${N} messages  ${ms.toFixed(0).padStart(6)} ms  ${(N / (ms / 1000)).toFixed(0).padStart(6)} msg/s`);
    for (const c of [...alice, bob]) c.close();
  } finally {
    await t.stop();
  }
}

await run('carbons not loaded', BASE, false);
await run('carbons loaded, none enabled', { ...BASE, carbons: {} }, false);
await run('carbons enabled on 3 resources', { ...BASE, carbons: {} }, true);
