#!/usr/bin/env node
// Cost of XEP-0313 room archiving (the mam module's room_archive service) on an in-process server with
// LevelDB on disk: appends to one room awaited one by one (as the muc module archives under the room's
// lock), appends to R rooms at once, then XEP-0059 page latency for a client querying the full archive.
//   node test/bench/room-archive.mjs [--messages 5000] [--rooms 10] [--pages 200]
// Build first (npx tsc -p tsconfig.json). Indicative figures on a shared machine.
import { performance } from 'node:perf_hooks';
import { startTestServer } from '../../dist/test/support/harness.js';
import { RawClient } from '../../dist/test/support/raw-client.js';
import { Jid } from '../../dist/src/core/jid.js';
import { xml } from '../../dist/src/sdk.js';

const A = { messages: 5000, rooms: 10, pages: 200 };
for (let i = 2; i < process.argv.length; i += 2) A[process.argv[i].replace(/^--/, '')] = Number(process.argv[i + 1]);

const host = 'localhost';
const t = await startTestServer({ modules: { disco: {}, ping: {}, mam: { room_max_messages: A.messages, max_results: 50 } } });
await t.addUser('reader', 'pw-reader', host);
const api = t.server.core.services.get(host, 'room_archive');
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const msg = (room, i) => xml('message', { from: `${room}/nick${i % 7}`, type: 'groupchat', id: `m${i}` }, xml('body', {}, `message ${i} `.padEnd(80, '.')));
const occupant = Jid.parse(`someone@${host}`);

// 1. One room, sequential (one room's messages are archived in broadcast order).
const room = Jid.parse(`bench@conference.${host}`);
const lat = [];
let t0 = performance.now();
for (let i = 0; i < A.messages; i++) {
  const s = performance.now();
  await api.append(room, msg(room.toString(), i), occupant);
  lat.push(performance.now() - s);
}
let secs = (performance.now() - t0) / 1000;
console.log(`one room, sequential: ${A.messages} appends in ${secs.toFixed(2)} s = ${Math.round(A.messages / secs)}/s; p50 ${pct(lat, 0.5).toFixed(3)} ms, p99 ${pct(lat, 0.99).toFixed(3)} ms`);

// 2. R rooms at once, each sequential.
const per = Math.floor(A.messages / A.rooms);
t0 = performance.now();
await Promise.all(Array.from({ length: A.rooms }, async (_, r) => {
  const rj = Jid.parse(`bench${r}@conference.${host}`);
  for (let i = 0; i < per; i++) await api.append(rj, msg(rj.toString(), i), occupant);
}));
secs = (performance.now() - t0) / 1000;
console.log(`${A.rooms} rooms at once: ${per * A.rooms} appends in ${secs.toFixed(2)} s = ${Math.round((per * A.rooms) / secs)}/s`);

// 3. Pages of 50 (the newest, then a page in the middle) from a full archive, answered to a real client.
const { c } = await RawClient.login(t.c2sPort, 'reader', 'pw-reader', 'bench', { host });
const reader = Jid.parse(`reader@${host}/bench`);
const qlat = [];
let n = 0;
for (let i = 0; i < A.pages; i++) {
  const before = i % 2 === 0 ? '<before/>' : '';
  const q = xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: `q${i}` });
  q.cnode(xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '50'), ...(before ? [xml('before')] : [])));
  const s = performance.now();
  await api.query(room, reader, q);
  qlat.push(performance.now() - s);
  n++;
}
console.log(`query pages of 50 from ${A.messages} messages: ${n} pages, p50 ${pct(qlat, 0.5).toFixed(2)} ms, p99 ${pct(qlat, 0.99).toFixed(2)} ms (until every result was handed to the client's session)`);
c.close();
await t.stop();
