#!/usr/bin/env node
// XEP-0045 fan-out over real sockets, against xmppd, ejabberd or Prosody with the same client code
// (lib/client.mjs, lib/servers.mjs): N accounts join one room, then S senders post M groupchat messages each
// (a window of W unreflected messages per sender); every message reaches all N occupants. Reports the join
// time, delivered messages/s, p50/p99 delivery latency and server CPU per 1000 deliveries. The server runs
// pinned to CPU 0, this process pins itself to CPU 1.
//   node test/bench/muc-fanout.mjs [--server xmppd|ejabberd|prosody] [--occupants 2000] [--senders 10]
//        [--messages 50] [--window 2] [--workdir /tmp/bench-fanout] [--ports xmppd=27460,...] [--json]
// xmppd: build first (npx tsc -p tsconfig.json). Indicative figures; see RESULTS.md for measured ones.
import { Client, args, pct, pool, wholeMessages, wholeTags } from './lib/client.mjs';
import { cpuSeconds, pinSelf, setPortBases, startServer } from './lib/servers.mjs';

const A = args({ server: 'xmppd', occupants: 2000, senders: 10, messages: 50, window: 2, workdir: '/tmp/bench-fanout', ports: '' }, ['json']);
setPortBases(A.ports);
const say = (...m) => process.stderr.write(`[muc-fanout] ${m.join(' ')}\n`);
pinSelf('1');
const DOMAIN = 'bench.local';

const srv = await startServer({ kind: A.server, workdir: A.workdir, domain: DOMAIN, users: A.occupants, features: { muc: true } });
const ROOM = `fanout@${srv.muc}`;
try {
  const clients = Array.from({ length: A.occupants }, (_, i) => new Client({ port: srv.c2sPort, domain: DOMAIN, user: `u${i}` }));
  let t0 = performance.now();
  await pool(clients.length, 100, (i) => clients[i].login());
  say(`${clients.length} logged in to ${A.server} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // The first occupant creates the room (instant room, XEP-0045 §10.1.2), the others join one after the other.
  const owner = clients[0];
  owner.send(`<presence to='${ROOM}/u0'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
  await owner.wait(/status code=['"]201['"]/);
  owner.send(`<iq type='set' id='cfg' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
  const cfg = await owner.wait(/id=['"]cfg['"]/);
  if (/type=['"]error['"]/.test(cfg)) throw new Error(`room configuration refused: ${cfg}`);
  // Each join is broadcast to everyone already inside: join i moves 2i+1 presences (the i earlier occupants to
  // the joiner, its self-presence, its presence to the i), N²-1 in all. Waiting for all of them keeps the
  // join traffic out of the message phase (else the first messages queue behind it in the room).
  let presences = 0, selves = 1, lastData = performance.now();
  for (const c of clients) {
    c.sink = wholeTags((d) => {
      lastData = performance.now();
      for (let i = d.indexOf('<presence'); i >= 0; i = d.indexOf('<presence', i + 1)) presences++;
      for (let i = d.indexOf('110'); i >= 0; i = d.indexOf('110', i + 1)) if (/code=['"]$/.test(d.slice(i - 6, i))) { selves++; c.joined = true; }
    });
  }
  const expected = A.occupants * A.occupants - 1;
  t0 = performance.now();
  for (let i = 1; i < clients.length; i++) clients[i].send(`<presence to='${ROOM}/u${i}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
  // (a server that broadcasts fewer presences ends the wait once every joiner is in and the sockets are quiet;
  // 60 s of silence ends it in any case, with the count in the log)
  for (;;) {
    const quiet = performance.now() - lastData;
    if (presences >= expected || (selves >= A.occupants && quiet > 3000)) break;
    if (quiet > 60_000) { say(`join went quiet at ${presences} of ${expected} presences, ${selves} of ${A.occupants} joined`); break; }
    await new Promise((r) => setTimeout(r, 50));
  }
  const joinS = (performance.now() - t0) / 1000;
  say(`${A.occupants} joined in ${joinS.toFixed(1)} s (${presences} of ${expected} presences, ${(presences / joinS).toFixed(0)} presences/s)`);

  // Message phase: every body carries the send time; every occupant records the latency of each copy.
  const lat = [];
  let delivered = 0;
  const senders = clients.slice(0, A.senders);
  const reflected = new Map(senders.map((c) => [c, 0]));
  const wake = new Map();
  for (const c of clients) {
    const messages = wholeMessages((d, now) => {
      for (let i = d.indexOf('<body>t='); i >= 0; i = d.indexOf('<body>t=', i + 1)) {
        const end = d.indexOf(' ', i + 8);
        lat.push(now - Number(d.slice(i + 8, end)));
        delivered++;
        if (reflected.has(c) && d.startsWith(`s${c.i} `, end + 1)) { reflected.set(c, reflected.get(c) + 1); wake.get(c)?.(); }
      }
    });
    c.sink = (chunk) => { lastData = performance.now(); messages(chunk); };
  }
  senders.forEach((c, k) => { c.i = k; });
  // (an occupant whose self-presence never came is not counted on: the JSON says how many were in)
  owner.joined = true;
  const inRoom = clients.filter((c) => c.joined).length;
  if (senders.some((c) => !c.joined)) throw new Error('a sender is not in the room');
  const total = A.senders * A.messages * inRoom;
  const cpu0 = cpuSeconds(srv.pid);
  t0 = performance.now();
  await Promise.all(senders.map(async (c) => {
    for (let m = 0; m < A.messages; m++) {
      while (m - reflected.get(c) >= A.window) {
      await new Promise((r) => { wake.set(c, r); setTimeout(r, 1000); });
      if (performance.now() - lastData > 60_000) throw new Error(`stalled: sender u${c.i} waits for its message ${reflected.get(c)} (${delivered} of ${total} deliveries)`);
    }
      c.send(`<message to='${ROOM}' type='groupchat'><body>t=${performance.now()} s${c.i} m${m}</body></message>`);
    }
  }));
  while (delivered < total) {
    if (performance.now() - lastData > 60_000) throw new Error(`stalled at ${delivered} of ${total} deliveries`);

    await new Promise((r) => setTimeout(r, 20));
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(srv.pid) - cpu0;
  lat.sort((a, b) => a - b);
  const result = { bench: `muc${A.occupants}`, server: A.server, occupants: A.occupants, in_room: inRoom, msg_per_s: Math.round(delivered / secs),
    p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), senders: A.senders, window: A.window, messages: A.senders * A.messages, delivered,
    seconds: +secs.toFixed(2), join_s: +joinS.toFixed(1), join_presences: presences, server_cpu_ms_per_1k: +((cpu * 1e6) / delivered).toFixed(1) };
  if (A.json) console.log(JSON.stringify(result));
  else console.log(`${A.server}: ${A.occupants} occupants, ${result.messages} messages -> ${delivered} deliveries in ${result.seconds} s = ${result.msg_per_s} delivered/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, server CPU ${result.server_cpu_ms_per_1k} ms per 1000 (join ${result.join_s} s)`);
  for (const c of clients) c.close();
} finally {
  await srv.stop();
}
process.exit(0);
