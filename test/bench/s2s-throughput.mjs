#!/usr/bin/env node
// s2s (RFC 6120 server-to-server, STARTTLS + XEP-0220 dialback) throughput between two servers of the same kind
// federating on loopback — xmppd↔xmppd, ejabberd↔ejabberd, Prosody↔Prosody — with the same client code
// (lib/client.mjs): P users on a.example each send chat messages to their partner on b.example, W undelivered
// per sender (closed loop). After a warm-up, reports messages delivered/s, p50/p99 delivery latency and the two
// servers' CPU per 1000 messages. Both servers are pinned to CPU 0 (what one core does for both ends), this
// process to CPU 1. No system DNS: xmppd gets s2s.overrides; ejabberd (Erlang inetrc) and Prosody (lua-unbound)
// ask a DnsResponder in this process (test/e2e/interop/dns-responder, built into dist/) for the SRV records.
//   node test/bench/s2s-throughput.mjs [--server xmppd|ejabberd|prosody] [--pairs 50] [--window 20] [--seconds 8]
//        [--workdir /tmp/bench-fanout] [--ports xmppd=27460,...] [--json]
import { Client, args, pct, pool, wholeMessages } from './lib/client.mjs';
import { cpuSeconds, pinSelf, portsOf, setPortBases, startDns, startServer } from './lib/servers.mjs';

const A = args({ server: 'xmppd', pairs: 50, window: 20, seconds: 8, warmup: 2, workdir: '/tmp/bench-fanout', ports: '' }, ['json']);
setPortBases(A.ports);
const say = (...m) => process.stderr.write(`[s2s] ${m.join(' ')}\n`);
pinSelf('1');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DOMAINS = ['a.example', 'b.example']; // not .test: libunbound answers that special-use zone itself

const ends = DOMAINS.map((domain, instance) => ({ domain, s2sPort: portsOf(A.server, instance).s2sPort }));
const dns = A.server === 'xmppd' ? null : await startDns(ends);
const servers = [];
try {
  for (let k = 0; k < 2; k++) {
    servers.push(await startServer({ kind: A.server, workdir: A.workdir, instance: k, domain: DOMAINS[k], users: A.pairs,
      features: { s2s: true }, peers: [ends[1 - k]], dnsPort: dns?.port }));
  }
  const [sa, sb] = servers;
  const senders = Array.from({ length: A.pairs }, (_, i) => new Client({ port: sa.c2sPort, domain: sa.domain, user: `u${i}` }));
  const receivers = Array.from({ length: A.pairs }, (_, i) => new Client({ port: sb.c2sPort, domain: sb.domain, user: `u${i}` }));
  await pool(2 * A.pairs, 50, (i) => (i < A.pairs ? senders[i] : receivers[i - A.pairs]).login());
  for (const c of [...senders, ...receivers]) c.presence();
  await sleep(500);

  let measuring = false, running = true, delivered = 0, warm = 0, lastData = performance.now();
  const lat = [];
  const outstanding = new Array(A.pairs).fill(0);
  const send = (k) => {
    while (running && outstanding[k] < A.window) {
      outstanding[k]++;
      senders[k].send(`<message to='${receivers[k].jid}' type='chat'><body>t=${performance.now()} x</body></message>`);
    }
  };
  receivers.forEach((c, k) => {
    const messages = wholeMessages((d, now) => {
      let n = 0;
      for (let i = d.indexOf('<body>t='); i >= 0; i = d.indexOf('<body>t=', i + 1)) {
        n++;
        const ts = Number(d.slice(i + 8, d.indexOf(' ', i + 8)));
        if (ts < 0) warm++;
        else if (measuring) { lat.push(now - ts); delivered++; }
      }
      if (d.includes('<error')) say(`error at receiver: ${d.slice(0, 300)}`);
      outstanding[k] = Math.max(0, outstanding[k] - n);
      send(k);
    });
    c.sink = (chunk) => { lastData = performance.now(); messages(chunk); };
  });
  for (const c of senders) c.sink = (d) => { if (d.includes("type='error'") || d.includes('type="error"')) say(`bounce: ${d.slice(0, 400)}`); };

  // The first message of each pair opens (and authenticates) the s2s stream; it is not measured.
  let t0 = performance.now();
  senders.forEach((c, k) => { outstanding[k] = 1; c.send(`<message to='${receivers[k].jid}' type='chat'><body>t=-1 warm</body></message>`); });
  while (warm < A.pairs) {
    if (performance.now() - t0 > 60_000) throw new Error(`s2s not up: ${warm} of ${A.pairs} first messages arrived${servers.map((s) => (s.log ? `\n${s.log}` : '')).join('')}`);
    await sleep(20);
  }
  say(`s2s ${sa.domain} -> ${sb.domain} up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  senders.forEach((_, k) => send(k));
  await sleep(A.warmup * 1000);
  const cpu0 = servers.map((s) => cpuSeconds(s.pid));
  measuring = true;
  t0 = performance.now();
  await sleep(A.seconds * 1000);
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = servers.map((s, i) => cpuSeconds(s.pid) - cpu0[i]);
  running = false;
  if (!delivered) throw new Error('nothing delivered in the measured window');
  lat.sort((a, b) => a - b);
  const per1k = (c) => +((c * 1e6) / delivered).toFixed(1);
  const result = { bench: 's2s', server: A.server, pairs: A.pairs, window: A.window, msg_per_s: Math.round(delivered / secs), p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99),
    delivered, seconds: +secs.toFixed(2), sender_cpu_ms_per_1k: per1k(cpu[0]), receiver_cpu_ms_per_1k: per1k(cpu[1]), server_cpu_ms_per_1k: per1k(cpu[0] + cpu[1]) };
  if (A.json) console.log(JSON.stringify(result));
  else console.log(`${A.server}<->${A.server}: ${result.msg_per_s} msg/s delivered across s2s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, CPU per 1000: sending server ${result.sender_cpu_ms_per_1k} ms, receiving ${result.receiver_cpu_ms_per_1k} ms`);
  await sleep(500);
  for (const c of [...senders, ...receivers]) c.close();
} finally {
  for (const s of servers) await s.stop();
  await dns?.stop();
}
process.exit(0);
