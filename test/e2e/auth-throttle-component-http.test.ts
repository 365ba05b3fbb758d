// Brute-force throttling (limits.auth) of XEP-0114 component handshakes and admin API bearer tokens over real
// sockets: wrong secrets from one address are answered late, then lock the address — the right secret is
// refused unchecked (component: not-authorized stream error saying to try later; REST: 429 with Retry-After)
// — while another address (127.0.0.2) still gets in, and the lock expires.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { handshakeDigest } from '../../src/interface/component/component-connection.js';
import type { ComponentRegistry } from '../../src/interface/component/component-registry.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';

const SECRET = 'gw-secret-0123';
const TOKEN = 'an-admin-token-for-the-throttle-tests-0123456789';
const AUTH = {
  failures_before_delay: 1, delay_ms: 300, max_delay_ms: 600, max_failures_per_ip: 3,
  lock_seconds: 2, max_lock_seconds: 4, failure_decay_seconds: 600, max_tracked: 1000,
};

let t: TestServer;
const clients: RawClient[] = [];
before(async () => {
  t = await startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'component' },
      { port: 0, ip: '127.0.0.1', type: 'http' },
    ],
    components: { 'gw.localhost': { secret: SECRET } },
    api_tokens: [`sha256:${createHash('sha256').update(TOKEN).digest('hex')}`],
    limits: { auth: AUTH },
  });
});
after(async () => {
  for (const c of clients) c.close();
  await t.stop();
});

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await t.server.core.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

/** A component stream for gw.localhost from `localAddress`, handshake sent: the server's answer. */
async function handshake(secret: string, localAddress = '127.0.0.1'): Promise<{ c: RawClient; answer: string }> {
  const c = await RawClient.connect(t.server.port('component'), { localAddress });
  clients.push(c);
  c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='gw.localhost'>`);
  const header = (await c.expect(/<stream:stream\b[^>]*>/))[0];
  const id = /\bid=["']([^"']+)["']/.exec(header)![1]!;
  c.send(`<handshake>${handshakeDigest(id, secret)}</handshake>`);
  return { c, answer: (await c.expect(/<handshake\s*\/>|<stream:error>[\s\S]*?<\/stream:error>/, 10_000))[0] };
}

const WRONG = /^<stream:error><not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>the handshake does not match the secret<\/text>/;
const LOCKED = /^<stream:error><not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>too many failed handshakes from your address; try again later \(in \d+ s\)<\/text>/;

test('component handshakes: wrong secrets lock the address, the right one is refused there but accepted from another address; the lock expires', async () => {
  assert.match((await handshake('wrong-1')).answer, WRONG);
  const start = Date.now();
  assert.match((await handshake('wrong-2')).answer, WRONG);
  assert.ok(Date.now() - start >= AUTH.delay_ms - 20, 'the second wrong handshake is answered only after delay_ms');
  assert.match((await handshake('wrong-3')).answer, WRONG);
  assert.match((await handshake(SECRET)).answer, LOCKED, 'locked: the right secret is not even looked at');
  assert.equal(await counter('xmppd_auth_failures_total', { kind: 'component' }), 3);
  assert.equal(await counter('xmppd_auth_throttled_total', { kind: 'component', scope: 'ip', action: 'locked' }), 1);
  assert.equal(await counter('xmppd_auth_throttled_total', { kind: 'component', scope: 'account', action: 'delayed' }), 2);

  // From 127.0.0.2 the component connects (its domain is delayed on failures, never locked).
  const other = await handshake(SECRET, '127.0.0.2');
  assert.match(other.answer, /^<handshake\s*\/>/);
  other.c.close();
  const registry = t.server.core.router.components as ComponentRegistry;
  await until(() => registry.list().length === 0, 'the component from 127.0.0.2 is gone');

  await new Promise((r) => setTimeout(r, AUTH.lock_seconds * 1000 + 100));
  assert.match((await handshake(SECRET)).answer, /^<handshake\s*\/>/, 'after the lock the right secret works from 127.0.0.1');
});

/** GET /api with a bearer token from `localAddress`: status, Retry-After and body. */
function api(token: string, localAddress = '127.0.0.1'): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: t.server.port('http'), path: '/api', localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('admin API tokens: wrong tokens lock the address (429 with Retry-After, even for the right token); another address gets in; the lock expires', async () => {
  const from = '127.0.0.3'; // an address of its own: the component test's lock is another kind anyway
  assert.equal((await api('wrong-token-1', from)).status, 401);
  const start = Date.now();
  assert.equal((await api('wrong-token-2', from)).status, 401);
  assert.ok(Date.now() - start >= AUTH.delay_ms - 20, 'the second wrong token is answered only after delay_ms');
  assert.equal((await api('wrong-token-3', from)).status, 401);
  const locked = await api(TOKEN, from);
  assert.equal(locked.status, 429);
  assert.equal(locked.retryAfter, String(AUTH.lock_seconds));
  assert.match(locked.body, /too many failed attempts from your address; try again in 2 s/);
  assert.equal(await counter('xmppd_auth_failures_total', { kind: 'http' }), 3);
  assert.equal(await counter('xmppd_auth_throttled_total', { kind: 'http', scope: 'ip', action: 'refused' }), 1);

  assert.equal((await api(TOKEN, '127.0.0.4')).status, 200, 'another address is not locked');
  await new Promise((r) => setTimeout(r, AUTH.lock_seconds * 1000 + 100));
  assert.equal((await api(TOKEN, from)).status, 200, 'after the lock the right token works again');
});
