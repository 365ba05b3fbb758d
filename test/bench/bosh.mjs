#!/usr/bin/env node
// XMPP over BOSH (XEP-0124, XEP-0206) against c2s over TCP, in one server process (a child, LevelDB in a temp dir,
// loopback only, no shaping): chat messages/s from one session to another (a window of messages in flight).
// BOSH clients send several stanzas per request (--batch) and keep one request waiting (hold=1), as web clients do.
//
//   npx tsc -p tsconfig.json && node test/bench/bosh.mjs [--messages 20000] [--window 200] [--batch 20]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
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
  for (let i = 0; i < 4; i++) await server.core.accounts.create(Jid.of(`u${i}`, 'localhost'), 'benchpass');
  const port = (t) => server.listeners.bound.find((l) => l.type === t).port;
  process.on('message', async (m) => {
    if (m.op === 'stop') {
      await server.stop();
      process.exit(0);
    }
  });
  process.send({ c2s: port('c2s'), http: port('http') });
}

async function parent() {
  const messages = arg('messages', 20000);
  const window = arg('window', 200);
  const batch = arg('batch', 20);
  const dir = mkdtempSync(join(tmpdir(), 'xmppd-bench-bosh-'));
  const proc = fork(fileURLToPath(import.meta.url), ['--child', dir]);
  const ports = await new Promise((r) => proc.once('message', r));
  const { RawClient } = await dist('test/support/raw-client.js');
  const { BoshClient } = await dist('test/support/bosh-client.js');

  const count = (s) => { let n = 0; for (let i = s.indexOf('<body>'); i >= 0; i = s.indexOf('<body>', i + 1)) n++; return n; };
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
    c.socket.on('data', (d) => { got += count(d.toString()); });
    return { jid, send: async (t) => c.send(t), received: () => got, close: () => c.close() };
  };
  const boshSession = async (user, resource) => {
    const { c, jid } = await BoshClient.login(ports.http, 'localhost', user, 'benchpass', resource, { wait: 30, hold: 1, quiet: true });
    let got = 0;
    const raw = c.raw.bind(c);
    c.raw = async (body) => { const r = await raw(body); got += count(r.body); return r; };
    c.startPolling();
    // One request at a time besides the waiting one (the session allows hold+1 = 2).
    return { jid, send: (t) => c.send(t), received: () => got, close: () => c.close() };
  };

  const throughput = async (make) => {
    const a = await make('u0', 'a');
    const b = await make('u1', 'b');
    const run = async (n) => {
      const base = b.received();
      const t0 = process.hrtime.bigint();
      let sent = 0;
      while (b.received() - base < n) {
        if (sent < n && sent - (b.received() - base) < window) {
          let text = '';
          const k = Math.min(batch, n - sent);
          for (let i = 0; i < k; i++) text += `<message xmlns='jabber:client' to='${b.jid}' type='chat' id='m${sent + i}'><body>message number ${sent + i}</body></message>`;
          sent += k;
          await a.send(text);
        } else {
          await new Promise((r) => setImmediate(r));
        }
      }
      return n / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    await run(Math.min(2000, messages)); // warm-up
    const rate = await run(messages);
    a.close();
    b.close();
    return Math.round(rate);
  };

  const out = { messages, window, batch };
  for (let r = 1; r <= 2; r++) {
    out[`tcp_msgs_per_s_${r}`] = await throughput(tcpSession);
    out[`bosh_msgs_per_s_${r}`] = await throughput(boshSession);
  }
  console.log(JSON.stringify(out));
  const exited = new Promise((r) => proc.once('exit', r));
  proc.send({ op: 'stop' });
  await exited;
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
