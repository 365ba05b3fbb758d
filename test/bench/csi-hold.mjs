#!/usr/bin/env node
// Client state indication (XEP-0352) cost on the c2s path over real sockets: bob sends alice N standalone
// chat states, then one message with a body. Three runs: csi not loaded; loaded with alice active (no filter
// in her outbound chain); alice inactive (each chat state judged and held, flushed every queue_size + 1 and
// by the final message). Prints wall time and stanzas/s per run, and the hold rule's cost per stanza.
// Build first (npx tsc -p tsconfig.json); timings on a shared machine are indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));
const { judge } = await import(new URL('modules/csi/urgency.js', dist));
const { parseStanza } = await import(new URL('test/support/stanza-match.js', dist));

const N = Number(process.argv[2] ?? 5000);
const BASE = { disco: {}, ping: {}, roster: {}, presence: {}, offline: {} };

async function run(label, modules, inactive) {
  const t = await startTestServer({ modules });
  try {
    await t.addUser('alice', 'pw-alice');
    await t.addUser('bob', 'pw-bob');
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'a');
    if (inactive) alice.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    await alice.iq('w', "<iq type='get' id='w' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'b');
    await bob.iq('warm', "<iq type='get' id='warm' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) bob.send(`<message to='alice@localhost/a' type='chat' id='m${i}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    bob.send("<message to='alice@localhost/a' type='chat' id='last'><body>done</body></message>");
    await alice.expect(/id=["']last["']/, 120_000);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`${label.padEnd(30)} ${N + 1} stanzas  ${ms.toFixed(0).padStart(6)} ms  ${((N + 1) / (ms / 1000)).toFixed(0).padStart(6)} stanzas/s`);
    for (const c of [alice, bob]) c.close();
  } finally {
    await t.stop();
  }
}

await run('csi not loaded', BASE, false);
await run('csi loaded, client active', { ...BASE, csi: {} }, false);
await run('csi loaded, client inactive', { ...BASE, csi: {} }, true);

const none = new Set();
for (const [label, xml] of [
  ['chat state', "<message from='b@l/b' to='a@l/a' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"],
  ['message with a body', "<message from='b@l/b' to='a@l/a' type='chat'><origin-id xmlns='urn:xmpp:sid:0' id='x'/><body>hello</body></message>"],
  ['presence update', "<presence from='b@l/b' to='a@l'><show>away</show><status>out</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>"],
]) {
  const el = parseStanza(xml);
  const M = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) judge(el, none);
  const ns = Number(process.hrtime.bigint() - t0) / M;
  console.log(`judge(${label})`.padEnd(30), `${ns.toFixed(0)} ns/stanza`);
}
