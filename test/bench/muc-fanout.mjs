#!/usr/bin/env node
// XEP-0045 fan-out over real sockets: N accounts join one room, then S senders post M groupchat messages
// each (a window of W unreflected messages per sender); every message reaches all N occupants. Prints the
// join time, delivered messages/s and p50/p99 delivery latency. The server runs in its own process pinned to
// CPU 0 (taskset), the clients here (run this script pinned to CPU 1: taskset -c 1 node ...).
//   node test/bench/muc-fanout.mjs [--occupants 2000] [--senders 10] [--messages 50] [--window 2] [--keep]
// Build first (npx tsc -p tsconfig.json). Indicative figures; see RESULTS.md for measured ones.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const A = { occupants: 2000, senders: 10, messages: 50, window: 2, port: 27322 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (k === 'keep') A.keep = true;
  else A[k] = Number(process.argv[++i]);
}
const DOMAIN = 'bench.local';
const ROOM = `fanout@conference.${DOMAIN}`;
const say = (...m) => process.stderr.write(`[muc-fanout] ${m.join(' ')}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'xmppd-muc-bench-'));
const dataDir = join(tmp, 'data');
say(`provisioning ${A.occupants} accounts in ${dataDir}`);
const prov = spawnSync(process.execPath, [join(HERE, 'provision.mjs'), '--data-dir', dataDir, '--domain', DOMAIN, '--users', String(A.occupants),
  '--iterations', '4096', '--concurrency', '16'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (prov.status !== 0) throw new Error('provisioning failed');
const cfg = join(tmp, 'xmppd.yaml');
writeFileSync(cfg, [
  `hosts: [${DOMAIN}]`,
  `data_dir: ${dataDir}`,
  'log_level: warn',
  `listen: [{ type: c2s, ip: 127.0.0.1, port: ${A.port}, starttls_required: false }]`,
  `max_send_queue: ${256 * 1024 * 1024}`,
  'c2s_idle_timeout: 3600',
  'modules: { disco: {}, roster: {}, presence: {}, muc: { history_size: 0 } }',
  'limits: { c2s: { bytes_per_second: 0, stanzas_per_second: 0 }, max_connections_per_ip: 0, max_sessions_per_user: 0 }',
  '',
].join('\n'));
// BENCH_CPU_PROF=DIR: the server runs under node --cpu-prof (see cpuprofile-top.mjs).
const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
const server = spawn('taskset', ['-c', '0', process.execPath, ...prof, join(REPO, 'bin/xmppd.js'), 'start', '-c', cfg], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
const stopServer = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ } };
process.on('exit', () => { stopServer(); if (!A.keep) rmSync(tmp, { recursive: true, force: true }); });

/** A lean client: SCRAM-SHA-1 over plain TCP (the server offers PLAIN only under TLS), bind, then it only counts what arrives. */
class Client {
  constructor(i) { this.i = i; this.user = `u${i}`; this.buf = ''; this.waiters = []; this.onData = null; }
  open() {
    return new Promise((res, rej) => {
      this.sock = connect(A.port, '127.0.0.1', res);
      this.sock.setEncoding('utf8');
      this.sock.on('error', rej);
      this.sock.on('data', (d) => {
        if (this.onData) return this.onData(d);
        this.buf += d;
        for (const w of [...this.waiters]) if (w.re.test(this.buf)) { this.waiters.splice(this.waiters.indexOf(w), 1); const b = this.buf; this.buf = ''; w.res(b); }
      });
    });
  }
  wait(re) { return new Promise((res) => { if (re.test(this.buf)) { const b = this.buf; this.buf = ''; return res(b); } this.waiters.push({ re, res }); }); }
  send(s) { this.sock.write(s); }
  stream() { this.send(`<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`); }
  async login() {
    await this.open();
    this.stream();
    await this.wait(/<\/stream:features>/);
    const nonce = randomBytes(12).toString('base64');
    const bare = `n=${this.user},r=${nonce}`;
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from(`n,,${bare}`).toString('base64')}</auth>`);
    const first = Buffer.from(/<challenge[^>]*>([^<]*)</.exec(await this.wait(/<\/challenge>/))[1], 'base64').toString();
    const f = Object.fromEntries(first.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const salted = await new Promise((res, rej) => pbkdf2('benchpass', Buffer.from(f.s, 'base64'), Number(f.i), 20, 'sha1', (e, k) => (e ? rej(e) : res(k))));
    const withoutProof = `c=biws,r=${f.r}`;
    const auth = `${bare},${first},${withoutProof}`;
    const clientKey = createHmac('sha1', salted).update('Client Key').digest();
    const sig = createHmac('sha1', createHash('sha1').update(clientKey).digest()).update(auth).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString('base64');
    this.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof}`).toString('base64')}</response>`);
    await this.wait(/<success/);
    this.stream();
    await this.wait(/<\/stream:features>/);
    this.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
    await this.wait(/id=['"]b['"]/);
  }
}

