// Brute-force throttling of c2s SASL (limits.auth) over real sockets: wrong passwords from one address are
// answered late and then lock that address — new connections are refused with <temporary-auth-failure/>
// before any credential is looked at, even the right password — while the user still logs in from another
// address (127.0.0.2); the lock expires, failures decay, exempt addresses are never locked, and failures
// are logged with kind, account, ip and delay but never the password.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { Logger } from '../../src/core/log.js';

const servers: TestServer[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

const AUTH = {
  failures_before_delay: 1, delay_ms: 300, max_delay_ms: 600, max_failures_per_ip: 4,
  lock_seconds: 2, max_lock_seconds: 4, failure_decay_seconds: 600, max_tracked: 1000,
};

async function server(auth: Record<string, unknown>, extra: Record<string, unknown> = {}, log?: Logger): Promise<TestServer> {
  const t = await startTestServer({ limits: { auth, ...extra } }, log ? { log } : {});
  servers.push(t);
  await t.addUser('alice', 'alice-right-password');
  return t;
}

/** A TLS-protected stream from `localAddress`, ready for SASL. */
async function secured(t: TestServer, localAddress = '127.0.0.1'): Promise<RawClient> {
  const c = await RawClient.secured(t.c2sPort, { localAddress });
  clients.push(c);
  return c;
}

/** The whole <failure>...</failure> (or <success/>) answering a PLAIN <auth/>, waiting out the delays. */
async function plain(c: RawClient, user: string, password: string): Promise<string> {
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  return (await c.expect(/<success\b[^>]*\/>|<success\b[\s\S]*?<\/success>|<failure\b[\s\S]*?<\/failure>/, 10_000))[0];
}

/** A SCRAM-SHA-256 <auth/>: the server's first answer (a challenge when the attempt was admitted). */
async function scramFirst(c: RawClient, user: string): Promise<string> {
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,n=${user},r=abcdefghijklmnop`).toString('base64')}</auth>`);
  return (await c.expect(/<challenge\b[\s\S]*?<\/challenge>|<failure\b[\s\S]*?<\/failure>/, 10_000))[0];
}

async function counter(t: TestServer, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await t.server.core.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

const NOT_AUTHORIZED = /^<failure[^>]*><not-authorized\/>/;
const REFUSED = /^<failure[^>]*><temporary-auth-failure\/><text[^>]*>too many failed attempts from your address; try again in \d+ s<\/text><\/failure>$/;

test('wrong passwords lock the address: even the right password on a new connection is refused, another address logs in, the lock expires', async () => {
  const t = await server(AUTH);
  // Four wrong passwords (SCRAM and PLAIN) over two connections (sasl_max_failures closes each after three).
  const c1 = await secured(t);
  assert.match(await c1.authScram('SCRAM-SHA-256', 'alice', 'guess-1'), /<not-authorized\/>/);
  const start = Date.now();
  assert.match(await plain(c1, 'alice', 'guess-2'), NOT_AUTHORIZED);
  assert.ok(Date.now() - start >= AUTH.delay_ms - 20, 'the second failure is answered only after delay_ms');
  c1.close();
  const c2 = await secured(t);
  assert.match(await plain(c2, 'alice', 'guess-3'), NOT_AUTHORIZED);
  assert.match(await plain(c2, 'alice', 'guess-4'), NOT_AUTHORIZED);
  c2.close();
  assert.equal(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'ip', action: 'locked' }), 1);

  // Locked: a new connection with the right password is refused; SCRAM gets no challenge (nothing is looked up).
  const c3 = await secured(t);
  assert.match(await plain(c3, 'alice', 'alice-right-password'), REFUSED);
  assert.match(await scramFirst(c3, 'alice'), REFUSED);
  assert.ok(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'ip', action: 'refused' }) >= 2);
  assert.equal(await counter(t, 'xmppd_auth_failures_total', { kind: 'c2s' }), 4, 'refusals are not failures');

  // Alice on another address (127.0.0.2) is not locked out.
  const other = await secured(t, '127.0.0.2');
  assert.match(await other.authScram('SCRAM-SHA-256', 'alice', 'alice-right-password'), /^<success/);

  // The lock (lock_seconds: 2) expires; the right password works from the locked address again.
  await new Promise((r) => setTimeout(r, AUTH.lock_seconds * 1000 + 100));
  const c4 = await secured(t);
  assert.match(await c4.authScram('SCRAM-SHA-256', 'alice', 'alice-right-password'), /^<success/);
  c4.openStream();
  await c4.features();
  assert.match(await c4.bind('laptop'), /^alice@localhost\/laptop$/);
});

