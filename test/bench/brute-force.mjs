#!/usr/bin/env node
// Password-guessing rate from one address (127.0.0.1) against an in-process server: wrong SASL PLAIN passwords
// on c2s (direct TLS, reconnecting after each stream error), wrong XEP-0114 component handshakes and wrong REST
// admin bearer tokens, each with a few concurrent workers for a fixed time; then whether the right secret is
// accepted at once. Needs a build (`npx tsc -p tsconfig.json`); run from the repository root:
//
//   node test/bench/brute-force.mjs [--seconds 5] [--workers 8] [--limits '{"auth":{...}}']
//
// "checked" counts answers the server gave after checking the secret (the guesses); "refused" counts attempts
// turned away without a check (SASL temporary-auth-failure, HTTP 429, a component stream error saying to try later).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist).href);
const { RawClient } = await import(new URL('test/support/raw-client.js', dist).href);
const { handshakeDigest } = await import(new URL('src/interface/component/component-connection.js', dist).href);

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const SECONDS = Number(arg('seconds', '5'));
const WORKERS = Number(arg('workers', '8'));
const LIMITS = arg('limits', undefined);
const TOKEN = 'bench-admin-token-0123456789abcdef';
const SECRET = 'bench-component-secret';

const t = await startTestServer({
  listen: [
    { port: 0, ip: '127.0.0.1', type: 'c2s_tls' },
    { port: 0, ip: '127.0.0.1', type: 'component' },
    { port: 0, ip: '127.0.0.1', type: 'http' },
  ],
  components: { 'gw.localhost': { secret: SECRET } },
  api_tokens: [`sha256:${createHash('sha256').update(TOKEN).digest('hex')}`],
  ...(LIMITS ? { limits: JSON.parse(LIMITS) } : {}),
});
await t.addUser('victim', 'the-right-password');

/** Run `attempt` in WORKERS loops for SECONDS; each attempt returns 'checked' | 'refused' (or throws: counted as error). */
async function hammer(attempt) {
  const counts = { checked: 0, refused: 0, errors: 0 };
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (performance.now() < end) {
      try {
        for (const r of await attempt()) counts[r]++;
      } catch (err) {
        counts.errors++;
        if (process.env.BENCH_DEBUG) console.error(err);
      }
    }
  }));
  return counts;
}

const b64 = (s) => Buffer.from(s).toString('base64');
/** SASL PLAIN; the whole <success/> or <failure>...</failure>, waiting out the longest delay. */
async function plain(c, user, password) {
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64(`\0${user}\0${password}`)}</auth>`);
  return (await c.expect(/<success\b[^>]*\/>|<success\b[\s\S]*?<\/success>|<failure\b[\s\S]*?<\/failure>/, 30_000))[0];
}

/** One c2s connection: wrong PLAIN passwords until the server ends the stream. */
async function c2sRound() {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  const out = [];
  try {
    c.openStream();
    await c.features();
    for (let i = 0; i < 3; i++) {
      const r = await plain(c, 'victim', `guess-${Math.random()}`);
      out.push(/temporary-auth-failure/.test(r) ? 'refused' : 'checked');
      if (out.at(-1) === 'refused') break;
    }
  } finally {
    c.close();
  }
  return out;
}

async function c2sRight(localAddress) {
  const t0 = performance.now();
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true, localAddress });
  c.openStream();
  await c.features();
  const r = await plain(c, 'victim', 'the-right-password');
  c.close();
  return { accepted: r.startsWith('<success'), ms: Math.round(performance.now() - t0) };
}

async function componentAttempt(secret, localAddress) {
  const c = await RawClient.connect(t.server.port('component'), { localAddress });
  try {
    c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='gw.localhost'>`);
    const header = (await c.expect(/<stream:stream\b[^>]*>/))[0];
    const id = /\bid=["']([^"']+)["']/.exec(header)?.[1] ?? '';
    c.send(`<handshake>${handshakeDigest(id, secret)}</handshake>`);
    const m = (await c.expect(/<handshake\s*\/>|<stream:error>[\s\S]*?<\/stream:error>/, 30_000))[0];
    if (m.startsWith('<handshake')) return 'accepted';
    return /try (again )?later/i.test(m) ? 'refused' : 'checked';
  } finally {
    c.close();
  }
}

const httpBase = `http://127.0.0.1:${t.server.port('http')}`;
async function httpAttempt(token) {
  const r = await fetch(`${httpBase}/api`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  return r.status;
}

const rate = (n) => (n / SECONDS).toFixed(1);
const report = {};

const c2s = await hammer(c2sRound);
report.c2s = { ...c2s, checked_per_s: rate(c2s.checked), right_password_after: await c2sRight(), from_127_0_0_2: await c2sRight('127.0.0.2') };

const comp = await hammer(async () => [await componentAttempt(`wrong-${Math.random()}`)]);
let t0 = performance.now();
const compRight = await componentAttempt(SECRET);
report.component = { ...comp, checked_per_s: rate(comp.checked), right_secret_after: { accepted: compRight === 'accepted', ms: Math.round(performance.now() - t0) } };
t0 = performance.now();
const compOther = await componentAttempt(SECRET, '127.0.0.2');
report.component.from_127_0_0_2 = { accepted: compOther === 'accepted', ms: Math.round(performance.now() - t0) };

const http = await hammer(async () => {
  const s = await httpAttempt(`wrong-${Math.random()}`);
  return [s === 429 ? 'refused' : 'checked'];
});
t0 = performance.now();
const httpRight = await httpAttempt(TOKEN);
report.http = { ...http, checked_per_s: rate(http.checked), right_token_after: { status: httpRight, ms: Math.round(performance.now() - t0) } };

console.log(JSON.stringify({ seconds: SECONDS, workers: WORKERS, limits: LIMITS ? JSON.parse(LIMITS) : 'defaults', ...report }, null, 2));
await t.stop();
process.exit(0);
