// End to end over real sockets: the shapers and limits of the `limits` section — c2s byte and stanza rates
// slow a client down (and max_burst ends it with policy-violation, RFC 6120 §4.9.3.14), bound resources per
// account (RFC 6120 §7.6.2.1), connections per IP, XEP-0077 registrations per IP, the exempt ACLs — each
// violation counted in xmppd_limit_violations_total{limit}.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { buildConfig } from '../../src/core/config/load-config.js';
import { DEFAULT_LIMITS } from '../../src/core/limits/limits-config.js';
import { Jid } from '../../src/core/jid.js';
import { Shaper } from '../../src/core/limits/shaper.js';

const servers: TestServer[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
});

async function server(limits: Record<string, unknown>, users: string[] = ['alice', 'bob']): Promise<TestServer> {
  const t = await startTestServer({ limits });
  servers.push(t);
  for (const u of users) await t.addUser(u, `pw-${u}`);
  return t;
}

async function login(t: TestServer, user: string, resource?: string): Promise<RawClient> {
  const { c } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false });
  clients.push(c);
  return c;
}

/** Connected, TLS, authenticated, restarted: ready to bind. */
async function authenticated(t: TestServer, user: string): Promise<RawClient> {
  const c = await secured(t);
  assert.match(await c.authScram('SCRAM-SHA-256', user, `pw-${user}`), /^<success/);
  c.openStream();
  await c.features();
  return c;
}

async function secured(t: TestServer): Promise<RawClient> {
  const c = await RawClient.secured(t.c2sPort);
  clients.push(c);
  return c;
}

const ping = (id: string) => `<iq to='localhost' type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`;
const answer = (c: RawClient, id: string, timeoutMs = 20000) =>
  c.expect(new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`), timeoutMs).then((m) => m[0]);

/** xmppd_limit_violations_total{limit} of one server, read from its Prometheus registry. */
async function violations(t: TestServer, limit: string): Promise<number> {
  const metrics = await t.server.core.metrics.registry.getMetricsAsJSON();
  const m = metrics.find((x) => x.name === 'xmppd_limit_violations_total');
  return Number(m?.values.find((v) => v.labels.limit === limit)?.value ?? 0);
}

/** The bind IQ (id bind1) and the server's answer to it. */
async function bind(c: RawClient, resource: string): Promise<string> {
  c.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  return answer(c, 'bind1');
}

async function register(t: TestServer, username: string): Promise<string> {
  const c = await secured(t);
  c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${username}</username><password>long-enough-pw</password></query></iq>`);
  const r = await answer(c, 'reg');
  c.close();
  return r;
}

// ---- configuration ---------------------------------------------------------------------------------------

test('the limits section: defaults, 0 = unlimited, and errors that name the YAML path', () => {
  assert.deepEqual(buildConfig({}).limits, DEFAULT_LIMITS);
  const off = buildConfig({ limits: { c2s: { bytes_per_second: 0 }, max_connections_per_ip: 0 } }).limits;
  assert.equal(off.c2s.bytes_per_second, 0);
  assert.equal(off.c2s.stanzas_per_second, DEFAULT_LIMITS.c2s.stanzas_per_second);
  assert.equal(off.max_connections_per_ip, 0);
  assert.throws(() => buildConfig({ limits: { c2s: { bytes_per_second: -1 } } }), /limits\.c2s\.bytes_per_second: must be a whole number/);
  assert.throws(() => buildConfig({ limits: { s2s: { bytes_per_second: 1.5 } } }), /limits\.s2s\.bytes_per_second/);
  assert.throws(() => buildConfig({ limits: { c2s: { kbps: 1 } } }), /limits\.c2s\.kbps: unknown option/);
  assert.throws(() => buildConfig({ limits: { max_users: 1 } }), /limits\.max_users: unknown option/);
  assert.throws(() => buildConfig({ limits: { max_sessions_per_user: 'ten' } }), /limits\.max_sessions_per_user/);
  assert.throws(() => buildConfig({ limits: { exempt: ['nobody'] } }), /limits\.exempt\[0\]: ACL "nobody" is not defined under acl/);
  assert.throws(() => buildConfig({ limits: { exempt: 'admin' } }), /limits\.exempt: must be a list/);
  assert.deepEqual(buildConfig({ acl: { admin: { user: ['admin@localhost'] } }, limits: { exempt: ['admin'] } }).limits.exempt, ['admin']);
});

