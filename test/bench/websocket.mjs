#!/usr/bin/env node
// XMPP over WebSocket (RFC 7395) against c2s over plain TCP (RFC 6120), in one server process of any kind
// (xmppd, ejabberd's ejabberd_http_ws, Prosody's mod_websocket) with the same client code (lib/client.mjs):
// P pairs of sessions chat both ways, each sender keeping W messages undelivered (closed loop); after a warm-up,
// messages delivered/s and p50/p99 delivery latency over a fixed window, TCP and WS alternated twice (the best
// of each is reported); then the server's RSS growth per idle bound session at N sessions of each transport.
// Server pinned to CPU 0, this process to CPU 1.
//   node test/bench/websocket.mjs [--server xmppd|ejabberd|prosody] [--pairs 100] [--window 10] [--seconds 8]
//        [--sessions 1000] [--workdir /tmp/bench-fanout] [--ports xmppd=27460,...] [--json]
import { readFileSync } from 'node:fs';
import { Client, args, pct, pool, wholeMessages } from './lib/client.mjs';
import { cpuSeconds, pinSelf, setPortBases, startServer } from './lib/servers.mjs';

const A = args({ server: 'xmppd', pairs: 100, window: 10, seconds: 8, warmup: 2, sessions: 1000, workdir: '/tmp/bench-fanout', ports: '' }, ['json']);
setPortBases(A.ports);
const say = (...m) => process.stderr.write(`[websocket] ${m.join(' ')}\n`);
pinSelf('1');
const DOMAIN = 'bench.local';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKib = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const users = Math.max(2 * A.pairs, A.sessions);
const srv = await startServer({ kind: A.server, workdir: A.workdir, domain: DOMAIN, users, features: { ws: true } });
const client = (transport, i, resource) => new Client({ transport, port: srv.c2sPort, url: srv.wsUrl, domain: DOMAIN, user: `u${i}`, resource });

/** One closed-loop run over `transport`: delivered/s and latency percentiles in the measured window. */
async function throughput(transport) {
  const cs = Array.from({ length: 2 * A.pairs }, (_, i) => client(transport, i, `t${transport}`));
  await pool(cs.length, 50, (i) => cs[i].login());
  for (const c of cs) c.presence();
  await sleep(500);
  let measuring = false, running = true, delivered = 0;
  const lat = [];
  const outstanding = new Array(cs.length).fill(0);
  const send = (k) => {
    const c = cs[k];
    while (running && outstanding[k] < A.window) {
      outstanding[k]++;
      c.send(`<message to='${cs[k ^ 1].jid}' type='chat'><body>t=${performance.now()} x</body></message>`);
    }
  };
  cs.forEach((c, k) => {
    const messages = wholeMessages((d, now) => {
      let n = 0;
      for (let i = d.indexOf('<body>t='); i >= 0; i = d.indexOf('<body>t=', i + 1)) {
        n++;
        if (measuring) { lat.push(now - Number(d.slice(i + 8, d.indexOf(' ', i + 8)))); delivered++; }
      }
      outstanding[k ^ 1] -= n; // the partner sent these
      send(k ^ 1);
    });
    c.sink = messages;
  });
  cs.forEach((_, k) => send(k));
  await sleep(A.warmup * 1000);
  const cpu0 = cpuSeconds(srv.pid);
  measuring = true;
  const t0 = performance.now();
  await sleep(A.seconds * 1000);
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(srv.pid) - cpu0;
  running = false;
  await sleep(1000);
  for (const c of cs) c.close();
  await sleep(1000);
  lat.sort((a, b) => a - b);
  const r = { msg_per_s: Math.round(delivered / secs), p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), cpu_ms_per_1k: +((cpu * 1e6) / delivered).toFixed(1) };
  say(`${transport}: ${JSON.stringify(r)}`);
  return r;
}

/** Server RSS growth per idle session (logged in, available) at A.sessions sessions of one transport. */
async function idle(transport) {
  await sleep(2000);
  const before = rssKib(srv.pid);
  const cs = Array.from({ length: A.sessions }, (_, i) => client(transport, i, `i${transport}`));
  await pool(cs.length, 50, async (i) => { await cs[i].login(); cs[i].presence(); cs[i].sink = () => {}; });
  await sleep(3000);
  const after = rssKib(srv.pid);
  for (const c of cs) c.close();
  await sleep(2000);
  return +((after - before) / A.sessions).toFixed(1);
}

try {
  const best = {};
  for (let round = 0; round < 2; round++) {
    for (const t of ['tcp', 'ws']) {
      const r = await throughput(t);
      if (!best[t] || r.msg_per_s > best[t].msg_per_s) best[t] = r;
    }
  }
  const idleKib = A.sessions ? { tcp: await idle('tcp'), ws: await idle('ws') } : {};
  const result = { bench: 'websocket', server: A.server, pairs: A.pairs, window: A.window, msg_per_s: best.ws.msg_per_s, p50_ms: best.ws.p50_ms, p99_ms: best.ws.p99_ms,
    tcp_msg_per_s: best.tcp.msg_per_s, tcp_p50_ms: best.tcp.p50_ms, tcp_p99_ms: best.tcp.p99_ms, ws_over_tcp: +(best.ws.msg_per_s / best.tcp.msg_per_s).toFixed(2),
    ws_cpu_ms_per_1k: best.ws.cpu_ms_per_1k, tcp_cpu_ms_per_1k: best.tcp.cpu_ms_per_1k,
    ...(A.sessions ? { sessions: A.sessions, ws_idle_rss_kib: idleKib.ws, tcp_idle_rss_kib: idleKib.tcp } : {}) };
  if (A.json) console.log(JSON.stringify(result));
  else console.log(`${A.server}: WebSocket ${result.msg_per_s} msg/s (p50 ${result.p50_ms} / p99 ${result.p99_ms} ms) vs TCP ${result.tcp_msg_per_s} msg/s (p50 ${result.tcp_p50_ms} / p99 ${result.tcp_p99_ms} ms) = ${result.ws_over_tcp}x; idle RSS per session WS ${result.ws_idle_rss_kib} KiB, TCP ${result.tcp_idle_rss_kib} KiB`);
} finally {
  await srv.stop();
}
process.exit(0);
