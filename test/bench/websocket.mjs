#!/usr/bin/env node
// XMPP over WebSocket (RFC 7395) against c2s over TCP, in one server process (a child, node --expose-gc, LevelDB
// in a temp dir, loopback only, no shaping): chat messages/s between two sessions (a window of messages in
// flight, sender to receiver), and the server's memory per idle bound session at N sessions (after GC).
// TCP here is plain (no STARTTLS) so that both transports are compared without TLS.
//
//   npx tsc -p tsconfig.json && node test/bench/websocket.mjs [--messages 20000] [--window 200] [--sessions 1000]
//   node test/bench/websocket.mjs --tcp-only --repo /tmp/base    # the TCP figures of another build (before/after)
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = dirname(fileURLToPath(import.meta.url));
// --repo DIR: the server and TCP client of another checkout's build (with --tcp-only: a build without WebSocket).
const repoAt = process.argv.indexOf('--repo');
const REPO = repoAt > 0 ? resolve(process.argv[repoAt + 1]) : resolve(HERE, '../..');
const TCP_ONLY = process.argv.includes('--tcp-only');
const dist = (p) => import(pathToFileURL(join(REPO, 'dist', p)).href);
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

if (process.argv[2] === '--child') await child(process.argv[3]);
else await parent();

async function child(dir) {
  const { buildConfig } = await dist('src/core/config/load-config.js');
  const { startServer } = await dist('src/main.js');
  const { Jid } = await dist('src/core/jid.js');
  const { ensureSelfSignedCertificate } = await dist('src/interface/tls/self-signed.js');
  await ensureSelfSignedCertificate(dir, ['localhost']);
  const config = buildConfig({
    hosts: ['localhost'], data_dir: dir, control_socket: join(dir, 'ctl.sock'), log_level: 'error',
    tls: { cert: join(dir, 'self-signed.crt'), key: join(dir, 'self-signed.key') },
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s', starttls_required: false }, { port: 0, ip: '127.0.0.1', type: 'http' }],
    modules: { roster: {}, presence: {}, disco: {}, ping: {} },
    limits: { c2s: { bytes_per_second: 0 }, max_connections_per_ip: 10000, max_http_connections_per_ip: 10000, max_sessions_per_user: 0 },
    scram_iterations: 4096,
  });
  const server = await startServer(config, { controlSocket: false });
  const port = (t) => server.listeners.bound.find((l) => l.type === t).port;
  process.on('message', async (m) => {
    if (m.op === 'users') {
      for (let i = 0; i < m.n; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, m.n - i) }, (_, k) => server.core.accounts.create(Jid.of(`u${i + k}`, 'localhost'), 'benchpass')));
      }
      process.send({ ok: true });
    } else if (m.op === 'mem') {
      for (let i = 0; i < 3; i++) { global.gc(); await sleep(50); }
      const u = process.memoryUsage();
      process.send({ rss: u.rss, heap: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers, sessions: server.core.sessions.count?.() });
    } else if (m.op === 'stop') {
      await server.stop();
      process.exit(0);
    }
  });
  process.send({ c2s: port('c2s'), http: port('http') });
}

async function parent() {
  const messages = arg('messages', 20000);
  const window = arg('window', 200);
  const sessions = arg('sessions', 1000);
  const dir = mkdtempSync(join(tmpdir(), 'xmppd-bench-ws-'));
  const proc = fork(fileURLToPath(import.meta.url), ['--child', dir, ...(repoAt > 0 ? ['--repo', REPO] : [])], { execArgv: ['--expose-gc'] });
  const replies = [];
  const waiters = [];
  proc.on('message', (m) => (waiters.length ? waiters.shift()(m) : replies.push(m)));
  const reply = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((r) => waiters.push(r)));
  const ask = (m) => { proc.send(m); return reply(); };
  const ports = await reply();
  await ask({ op: 'users', n: Math.max(sessions, 4) });
  const { RawClient } = await dist('test/support/raw-client.js');
  const { wsConnect, wsLogin } = TCP_ONLY ? {} : await dist('test/support/ws-client.js');
  const wsUrl = `ws://127.0.0.1:${ports.http}/xmpp-websocket`;

  // A logged-in session that sends raw text and counts the <body> it receives.
  const tcpSession = async (user, resource) => {
    const c = await RawClient.connect(ports.c2s);
    c.openStream('localhost');
    await c.features();
    const r = await c.authScram('SCRAM-SHA-1', user, 'benchpass');
    if (!r.startsWith('<success')) throw new Error(r);
    c.openStream('localhost');
    await c.features();
    const jid = await c.bind(resource);
    let got = 0;
    c.socket.on('data', (d) => { const s = d.toString(); for (let i = s.indexOf('<body>'); i >= 0; i = s.indexOf('<body>', i + 1)) got++; });
    return { jid, send: (t) => c.send(t), received: () => got, close: () => c.close() };
  };
  const wsSession = async (user, resource) => {
    const c = await wsConnect(wsUrl);
    const jid = await wsLogin(c, 'localhost', user, 'benchpass', resource);
    let got = 0;
    c.ws.on('message', (d) => { if (d.includes('<body>')) got++; });
    return { jid, send: (t) => c.send(t), received: () => got, close: () => c.ws.terminate(), ws: c };
  };

  const throughput = async (make) => {
    const a = await make('u0', 'a');
    const b = await make('u1', 'b');
    const run = async (n) => {
      const base = b.received();
      const t0 = process.hrtime.bigint();
      let sent = 0;
      while (b.received() - base < n) {
        while (sent < n && sent - (b.received() - base) < window) {
          a.send(`<message xmlns='jabber:client' to='${b.jid}' type='chat' id='m${sent}'><body>message number ${sent}</body></message>`);
          sent++;
        }
        await new Promise((r) => setImmediate(r));
      }
      return n / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    await run(Math.min(2000, messages)); // warm-up
    const rate = await run(messages);
    a.close();
    b.close();
    return Math.round(rate);
  };

  const idle = async (make) => {
    await sleep(500);
    const before = await ask({ op: 'mem' });
    const list = [];
    for (let i = 0; i < sessions; i += 25) {
      list.push(...(await Promise.all(Array.from({ length: Math.min(25, sessions - i) }, (_, k) => make(`u${i + k}`, 'idle')))));
    }
    for (const s of list) s.send("<presence xmlns='jabber:client'/>");
    await sleep(1000);
    const after = await ask({ op: 'mem' });
    for (const s of list) s.close();
    await sleep(1500);
    const per = (k) => +((after[k] - before[k]) / sessions / 1024).toFixed(1);
    return { rss_kib: per('rss'), heap_kib: per('heap'), external_kib: per('external') };
  };

  const out = { messages, window, sessions };
  // Alternating runs, so that a busy moment on a shared machine does not land on one transport only.
  for (let r = 1; r <= 2; r++) {
    out[`tcp_msgs_per_s_${r}`] = await throughput(tcpSession);
    if (!TCP_ONLY) out[`ws_msgs_per_s_${r}`] = await throughput(wsSession);
  }
  out.tcp_idle_per_session = await idle(tcpSession);
  if (!TCP_ONLY) out.ws_idle_per_session = await idle(wsSession);
  console.log(JSON.stringify(out));
  const exited = new Promise((r) => proc.once('exit', r));
  proc.send({ op: 'stop' });
  await exited;
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