async function pool(n, conc, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { for (let i; (i = next++) < n;) await fn(i); }));
}

await new Promise((r) => setTimeout(r, 1500));
for (let tries = 0; ; tries++) {
  try { const c = new Client(0); await c.open(); c.sock.destroy(); break; } catch { if (tries > 100) throw new Error('server did not start'); await new Promise((r) => setTimeout(r, 200)); }
}
const clients = Array.from({ length: A.occupants }, (_, i) => new Client(i));
let t0 = performance.now();
await pool(clients.length, 100, (i) => clients[i].login());
say(`${clients.length} logged in in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// The first occupant creates the room (instant room), the others join one after the other: each join is
// broadcast to everyone already inside, so the join phase moves N² presences.
const owner = clients[0];
owner.send(`<presence to='${ROOM}/u0'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
await owner.wait(/status code=['"]201['"]/);
owner.send(`<iq type='set' id='cfg' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
await owner.wait(/id=['"]cfg['"]/);
let presences = 0;
for (const c of clients) { c.onData = (d) => { presences += count(d, '<presence'); }; }
function count(s, needle) { let n = 0, i = -1; while ((i = s.indexOf(needle, i + 1)) >= 0) n++; return n; }
t0 = performance.now();
// Join i (of N-1) moves 2i+1: the i earlier occupants to the joiner, its own (self-presence), and its to the i.
// (Counting only half of them started the message phase while the server still worked through the joins:
// the first messages queued behind them in the room and their copies showed as seconds-late deliveries.)
const expectedPresences = A.occupants * A.occupants - 1;
for (let i = 1; i < clients.length; i++) clients[i].send(`<presence to='${ROOM}/u${i}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
while (presences < expectedPresences) await new Promise((r) => setTimeout(r, 50));
const joinS = (performance.now() - t0) / 1000;
say(`${A.occupants} joined in ${joinS.toFixed(1)} s (${presences} presences, ${(presences / joinS).toFixed(0)} presences/s)`);

// Message phase: every body carries the send time; every occupant records the latency of each copy.
const lat = [];
let delivered = 0;
const senders = clients.slice(0, A.senders);
const reflected = new Map(senders.map((c) => [c, 0]));
const wake = new Map();
for (const c of clients) {
  let carry = '';
  c.onData = (chunk) => {
    // A TCP read may end inside a stanza: count whole messages only, keep the rest for the next read.
    const all = carry + chunk;
    const cut = all.lastIndexOf('</message>') + 10;
    if (cut < 10) { carry = all; return; }
    const d = all.slice(0, cut);
    carry = all.slice(cut);
    let i = -1;
    const now = performance.now();
    while ((i = d.indexOf('<body>t=', i + 1)) >= 0) {
      const end = d.indexOf(' ', i + 8);
      lat.push(now - Number(d.slice(i + 8, end)));
      delivered++;
      if (reflected.has(c) && d.startsWith(`s${c.i} `, end + 1)) { reflected.set(c, reflected.get(c) + 1); wake.get(c)?.(); }
    }
  };
}
const total = A.senders * A.messages * A.occupants;
t0 = performance.now();
await Promise.all(senders.map(async (c) => {
  for (let m = 0; m < A.messages; m++) {
    while (m - reflected.get(c) >= A.window) await new Promise((r) => wake.set(c, r));
    c.send(`<message to='${ROOM}' type='groupchat'><body>t=${performance.now()} s${c.i} m${m}</body></message>`);
  }
}));
while (delivered < total) await new Promise((r) => setTimeout(r, 20));
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(1);
const result = { occupants: A.occupants, senders: A.senders, messages: A.senders * A.messages, delivered, seconds: +secs.toFixed(2),
  delivered_per_s: Math.round(delivered / secs), p50_ms: +pct(0.5), p99_ms: +pct(0.99), join_s: +joinS.toFixed(1) };
console.log(JSON.stringify(result));
for (const c of clients) c.sock.destroy();
stopServer();
process.exit(0);
