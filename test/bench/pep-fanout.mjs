#!/usr/bin/env node
// PEP (XEP-0163) fan-out over real sockets: alice has C contacts (subscription both), each with one client
// whose XEP-0115 caps ask "<node>+notify" (test caps provider, test/support/modules/caps_probe.ts); alice
// publishes N items one after another (each IQ awaited) and every contact's client receives every
// notification. Prints wall time, publishes/s and notifications delivered/s.
// Usage: node test/bench/pep-fanout.mjs [contacts=100] [items=200]. Build first; indicative on a shared box.
const dist = new URL('../../dist/', import.meta.url);
const { startPubsubServer, capsLogin, setContact, publishXml, iq } = await import(new URL('modules/pubsub/test-support.js', dist));

const C = Number(process.argv[2] ?? 100);
const N = Number(process.argv[3] ?? 200);
const NODE = 'http://jabber.org/protocol/tune';
const host = 'localhost';

const t = await startPubsubServer({ extra: { limits: { max_connections_per_ip: C + 10 } } });
try {
  await t.addUser('alice', 'pw-alice');
  for (let i = 0; i < C; i++) {
    await t.addUser(`c${i}`, `pw-c${i}`);
    await setContact(t, host, 'alice', `c${i}`, 'both');
    await setContact(t, host, `c${i}`, 'alice', 'both');
  }
  const clients = [];
  for (let i = 0; i < C; i++) clients.push(await capsLogin(t, `c${i}`, host, 'bench', [NODE]));
  const alice = await capsLogin(t, 'alice', host, 'pub');
  // each client counts the notifications as they arrive (the buffer is drained so it stays small)
  const counts = clients.map(() => 0);
  clients.forEach((cl, k) => {
    cl.c.socket.on('data', () => {
      const end = cl.c.buffer.lastIndexOf('</message>');
      if (end < 0) return;
      counts[k] += cl.c.buffer.slice(0, end + 10).split('</message>').length - 1;
      cl.c.buffer = cl.c.buffer.slice(end + 10);
    });
  });
  await iq(alice.c, publishXml(NODE, 'warm', "<tune xmlns='http://jabber.org/protocol/tune'><title>warm</title></tune>"), 'set');
  await new Promise((r) => setTimeout(r, 300));
  counts.fill(0);
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    await iq(alice.c, publishXml(NODE, `i${i}`, `<tune xmlns='http://jabber.org/protocol/tune'><title>song ${i}</title></tune>`), 'set');
    alice.c.buffer = '';
  }
  const published = Number(process.hrtime.bigint() - start) / 1e6;
  while (counts.some((n) => n < N)) await new Promise((r) => setTimeout(r, 5));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`contacts ${C}, items ${N}: publishing ${published.toFixed(0)} ms (${(N / (published / 1000)).toFixed(0)} publishes/s), all ${N * C} notifications delivered in ${ms.toFixed(0)} ms = ${((N * C) / (ms / 1000)).toFixed(0)} notifications/s`);
  for (const cl of [...clients, alice]) cl.c.close();
} finally {
  await t.stop();
}
