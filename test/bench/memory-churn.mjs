#!/usr/bin/env node
// Memory after load (issue 8): does the server give back what N c2s sessions took once they are gone?
// Starts xmppd in a child process (node --expose-gc, LevelDB + TLS in a temp dir, loopback only), records
// RSS / heapUsed at baseline, logs N sessions in (STARTTLS + SCRAM-SHA-256, bind, roster get, presence),
// holds them, closes them all (half with </stream:stream>, half by dropping the socket), forces GC and
// prints the figures per phase, plus the live C2SConnection / TLS socket counts after GC.
//
//   npm run build && node test/bench/memory-churn.mjs                     # 10000 sessions
//   node test/bench/memory-churn.mjs --sessions 2000 --hostile            # + hostile traffic afterwards
//   node test/bench/memory-churn.mjs --snapshots /tmp/snaps               # heap snapshots + top object deltas
//
// Options: --sessions N (10000), --batch N concurrent logins (50), --hold S seconds (5), --rounds R of
// login/close (1), --hostile (failed logins, half-open and abrupt resets, N connections), --snapshots DIR,
// --malloc-arena-max N, --glibc-tunables T (MALLOC_ARENA_MAX / GLIBC_TUNABLES for the server), --server-env K=V
// (any variable for the server only, e.g. LD_PRELOAD of another allocator), --malloc-probe (Linux + gdb: glibc's in-use vs
// held native bytes after each GC, and RSS after malloc_trim(0) at the end), --json (one JSON line at the end),
// --memory-trim-interval S (the server's memory_trim_interval; unset = its default, 60 s; 0 = no trimming).
// With trimming on, the run waits after the close for the server's own trim and records RSS after it.
// Clients bind to 127.0.1.x, 100 per address, so limits.max_connections_per_ip keeps its default.
import { fork, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const dist = (p) => import(pathToFileURL(join(REPO, 'dist', p)).href);
const MB = (n) => +(n / 1048576).toFixed(1);

if (process.argv[2] === '--child') await child(process.argv[3]);
else await parent();

// ------------------------------------------------------------------ the server process
async function child(configPath) {
  const v8 = await import('node:v8');
  const { loadConfigFile } = await dist('src/core/config/load-config.js');
  const { startServer } = await dist('src/main.js');
  const server = await startServer(loadConfigFile(configPath), { controlSocket: false });
  // Count live connection objects without a heap snapshot: every C2SConnection the listeners track and
  // every socket the c2s listener accepted goes into a FinalizationRegistry; after GC what is left is alive.
  let liveConns = 0;
  let liveSockets = 0;
  const connReg = new FinalizationRegistry(() => liveConns--);
  const sockReg = new FinalizationRegistry(() => liveSockets--);
  const add = server.listeners.connections.add.bind(server.listeners.connections);
  server.listeners.connections.add = (c) => {
    liveConns++;
    connReg.register(c, null);
    return add(c);
  };
  // TLSSockets are created by the connection on STARTTLS; count the raw sockets they wrap.
  for (const s of server.listeners.servers ?? []) {
    s.on('connection', (sock) => {
      liveSockets++;
      sockReg.register(sock, null);
    });
  }
  const gc = async () => {
    // Several rounds with turns of the event loop between them: finalizers and weak callbacks run
    // asynchronously, and objects freed by one round can release more in the next.
    for (let i = 0; i < 4; i++) {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
      await sleep(50);
    }
  };
  const stats = () => {
    const m = process.memoryUsage();
    const maps = smaps();
    const resources = process.getActiveResourcesInfo();
    const count = (t) => resources.filter((r) => r === t).length;
    return {
      rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, ...maps,
      tracked: server.listeners.connections.size,
      sessions: server.core.sessions.count(),
      perIp: server.core.limits.perIp?.size ?? -1,
      liveConns, liveSockets, trims: server.memoryTrim?.recent ?? [],
      tcp: count('TCPWrap') + count('TCPSocketWrap'), timers: count('Timeout'), immediates: count('Immediate'),
    };
  };
  process.on('message', async (m) => {
    try {
      if (m.cmd === 'stats') process.send({ id: m.id, stats: stats() });
      else if (m.cmd === 'gc') { await gc(); process.send({ id: m.id, stats: stats() }); }
      else if (m.cmd === 'snapshot') { await gc(); process.send({ id: m.id, file: v8.writeHeapSnapshot(m.file) }); }
      else if (m.cmd === 'stop') { await server.stop(); process.send({ id: m.id }); process.exit(0); }
    } catch (err) {
      process.send({ id: m.id, error: String(err?.stack ?? err) });
    }
  });
  process.send({ ready: true, port: server.port('c2s') });
}

/**
 * Where the resident memory is (Linux /proc/self/smaps, kB -> bytes): the main malloc arena ([heap], brk),
 * other anonymous mappings (V8's heap pages, glibc's per-thread arenas, large malloc'd blocks) and files.
 */
function smaps() {
  const out = { mallocHeap: 0, anon: 0, file: 0 };
  let text;
  try { text = readFileSync('/proc/self/smaps', 'utf8'); } catch { return out; }
  let kind = 'anon';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) { kind = head[1] === '[heap]' ? 'mallocHeap' : head[1] === '' || head[1].startsWith('[anon') ? 'anon' : 'file'; continue; }
    if (line.startsWith('Rss:')) out[kind] += Number(line.slice(4).trim().split(' ')[0]) * 1024;
  }
  return out;
}