test('Shaper arithmetic (the clock passed in): one second of burst, then the rate; one violation per run; max_burst', () => {
  const events: string[] = [];
  const s = new Shaper({
    bytesPerSecond: 1000, stanzasPerSecond: 10, maxBurst: 2,
    onThrottle: (kind) => events.push(`over:${kind}`), onOverrun: (kind) => events.push(`overrun:${kind}`),
  }, 0);
  const grant = (wanted: number, now: number) => {
    const g = s.grantBytes(wanted, now);
    return { n: g.n, wait: Math.round(g.wait) };
  };
  assert.deepEqual(grant(1500, 0), { n: 1000, wait: 256 }); // the burst, then a 256-byte slice at 1000 B/s
  assert.deepEqual(grant(500, 256), { n: 256, wait: 244 }); // still the same run over the rate
  assert.deepEqual(events, ['over:bytes']);
  assert.deepEqual(grant(100, 2000), { n: 100, wait: 0 }); // the bucket filled up again: the run is over
  assert.deepEqual(grant(5000, 2000), { n: 900, wait: 256 }); // a new run, 4.1 s behind at once: over max_burst
  assert.deepEqual(events, ['over:bytes', 'over:bytes', 'overrun:bytes']);
  for (let i = 0; i < 10; i++) assert.equal(s.onStanza(0), 0);
  assert.equal(Math.round(s.onStanza(0)), 100); // the 11th stanza of the same instant waits 1/10 s
  assert.equal(Math.round(s.stanzaWait(50)), 50);
  assert.equal(new Shaper({}).unlimited, true);
});

// ---- byte and stanza rates ---------------------------------------------------------------------------------

test('c2s bytes_per_second: a 10 kB burst at 2000 B/s is read slowly — the ping behind it waits; counted', async () => {
  const t = await server({ c2s: { bytes_per_second: 2000 } });
  const alice = await login(t, 'alice');
  const before = await violations(t, 'c2s_bytes_per_second');
  const start = performance.now();
  alice.send(' '.repeat(10_000)); // whitespace between stanzas is legal and still has to be read
  alice.send(ping('after-burst'));
  await answer(alice, 'after-burst');
  // 10 kB minus the one-second burst allowance, at 2000 B/s: about 4 s; a generous lower bound only.
  assert.ok(performance.now() - start >= 3000, `answered after ${Math.round(performance.now() - start)} ms`);
  assert.ok((await violations(t, 'c2s_bytes_per_second')) > before);
  // slowed, not disconnected
  alice.send(ping('still-here'));
  await answer(alice, 'still-here');
});

test('a throttled client never harms another: bob’s ping, sent after alice’s burst, is answered first', async () => {
  const t = await server({ c2s: { bytes_per_second: 2000 } });
  const alice = await login(t, 'alice');
  const bob = await login(t, 'bob');
  const order: string[] = [];
  alice.send(' '.repeat(10_000) + ping('alice-ping'));
  const a = answer(alice, 'alice-ping').then(() => order.push('alice'));
  bob.send(ping('bob-ping'));
  const b = answer(bob, 'bob-ping').then(() => order.push('bob'));
  await Promise.all([a, b]);
  assert.deepEqual(order, ['bob', 'alice']);
});

test('c2s stanzas_per_second: 20 pings at 5/s are all answered, in order, but not at once; counted', async () => {
  const t = await server({ c2s: { bytes_per_second: 0, stanzas_per_second: 5 } });
  const alice = await login(t, 'alice');
  const start = performance.now();
  alice.send(Array.from({ length: 20 }, (_, i) => ping(`p${i}`)).join(''));
  for (let i = 0; i < 20; i++) await answer(alice, `p${i}`); // RFC 6120 §10.1: in order
  // at most 5 at once (the bucket), then 5 a second: the 20th no sooner than about 3 s
  assert.ok(performance.now() - start >= 2500, `answered after ${Math.round(performance.now() - start)} ms`);
  assert.ok((await violations(t, 'c2s_stanzas_per_second')) >= 1);
});

test('c2s max_burst: a client that stays over its rate longer than max_burst gets policy-violation; counted', async () => {
  const t = await server({ c2s: { bytes_per_second: 1000, max_burst: 1 } });
  const alice = await login(t, 'alice');
  alice.send(' '.repeat(20_000)); // 20 s of reading at 1000 B/s
  await alice.expect(/<stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>sent faster than/, 20000);
  await alice.waitClosed(10000);
  assert.equal(await violations(t, 'c2s_max_burst'), 1);
});

// ---- sessions, connections, registrations --------------------------------------------------------------------

