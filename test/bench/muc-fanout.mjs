#!/usr/bin/env node
// MUC (XEP-0045) fan-out over real sockets: N clients join one room, then one occupant sends M groupchat
// messages; every occupant must receive every message. Prints the time of the last join (it receives N-1
// presences), and the message rate and deliveries/s of the broadcast. Usage: muc-fanout.mjs [N] [M]
// Build first (npx tsc -p tsconfig.json); timings on a shared machine are indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));

const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 50);
const ROOM = 'bench@conference.localhost';
const t = await startTestServer({ modules: { disco: {}, roster: {}, presence: {}, muc: { history_size: 0 } }, scram_iterations: 4096, limits: { exempt: ['loopback'] } });
try {
  const clients = [];
  for (let i = 0; i < N; i++) await t.addUser(`u${i}`, 'pw');
  let t0 = Date.now();
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => RawClient.login(t.c2sPort, `u${i + k}`, 'pw', 'b')));
    clients.push(...batch.map((b) => b.c));
  }
  console.log(`${N} logins: ${Date.now() - t0} ms`);
  const subject = /<subject[^>]*(?:\/>|>[^<]*<\/subject>)\s*<\/message>/;
  clients[0].send(`<presence to='${ROOM}/u0'/>`); // no <x/>: an instant room
  await clients[0].expect(subject, 30_000);
  t0 = Date.now();
  for (let i = 1; i < N - 1; i += 50) {
    const batch = clients.slice(i, Math.min(i + 50, N - 1));
    for (const [k, c] of batch.entries()) c.send(`<presence to='${ROOM}/u${i + k}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await Promise.all(batch.map((c) => c.expect(subject, 60_000)));
  }
  console.log(`${N - 1} joins: ${Date.now() - t0} ms`);
  const last = clients[N - 1];
  t0 = process.hrtime.bigint();
  last.send(`<presence to='${ROOM}/u${N - 1}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  await last.expect(subject, 60_000);
  console.log(`the ${N}th join (receives ${N - 1} presences, ${N - 1} occupants get its presence): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
  for (const c of clients) c.buffer = '';
  // let the presence broadcast of the last join drain
  await new Promise((r) => setTimeout(r, 500));
  for (const c of clients) c.buffer = '';
  t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) clients[0].send(`<message to='${ROOM}' type='groupchat' id='m${i}'><body>message ${i} to everyone</body></message>`);
  await Promise.all(clients.map((c) => c.expect(new RegExp(`id=["']m${M - 1}["']`), 120_000)));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${M} messages to ${N} occupants: ${ms.toFixed(0)} ms, ${(M / (ms / 1000)).toFixed(0)} msg/s, ${((M * N) / (ms / 1000)).toFixed(0)} deliveries/s`);
  for (const c of clients) c.close();
} finally {
  await t.stop();
}