// ------------------------------------------------------------------ the driver
async function parent() {
  const args = process.argv.slice(2);
  const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 && i + 1 < args.length ? args[i + 1] : def; };
  const flag = (name) => args.includes(name);
  const N = Number(opt('--sessions', 10000));
  const BATCH = Number(opt('--batch', 50));
  const HOLD = Number(opt('--hold', 5));
  const ROUNDS = Number(opt('--rounds', 1));
  const HOSTILE = flag('--hostile');
  const SNAPS = opt('--snapshots', '');
  const arenaMax = opt('--malloc-arena-max', '');
  const PROBE = flag('--malloc-probe');
  const tunables = opt('--glibc-tunables', '');
  const trimInterval = opt('--memory-trim-interval', '');
  const say = (...m) => process.stderr.write(`[memory-churn] ${m.join(' ')}\n`);
  if (!existsSync(join(REPO, 'dist/src/main.js'))) { say('dist/ is missing: npm run build first'); process.exit(1); }

  // Accounts u0..u{N-1}/benchpass, provisioned once per N (test/bench/provision.mjs) and copied per run.
  const work = join(tmpdir(), 'xmppd-memory-churn');
  const cache = join(work, `accounts-${N}`);
  if (!existsSync(join(cache, 'done'))) {
    say(`provisioning ${N} accounts (once, cached in ${cache})`);
    rmSync(cache, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [join(HERE, 'provision.mjs'), '--data-dir', cache, '--domain', 'localhost', '--users', String(N)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) { say('provisioning failed'); process.exit(1); }
    writeFileSync(join(cache, 'done'), '');
  }
  mkdirSync(work, { recursive: true });
  const dir = mkdtempSync(join(work, 'run-'));
  cpSync(cache, join(dir, 'data'), { recursive: true });
  const { ensureSelfSignedCertificate } = await dist('src/interface/tls/self-signed.js');
  await ensureSelfSignedCertificate(dir, ['localhost']);
  // The modules of config/test.yaml (what a typical deployment runs); long timeouts so that nothing
  // but the clients ends a session during the run.
  const config = {
    hosts: ['localhost'], log_level: 'error', data_dir: join(dir, 'data'), control_socket: join(dir, 'ctl.sock'),
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }],
    tls: { cert: join(dir, 'self-signed.crt'), key: join(dir, 'self-signed.key') },
    c2s_idle_timeout: 3600, c2s_negotiation_timeout: 120,
    // 100 clients share each 127.0.1.x address: the brute-force throttle must not count them as one guesser.
    limits: { auth: { failures_before_delay: 1000, max_failures_per_ip: 0 } },
    modules: Object.fromEntries(['disco', 'ping', 'version', 'time', 'roster', 'presence', 'offline', 'vcard', 'private', 'last', 'blocking', 'mam'].map((m) => [m, {}])),
  };
  if (trimInterval !== '') config.memory_trim_interval = Number(trimInterval);
  const cfgPath = join(dir, 'xmppd.yaml');
  writeFileSync(cfgPath, JSON.stringify(config, null, 2)); // JSON is YAML

  const env = { ...process.env };
  if (arenaMax) env.MALLOC_ARENA_MAX = arenaMax;
  if (tunables) env.GLIBC_TUNABLES = tunables;
  // --server-env K=V (repeatable), e.g. LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
  const serverEnv = args.flatMap((a, i) => (a === '--server-env' && args[i + 1] ? [args[i + 1]] : []));
  for (const kv of serverEnv) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  // MEMORY_CHURN_WRAP="heaptrack -o /tmp/ht" runs the server under a tool (which then runs node itself).
  const wrap = (process.env.MEMORY_CHURN_WRAP ?? '').split(' ').filter(Boolean);
  const srv = fork(fileURLToPath(import.meta.url), ['--child', cfgPath], {
    env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    ...(wrap.length ? { execPath: wrap[0], execArgv: [...wrap.slice(1), process.execPath, '--expose-gc'] } : { execArgv: ['--expose-gc'] }),
  });
  // The server's stderr passes through; glibc's malloc_stats() output (--malloc-probe) is picked out of it.
  let errText = '';
  srv.stderr.on('data', (d) => {
    errText = (errText + d).slice(-65536);
    // malloc_stats() output is summarised by record(), not shown.
    const shown = String(d).split('\n').filter((l) => !/^(Arena \d+:|Total \(incl|system bytes|in use bytes|max mmap)/.test(l)).join('\n');
    if (shown.trim()) process.stderr.write(shown.endsWith('\n') ? shown : shown + '\n');
  });
  const port = await new Promise((res, rej) => {
    srv.once('message', (m) => (m.ready ? res(m.port) : rej(new Error('server did not start'))));
    srv.once('exit', (code) => rej(new Error(`server exited with ${code}`)));
  });
  let nextId = 0;
  const pending = new Map();
  srv.on('message', (m) => { const p = pending.get(m.id); if (p) { pending.delete(m.id); m.error ? p.rej(new Error(m.error)) : p.res(m); } });
  const ask = (cmd, extra = {}) => new Promise((res, rej) => { const id = ++nextId; pending.set(id, { res, rej }); srv.send({ cmd, id, ...extra }); });

  const { RawClient } = await dist('test/support/raw-client.js');
  // RST (SO_LINGER 0) on the TCP socket under a client's TLS layer, if any.
  const reset = (sock) => (sock._parent ?? sock).resetAndDestroy();
  const localAddress = (i) => `127.0.1.${1 + Math.floor(i / 100) % 250}`;
  const rows = [];
  const trimsSeen = [];
  let lastTrimSeen = 0;
  /**
   * --malloc-probe (Linux, gdb): glibc's own account of the server's native heap, asked with gdb attached
   * for a moment. "in use" is what is allocated (a native leak grows it); "system" is what malloc holds
   * from the OS (freed but kept, e.g. by fragmentation, is the difference).
   */
  const gdb = (expr) => spawnSync('gdb', ['-p', String(srv.pid), '-batch', '-nx', '-ex', `call ${expr}`], { encoding: 'utf8' });
  const mallocStats = async () => {
    if (!PROBE) return {};
    errText = '';
    const r = gdb('(void)malloc_stats()');
    if (r.status !== 0) { say(`gdb failed: ${r.stderr.slice(0, 300)}`); return {}; }
    for (let i = 0; i < 50; i++) {
      const total = /Total \(incl\. mmap\):\s*system bytes\s*=\s*(\d+)\s*in use bytes\s*=\s*(\d+)/.exec(errText);
      if (total) return { malloc_system_mb: MB(Number(total[1])), malloc_in_use_mb: MB(Number(total[2])) };
      await sleep(100);
    }
    return {};
  };
  const record = async (phase, gc = false) => {
    const { stats: s } = await ask(gc ? 'gc' : 'stats');
    const probe = gc ? await mallocStats() : {};
    const row = { phase, gc, rss_mb: MB(s.rss), heap_used_mb: MB(s.heapUsed), heap_total_mb: MB(s.heapTotal), external_mb: MB(s.external),
      malloc_heap_mb: MB(s.mallocHeap), anon_mb: MB(s.anon), file_mb: MB(s.file),
      array_buffers_mb: MB(s.arrayBuffers), tracked: s.tracked, sessions: s.sessions, per_ip: s.perIp, live_conns: s.liveConns,
      live_sockets: s.liveSockets, tcp_handles: s.tcp, timers: s.timers };
    Object.assign(row, probe);
    row.trims = s.trims.length;
    rows.push(row);
    for (const t of s.trims.filter((t) => t.at > lastTrimSeen)) {
      say(`${''.padEnd(32)}server trim (${t.reason}): ${(t.seconds * 1000).toFixed(1)} ms (event loop held up ${((t.loopDelaySeconds ?? t.seconds) * 1000).toFixed(1)} ms at most), rss ${MB(t.rssBefore)} -> ${MB(t.rssAfter)} MB`);
      trimsSeen.push(t);
      lastTrimSeen = t.at;
    }
    if (probe.malloc_system_mb !== undefined) say(`${''.padEnd(32)}malloc: system ${probe.malloc_system_mb} MB, in use ${probe.malloc_in_use_mb} MB`);
    say(`${phase.padEnd(28)} ${gc ? 'gc ' : '   '} rss ${String(row.rss_mb).padStart(7)} MB  heapUsed ${String(row.heap_used_mb).padStart(6)} / ${String(row.heap_total_mb).padStart(6)} MB  [heap] ${String(row.malloc_heap_mb).padStart(6)} anon ${String(row.anon_mb).padStart(6)} MB  conns ${row.tracked} sessions ${row.sessions} perIp ${row.per_ip} live conns/sockets ${row.live_conns}/${row.live_sockets} tcp ${row.tcp_handles} ref'd timers ${row.timers}`);
    return s;
  };
  const snapshot = async (name) => {
    if (!SNAPS) return null;
    mkdirSync(SNAPS, { recursive: true });
    const { file } = await ask('snapshot', { file: join(SNAPS, `${name}.heapsnapshot`) });
    say(`heap snapshot ${file}`);
    return file;
  };
  const settle = async (what) => {
    for (let i = 0; i < 600; i++) {
      const { stats: s } = await ask('stats');
      if (s.tracked === 0 && s.sessions === 0) return;
      await sleep(100);
    }
    say(`warning: ${what}: connections still tracked after 60 s`);
  };
  /** Runs fn(i) for i in [0, n) with at most `batch` at a time; returns the number that failed. */
  const pool = async (n, batch, fn) => {
    let next = 0;
    let failed = 0;
    let firstErr = null;
    await Promise.all(Array.from({ length: Math.min(batch, n) }, async () => {
      for (let i; (i = next++) < n;) {
        try { await fn(i); } catch (err) { failed++; firstErr ??= err; }
      }
    }));
    if (failed) say(`${failed}/${n} failed; first: ${firstErr?.message ?? firstErr}`);
    return failed;
  };

  await record('baseline', true);
  const snapBase = await snapshot('baseline');
  const started = Date.now();
  for (let round = 1; round <= ROUNDS; round++) {
    const tag = ROUNDS > 1 ? ` (round ${round})` : '';
    const clients = new Array(N);
    const t0 = Date.now();
    await pool(N, BATCH, async (i) => {
      const { c } = await RawClient.login(port, `u${i}`, 'benchpass', 'churn', { localAddress: localAddress(i) });
      await c.iq('r1', "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
      c.buffer = ''; // the client keeps nothing it does not need
      clients[i] = c;
    });
    say(`${N} logins in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await record(`peak: ${N} sessions${tag}`);
    await sleep(HOLD * 1000);
    await record(`held ${HOLD} s${tag}`, true);
    // Half say goodbye properly, half just vanish (TCP close without </stream:stream>).
    clients.forEach((c, i) => { if (!c) return; if (i % 2) c.close(); else c.send('</stream:stream>'); });
    await settle('after close');
    clients.forEach((c) => c?.close());
    clients.length = 0;
    await record(`all closed${tag}`);
    await record(`all closed${tag}`, true);
  }
  const closedAt = Date.now();
  await sleep(10_000);
  await record('closed + 10 s', true);
  if (trimInterval !== '0') {
    // The server's trimmer checks every memory_trim_interval seconds: wait for its first trim after the close.
    const waitS = (trimInterval === '' ? 60 : Number(trimInterval)) + 10;
    for (let i = 0; i < waitS * 2 && !trimsSeen.concat((await ask('stats')).stats.trims).some((t) => t.at > closedAt); i++) await sleep(500);
    await record('after the server\'s trim', true);
  }
  if (PROBE) {
    // What malloc_trim(0) gives back is memory glibc kept although nothing uses it.
    gdb('(int)malloc_trim(0)');
    await record('after malloc_trim(0)', true);
  }
  const snapAfter = await snapshot('after-close');

  if (HOSTILE) {
    const H = N;
    const t0 = Date.now();
    const held = [];
    // Four kinds, N/4 each, over the same 127.0.1.x addresses:
    await pool(H, BATCH, async (i) => {
      const kind = i % 4;
      const c = await RawClient.connect(port, { localAddress: localAddress(i) });
      c.openStream();
      await c.features();
      if (kind === 0) {
        // failed logins until the server gives up on us (sasl_max_failures)
        await c.starttls();
        c.openStream();
        await c.features();
        for (let k = 0; k < 3 && !c.closed; k++) await c.authScram('SCRAM-SHA-256', `u${i}`, 'wrong').catch(() => {});
        c.close();
      } else if (kind === 1) {
        // half-open: a stanza cut in half after STARTTLS, then silence (held until the end)
        await c.starttls();
        c.send("<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mech");
        held.push(c);
      } else if (kind === 2) {
        // <proceed/> then no TLS handshake at all (held), or a handshake abandoned half-way
        c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await c.expect(/<proceed/);
        if (i % 8 === 2) held.push(c);
        else {
          const t = tlsConnect({ socket: c.socket, rejectUnauthorized: false });
          t.on('error', () => {});
          await new Promise((r) => t.once('secureConnect', r));
          reset(t);
        }
      } else {
        // a full session reset abruptly (RST) right after presence
        c.close();
        const { c: s } = await RawClient.login(port, `u${i}`, 'benchpass', 'reset', { localAddress: localAddress(i) });
        reset(s.socket);
      }
    });
    // plus raw garbage and bare TCP connects that never speak
    await pool(Math.floor(H / 4), BATCH, async (i) => {
      const s = netConnect({ port, host: '127.0.0.1', localAddress: localAddress(i) });
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      if (i % 2) s.write(Buffer.from([0x3c, 0xff, 0xfe, 0x00, 0x16, 0x03]));
      else held.push({ socket: s });
    });
    say(`hostile: ${H + Math.floor(H / 4)} connections in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${held.length} held open`);
    await record('hostile: half-open held');
    for (const c of held) reset(c.socket);
    await settle('after hostile');
    await record('hostile: all reset', true);
    await sleep(10_000);
    await record('hostile: + 10 s', true);
    await snapshot('after-hostile');
  }
  const elapsed = (Date.now() - started) / 1000;
  await ask('stop');
  srv.kill();
  rmSync(dir, { recursive: true, force: true });

  const base = rows[0];
  const peak = rows.reduce((a, r) => (r.rss_mb > a.rss_mb ? r : a), base);
  const last = rows.at(-1);
  say(`summary: rss ${base.rss_mb} -> peak ${peak.rss_mb} -> ${last.rss_mb} MB; heapUsed ${base.heap_used_mb} -> ${Math.max(...rows.map((r) => r.heap_used_mb))} -> ${last.heap_used_mb} MB; live connections after GC ${last.live_conns}; ${elapsed.toFixed(0)} s`);
  if (SNAPS && snapBase && snapAfter) {
    say(`objects by constructor, ${snapBase} -> ${snapAfter} (largest increases):`);
    const a = countByName(snapBase);
    const b = countByName(snapAfter);
    const deltas = [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]).filter(([, d]) => d > 0).sort((x, y) => y[1] - x[1]).slice(0, 25);
    for (const [k, d] of deltas) say(`  +${String(d).padStart(7)}  ${k}`);
  }
  if (flag('--json')) process.stdout.write(JSON.stringify({ trims: trimsSeen, sessions: N, rounds: ROUNDS, hostile: HOSTILE, malloc_arena_max: arenaMax || null, glibc_tunables: tunables || null, server_env: serverEnv, rows }) + '\n');
}

/** Object counts by constructor name in a V8 heap snapshot (type "object" nodes only). */
function countByName(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const out = new Map();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    if (types[snap.nodes[i + iType]] !== 'object') continue;
    const name = snap.strings[snap.nodes[i + iName]];
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}