test('an account is never locked: failures from many addresses only delay its wrong answers', async () => {
  const t = await server({ ...AUTH, max_failures_per_ip: 0 });
  const c1 = await secured(t, '127.0.0.3');
  assert.match(await plain(c1, 'alice', 'guess-1'), NOT_AUTHORIZED);
  // A second address, a first failure there: delayed by the account's count (its second failure).
  const c2 = await secured(t, '127.0.0.4');
  const start = Date.now();
  assert.match(await plain(c2, 'Alice', 'guess-2'), NOT_AUTHORIZED, 'the account is counted case-insensitively');
  assert.ok(Date.now() - start >= AUTH.delay_ms - 20);
  assert.equal(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'account', action: 'delayed' }), 1);
  assert.equal(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'ip', action: 'delayed' }), 0);
  // The right password is never delayed or refused.
  const c3 = await secured(t, '127.0.0.5');
  assert.match(await plain(c3, 'alice', 'alice-right-password'), /^<success/);
});

test('failures decay: spread out over failure_decay_seconds, they never reach the lock', async () => {
  const t = await server({ ...AUTH, failure_decay_seconds: 1, max_failures_per_ip: 3 });
  const c1 = await secured(t);
  assert.match(await plain(c1, 'alice', 'guess-1'), NOT_AUTHORIZED);
  assert.match(await plain(c1, 'alice', 'guess-2'), NOT_AUTHORIZED);
  c1.close();
  await new Promise((r) => setTimeout(r, 2100)); // both forgotten
  const c2 = await secured(t);
  assert.match(await plain(c2, 'alice', 'guess-3'), NOT_AUTHORIZED);
  assert.match(await plain(c2, 'alice', 'guess-4'), NOT_AUTHORIZED, 'without decay this fourth attempt would be refused');
  assert.match(await plain(c2, 'alice', 'alice-right-password'), /^<success/);
  assert.equal(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'ip', action: 'locked' }), 0);
});

test('an address in limits.exempt is never delayed or locked', async () => {
  const t = await server({ ...AUTH, max_failures_per_ip: 2 }, { exempt: ['loopback'] });
  for (let round = 0; round < 2; round++) {
    const c = await secured(t);
    assert.match(await plain(c, 'alice', 'guess-a'), NOT_AUTHORIZED);
    assert.match(await plain(c, 'alice', 'guess-b'), NOT_AUTHORIZED);
    c.close();
  }
  const c = await secured(t);
  assert.match(await plain(c, 'alice', 'alice-right-password'), /^<success/);
  assert.equal(await counter(t, 'xmppd_auth_failures_total', { kind: 'c2s' }), 4);
  assert.equal(await counter(t, 'xmppd_auth_throttled_total', { kind: 'c2s', scope: 'ip', action: 'locked' }), 0);
});

test('failures and locks are logged with kind, account, ip, reason and delay; never the password or the SASL payload', async () => {
  const lines: string[] = [];
  const log = new Logger('info', {}, (line) => lines.push(line), false);
  const t = await server({ ...AUTH, max_failures_per_ip: 2 }, {}, log);
  const password = 'hunter2-very-secret';
  const c = await secured(t, '127.0.0.6');
  assert.match(await plain(c, 'alice', password), NOT_AUTHORIZED);
  assert.match(await plain(c, 'alice', password), NOT_AUTHORIZED);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const failures = records.filter((r) => r.msg === 'authentication failed');
  assert.equal(failures.length, 2);
  assert.deepEqual(
    { kind: failures[1]!.kind, account: failures[1]!.account, ip: failures[1]!.ip, reason: failures[1]!.reason, mechanism: failures[1]!.mechanism, delay_ms: failures[1]!.delay_ms },
    { kind: 'c2s', account: 'alice@localhost', ip: '127.0.0.6', reason: 'wrong password', mechanism: 'PLAIN', delay_ms: 300 },
  );
  const lock = records.find((r) => r.msg === 'address locked after repeated authentication failures');
  assert.equal(lock?.level, 'warn');
  assert.equal(lock?.lock_seconds, 2);
  // An attempt from the locked address is refused before any credential is checked, and logged as such.
  const again = await secured(t, '127.0.0.6');
  assert.match(await plain(again, 'alice', password), /temporary-auth-failure/);
  const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'authentication failed').at(-1)!;
  assert.deepEqual([refused.account, refused.reason, refused.condition], ['alice@localhost', 'address locked after repeated failures', 'temporary-auth-failure']);
  const payload = Buffer.from(`\0alice\0${password}`).toString('base64');
  for (const l of lines) {
    assert.ok(!l.includes(password) && !l.includes(payload), `no secret in the log: ${l}`);
  }
});