test('max_sessions_per_user: the third bind gets resource-constraint; the first two are unaffected; rebinding one passes', async () => {
  const t = await server({ max_sessions_per_user: 2 });
  const r1 = await login(t, 'alice', 'r1');
  const r2 = await login(t, 'alice', 'r2');
  const third = await authenticated(t, 'alice');
  const refused = await bind(third, 'r3');
  assert.match(refused, /type=["']error["']/);
  assert.match(refused, /<error type=["']wait["']><resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
  assert.match(refused, /<resource-limit-exceeded xmlns=["']urn:xmpp:errors["']\/>/);
  assert.equal(await violations(t, 'max_sessions_per_user'), 1);
  for (const [c, id] of [[r1, 'r1-ping'], [r2, 'r2-ping']] as const) {
    c.send(ping(id));
    assert.match(await answer(c, id), /type=["']result["']/);
  }
  // RFC 6120 §7.7.2.2: the same stream may try again; taking over a bound resource adds no session
  assert.match(await bind(third, 'r1'), /<jid>alice@localhost\/r1<\/jid>/);
  await r1.expect(/<conflict /);
  assert.equal(t.server.core.sessions.resources(Jid.parse('alice@localhost')).length, 2);
  assert.equal(await violations(t, 'max_sessions_per_user'), 1);
});

test('max_connections_per_ip: one too many gets the policy-violation stream error and is closed; counted', async () => {
  const t = await server({ max_connections_per_ip: 2 });
  const open = async () => {
    const c = await RawClient.connect(t.c2sPort);
    clients.push(c);
    return c;
  };
  const c1 = await open();
  const c2 = await open();
  c1.openStream();
  await c1.features();
  const c3 = await open();
  const closedWith = await c3.waitClosed();
  assert.match(closedWith, /<stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>too many connections from your address \(at most 2\)/);
  assert.equal(await violations(t, 'max_connections_per_ip'), 1);
  // the admitted ones are unaffected
  c2.openStream();
  await c2.features();
  // a closed connection gives its place back
  c1.close();
  for (let i = 0; i < 100 && t.server.core.limits.connectionsFrom('127.0.0.1') > 1; i++) await new Promise((r) => setTimeout(r, 20));
  const c4 = await open();
  c4.openStream();
  assert.match(await c4.features(), /<starttls /);
  assert.equal(await violations(t, 'max_connections_per_ip'), 1);
});

test('registrations_per_ip_per_hour: the third account from 127.0.0.1 with a limit of 2 gets resource-constraint; failures do not count', async () => {
  const t = await server({ registrations_per_ip_per_hour: 2 }, []);
  assert.match(await register(t, 'u1'), /type=["']result["']/);
  assert.match(await register(t, 'u1'), /<conflict /); // not created: not counted
  assert.match(await register(t, 'u2'), /type=["']result["']/);
  const third = await register(t, 'u3');
  // type wait (try later), with XEP-0086's legacy code for resource-constraint (XEP-0077 §9)
  assert.match(third, /<error\b(?=[^>]*\btype=["']wait["'])(?=[^>]*\bcode=["']500["'])[^>]*><resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
  assert.equal(await t.server.core.accounts.exists(Jid.of('u3', 'localhost')), false);
  assert.equal(await violations(t, 'registrations_per_ip_per_hour'), 1);
});

// ---- exempt ----------------------------------------------------------------------------------------------

test('exempt ACL (user): admin binds past max_sessions_per_user and is not shaped once bound; alice is limited', async () => {
  const t = await server({ exempt: ['admin'], max_sessions_per_user: 1, c2s: { bytes_per_second: 2000 } }, ['admin', 'alice']);
  const admin = await login(t, 'admin', 'a');
  await login(t, 'admin', 'b');
  await login(t, 'admin', 'c');
  await login(t, 'alice', 'a');
  assert.match(await bind(await authenticated(t, 'alice'), 'b'), /<resource-constraint /);
  const shapedBefore = await violations(t, 'c2s_bytes_per_second');
  admin.send(' '.repeat(10_000) + ping('admin-ping'));
  await answer(admin, 'admin-ping');
  assert.equal(await violations(t, 'c2s_bytes_per_second'), shapedBefore); // never held back
  assert.equal(await violations(t, 'max_sessions_per_user'), 1); // alice only
});

test('exempt ACL (ip): loopback clients pass every per-address limit and are not shaped', async () => {
  const t = await server({ exempt: ['loopback'], max_connections_per_ip: 1, registrations_per_ip_per_hour: 1, c2s: { bytes_per_second: 2000 } });
  const a = await login(t, 'alice');
  const b = await login(t, 'bob'); // a second connection from 127.0.0.1
  assert.match(await register(t, 'u1'), /type=["']result["']/);
  assert.match(await register(t, 'u2'), /type=["']result["']/);
  a.send(' '.repeat(10_000) + ping('a-ping'));
  b.send(ping('b-ping'));
  await answer(a, 'a-ping');
  await answer(b, 'b-ping');
  for (const limit of ['max_connections_per_ip', 'registrations_per_ip_per_hour', 'c2s_bytes_per_second']) {
    assert.equal(await violations(t, limit), 0, limit);
  }
});
