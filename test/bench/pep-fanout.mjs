#!/usr/bin/env node
// PEP (XEP-0163) notification fan-out over real sockets, against xmppd, ejabberd or Prosody with the same client
// code (lib/client.mjs, lib/servers.mjs): alice (u0) and C contacts (u1..uC), each a real session; roster
// subscription both ways made over the wire (RFC 6121 §3), every contact's XEP-0115 caps ask "<node>+notify"
// (the server's disco#info queries are answered). Alice publishes N items, W items in flight (an item is done when
// every contact has its notification; servers answer the publish IQ before the fan-out ends, so a window on IQ
// results would only measure queueing); every contact receives every notification. Reports notifications delivered/s, p50/p99 latency from the
// publish to each delivery, and server CPU per 1000 notifications. Server pinned to CPU 0, this process to CPU 1.
//   node test/bench/pep-fanout.mjs [--server xmppd|ejabberd|prosody] [--contacts 1000] [--items 200] [--window 2]
//        [--workdir /tmp/bench-fanout] [--ports xmppd=27460,...] [--json]
import { Client, args, pct, pool, wholeMessages, wholeTags } from './lib/client.mjs';
import { cpuSeconds, pinSelf, setPortBases, startServer } from './lib/servers.mjs';

const A = args({ server: 'xmppd', contacts: 1000, items: 200, window: 2, workdir: '/tmp/bench-fanout', ports: '' }, ['json']);
setPortBases(A.ports);
const say = (...m) => process.stderr.write(`[pep-fanout] ${m.join(' ')}\n`);
pinSelf('1');
const DOMAIN = 'bench.local';
const NODE = 'http://jabber.org/protocol/tune';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** [type, bare from] of every presence in a chunk. */
function presences(d) {
  const out = [];
  for (const m of d.matchAll(/<presence\b[^>]*>/g)) {
    const type = /\btype=['"]([^'"]+)['"]/.exec(m[0])?.[1] ?? 'available';
    const from = /\bfrom=['"]([^'"/]+)/.exec(m[0])?.[1];
    out.push([type, from]);
  }
  return out;
}

const srv = await startServer({ kind: A.server, workdir: A.workdir, domain: DOMAIN, users: A.contacts + 1, features: { pep: true } });
try {
  const alice = new Client({ port: srv.c2sPort, domain: DOMAIN, user: 'u0', resource: 'pub' });
  const contacts = Array.from({ length: A.contacts }, (_, i) => new Client({ port: srv.c2sPort, domain: DOMAIN, user: `u${i + 1}` }));
  let t0 = performance.now();
  // roster fetched first, as clients do: some servers push subscription requests only to sessions that did
  await pool(contacts.length + 1, 100, async (i) => { const c = i === 0 ? alice : contacts[i - 1]; await c.login(); await c.roster(); });
  say(`${contacts.length + 1} logged in to ${A.server} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Subscription both ways: alice asks each contact, the contact approves and asks back, alice approves.
  const aliceJid = `u0@${DOMAIN}`;
  let lastData = performance.now();
  let approvedByContacts = 0, approvedByAlice = 0;
  alice.sink = wholeTags((d) => {
    lastData = performance.now();
    for (const [type, from] of presences(d)) {
      if (type === 'subscribe') alice.send(`<presence to='${from}' type='subscribed'/>`);
      else if (type === 'subscribed') approvedByContacts++;
    }
  });
  for (const c of contacts) {
    c.sink = wholeTags((d) => {
      lastData = performance.now();
      for (const [type, from] of presences(d)) {
        if (type === 'subscribe' && from === aliceJid) c.send(`<presence to='${aliceJid}' type='subscribed'/><presence to='${aliceJid}' type='subscribe'/>`);
        else if (type === 'subscribed' && from === aliceJid) approvedByAlice++;
      }
    });
  }
  alice.presence();
  for (const c of contacts) c.presence([`${NODE}+notify`]);
  t0 = performance.now();
  for (const c of contacts) alice.send(`<presence to='u${c.o.user.slice(1)}@${DOMAIN}' type='subscribe'/>`);
  while (approvedByContacts < A.contacts || approvedByAlice < A.contacts) {
    if (performance.now() - lastData > 120_000) throw new Error(`subscriptions stalled: ${approvedByContacts}/${approvedByAlice} of ${A.contacts}`);
    await sleep(50);
  }
  // Every contact announces its caps again now that alice receives its presence (the server learns them from it).
  for (const c of contacts) c.presence();
  alice.presence();
  while (performance.now() - lastData < 2000) await sleep(100);
  say(`roster both ways with ${A.contacts} contacts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Notifications carry the publish time in the payload; each contact records the latency of each one.
  const lat = [];
  let delivered = 0, results = 0, done = 0, wakeAlice = null;
  const perItem = new Array(A.items).fill(0);
  const got = new Array(contacts.length).fill(0);
  contacts.forEach((c, k) => {
    const messages = wholeMessages((d, now) => {
      for (let i = d.indexOf('<title>t='); i >= 0; i = d.indexOf('<title>t=', i + 1)) {
        const sp = d.indexOf(' ', i + 9);
        const ts = Number(d.slice(i + 9, sp));
        if (ts > 0) {
          lat.push(now - ts); delivered++; got[k]++;
          const n = Number(d.slice(sp + 1, d.indexOf('<', sp)));
          if (++perItem[n] === A.contacts) { done++; wakeAlice?.(); }
        }
      }
    });
    c.sink = (chunk) => { lastData = performance.now(); messages(chunk); };
  });
  alice.sink = (d) => {
    for (let i = d.indexOf("id='p"); i >= 0; i = d.indexOf("id='p", i + 1)) results++;
    for (let i = d.indexOf('id="p'); i >= 0; i = d.indexOf('id="p', i + 1)) results++;
    if (/type=['"]error['"]/.test(d)) say(`publish error: ${d.slice(0, 400)}`);
    wakeAlice?.();
  };
  const publish = (id, ts) => alice.send(`<iq type='set' id='${id}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${NODE}'>` +
    `<item id='${id}'><tune xmlns='${NODE}'><title>t=${ts} ${id.slice(1)}</title></tune></item></publish></pubsub></iq>`);

  // Warm-up: one item must reach every contact (caps verified, subscriptions in place) before measuring.
  publish('pw', -1); // (its title ends in "w": not counted)
  const warmStart = performance.now();
  const warmed = () => contacts.every((c, k) => got[k] > 0 || c.warm);
  contacts.forEach((c) => { const s = c.sink; c.sink = (d) => { if (d.includes('<title>t=-1 ')) c.warm = true; s(d); }; });
  while (!warmed()) {
    if (performance.now() - warmStart > 60_000) throw new Error(`warm-up notification reached ${contacts.filter((c) => c.warm).length} of ${A.contacts} contacts`);
    await sleep(50);
  }
  while (results < 1) await sleep(10);
  await sleep(500);
  results = 0;

  const total = A.items * A.contacts;
  const cpu0 = cpuSeconds(srv.pid);
  t0 = performance.now();
  for (let n = 0; n < A.items; n++) {
    while (n - done >= A.window) await new Promise((r) => { wakeAlice = r; });
    publish(`p${n}`, performance.now());
  }
  const publishedS = (performance.now() - t0) / 1000;
  while (delivered < total) {
    if (performance.now() - lastData > 30_000) throw new Error(`stalled at ${delivered} of ${total} notifications`);
    await sleep(20);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(srv.pid) - cpu0;
  lat.sort((a, b) => a - b);
  const result = { bench: `pep${A.contacts}`, server: A.server, contacts: A.contacts, msg_per_s: Math.round(delivered / secs),
    p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), items: A.items, window: A.window, delivered, seconds: +secs.toFixed(2),
    publishes_per_s: Math.round(A.items / publishedS), server_cpu_ms_per_1k: +((cpu * 1e6) / delivered).toFixed(1) };
  if (A.json) console.log(JSON.stringify(result));
  else console.log(`${A.server}: ${A.items} items to ${A.contacts} contacts -> ${delivered} notifications in ${result.seconds} s = ${result.msg_per_s}/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, server CPU ${result.server_cpu_ms_per_1k} ms per 1000`);
  for (const c of [alice, ...contacts]) c.close();
} finally {
  await srv.stop();
}
process.exit(0);
