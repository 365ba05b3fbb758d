// Pre-authentication bounds of every listener over real sockets: connections counted per address from TCP
// accept (before any TLS handshake, XEP-0205 §3) for c2s/c2s_tls, s2s/s2s_tls, component and http/https;
// unfinished TLS handshakes closed after limits.tls_handshake_timeout; idle HTTP connections closed;
// limits.pre_auth_bytes for c2s, s2s and component streams (RFC 6120 §4.9.3.14 policy-violation).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { get as httpsGet } from 'node:https';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { RawS2s } from './interop/raw-s2s.js';
import { buildConfig } from '../../src/core/config/load-config.js';
import { DEFAULT_LIMITS } from '../../src/core/limits/limits-config.js';
import { handshakeDigest } from '../../src/interface/component/component-connection.js';

const servers: TestServer[] = [];
const sockets: Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await s.stop();
});

const LISTEN = ['c2s', 'c2s_tls', 's2s', 's2s_tls', 'component', 'http', 'https'].map((type) => ({ port: 0, ip: '127.0.0.1', type }));

async function server(limits: Record<string, unknown>, more: Record<string, unknown> = {}): Promise<TestServer> {
  const t = await startTestServer({
    listen: LISTEN, components: { 'comp.localhost': { secret: 'comp-secret' } }, s2s: { connect_timeout: 1 }, limits, ...more,
  });
  servers.push(t);
  return t;
}

/** A raw TCP connection that records what arrives and when it is closed. */
class Raw {
  text = '';
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => {});
  }

  static async open(port: number): Promise<Raw> {
    const sock = netConnect({ port, host: '127.0.0.1' });
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    return new Raw(sock);
  }

  waitClosed(what: string, timeoutMs = 5000): Promise<boolean> {
    return until(() => this.closed, `${what} is closed by the server`, timeoutMs);
  }
}

/** A TLS record header announcing a 512-byte handshake message, and only the start of it: half a ClientHello. */
const HALF_CLIENT_HELLO = Buffer.concat([Buffer.from('160301020001000200fc0303', 'hex'), Buffer.alloc(40, 7)]);

async function violations(t: TestServer, limit: string): Promise<number> {
  const metrics = await t.server.core.metrics.registry.getMetricsAsJSON();
  const m = metrics.find((x) => x.name === 'xmppd_limit_violations_total');
  return Number(m?.values.find((v) => v.labels.limit === limit)?.value ?? 0);
}

const POLICY_VIOLATION = /<stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/;

test('the new limits keys: defaults, and errors that name the YAML path', () => {
  const d = buildConfig({}).limits;
  assert.equal(d.max_s2s_connections_per_ip, DEFAULT_LIMITS.max_s2s_connections_per_ip);
  assert.equal(d.tls_handshake_timeout, 10);
  assert.equal(d.pre_auth_bytes, 65536);
  assert.equal(d.dialback_pending_per_stream, 5);
  assert.equal(d.dialback_pending_per_ip, 20);
  assert.throws(() => buildConfig({ limits: { tls_handshake_timeout: 0 } }), /limits\.tls_handshake_timeout: must be a whole number of seconds from 1 to 3600/);
  assert.throws(() => buildConfig({ limits: { http_request_timeout: 'soon' } }), /limits\.http_request_timeout: must be a whole number of seconds/);
  assert.throws(() => buildConfig({ limits: { max_s2s_connections_per_ip: -1 } }), /limits\.max_s2s_connections_per_ip: must be a whole number/);
  assert.throws(() => buildConfig({ limits: { pre_auth_bytes: 1.5 } }), /limits\.pre_auth_bytes: must be a whole number/);
  assert.throws(() => buildConfig({ limits: { dialback_pending_per_ip: 'x' } }), /limits\.dialback_pending_per_ip/);
  assert.equal(buildConfig({ listen: [{ port: 0, type: 'https' }] }).listen[0]!.type, 'https');
});

test('c2s_tls: connections still in their TLS handshake count against max_connections_per_ip (with c2s); one too many is closed at once', async () => {
  const t = await server({ max_connections_per_ip: 3 });
  const handshaking = [await Raw.open(t.c2sTlsPort), await Raw.open(t.c2sTlsPort), await Raw.open(t.c2sTlsPort)];
  await until(() => t.server.core.limits.connectionsFrom('127.0.0.1') === 3, 'three connections counted');
  const fourth = await Raw.open(t.c2sTlsPort);
  await fourth.waitClosed('the fourth raw connection to c2s_tls');
  // plain c2s shares the count: refused with the stream error that names the limit
  const plain = await RawClient.connect(t.c2sPort);
  sockets.push(plain.socket);
  assert.match(await plain.waitClosed(), /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>too many connections from your address \(at most 3\)/);
  assert.equal(await violations(t, 'max_connections_per_ip'), 2);
  assert.ok(handshaking.every((h) => !h.closed), 'the admitted ones stay (until their handshake deadline)');
  // a closed connection gives its place back
  handshaking[0]!.sock.destroy();
  await until(() => t.server.core.limits.connectionsFrom('127.0.0.1') === 2, 'the place given back');
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  sockets.push(c.socket);
  c.openStream();
  assert.match(await c.features(), /<mechanisms /);
});

test('connections upgraded with STARTTLS give their place back when they end (c2s and s2s)', async () => {
  const t = await server({ max_connections_per_ip: 2, max_s2s_connections_per_ip: 2 });
  await t.addUser('alice', 'pw-alice');
  for (let i = 0; i < 4; i++) {
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', `r${i}`, { presence: false });
    c.close();
    await until(() => t.server.core.limits.connectionsFrom('127.0.0.1') === 0, `login #${i} released`);
    const s = await RawS2s.connect(t.server.port('s2s'));
    s.openStream('peer.test', 'localhost');
    await s.features();
    await s.starttls('localhost');
    s.close();
    await until(() => t.server.core.limits.connectionsFrom('127.0.0.1', 's2s') === 0, `s2s stream #${i} released`);
  }
  assert.equal(await violations(t, 'max_connections_per_ip') + await violations(t, 'max_s2s_connections_per_ip'), 0);
});

test('a direct-TLS handshake not completed within limits.tls_handshake_timeout is closed: c2s_tls, s2s_tls and https', async () => {
  // c2s_negotiation_timeout and s2s.connect_timeout are short as well: node:tls alone left such sockets open.
  const t = await server({ tls_handshake_timeout: 1 }, { c2s_negotiation_timeout: 1 });
  const opened: Raw[] = [];
  for (const type of ['c2s_tls', 's2s_tls', 'https']) {
    const port = t.server.port(type);
    const idle = await Raw.open(port);
    const half = await Raw.open(port);
    half.sock.write(HALF_CLIENT_HELLO);
    opened.push(idle, half);
  }
  for (const [i, r] of opened.entries()) await r.waitClosed(`silent TLS connection #${i}`);
  assert.equal(await violations(t, 'tls_handshake_timeout'), 6);
  await until(() => ['c2s', 's2s', 'http'].every((k) => t.server.core.limits.connectionsFrom('127.0.0.1', k as 'c2s') === 0), 'every place given back');
  // A handshake that completes in time is not cut off by that deadline: the stream lives on until its own
  // negotiation timeout, which ends it with a stream error rather than a bare close.
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  sockets.push(c.socket);
  c.openStream();
  assert.match(await c.features(), /<mechanisms /);
  assert.match(await c.waitClosed(), /<connection-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
});

test('per-address limits on s2s (with s2s_tls), component and http listeners, each counted; limits.exempt lifts them', async () => {
  const limits = { max_s2s_connections_per_ip: 2, max_component_connections_per_ip: 1, max_http_connections_per_ip: 2 };
  const t = await server(limits);
  const s2sPort = t.server.port('s2s');
  await Raw.open(s2sPort);
  await Raw.open(s2sPort);
  const s2sTls = await Raw.open(t.server.port('s2s_tls'));
  await s2sTls.waitClosed('a third s2s connection (on s2s_tls, before any handshake)');
  const s2s = await Raw.open(s2sPort);
  await s2s.waitClosed('a third s2s connection');
  assert.match(s2s.text, /<stream:stream xmlns=["']jabber:server["']/);
  assert.match(s2s.text, POLICY_VIOLATION);

  const compPort = t.server.port('component');
  await Raw.open(compPort);
  const comp = await Raw.open(compPort);
  await comp.waitClosed('a second component connection');
  assert.match(comp.text, /xmlns=["']jabber:component:accept["']/);
  assert.match(comp.text, POLICY_VIOLATION);

  const httpPort = t.server.port('http');
  await Raw.open(httpPort);
  await Raw.open(t.server.port('https'));
  const http = await Raw.open(httpPort);
  await http.waitClosed('a third http connection');
  assert.match(http.text, /^HTTP\/1\.1 429 Too Many Requests\r\n/);

  assert.equal(await violations(t, 'max_s2s_connections_per_ip'), 2);
  assert.equal(await violations(t, 'max_component_connections_per_ip'), 1);
  assert.equal(await violations(t, 'max_http_connections_per_ip'), 1);

  const x = await server(limits, { acl: { loopback: { ip: ['127.0.0.0/8'] } }, limits: { ...limits, exempt: ['loopback'] } });
  for (let i = 0; i < 2; i++) await Raw.open(x.server.port('s2s'));
  const third = await RawS2s.connect(x.server.port('s2s'));
  sockets.push(third.socket);
  third.openStream('peer.test', 'localhost');
  assert.match(await third.features(), /<starttls /);
  assert.equal(await violations(x, 'max_s2s_connections_per_ip'), 0);
});

test('HTTP: a connection without a complete request within limits.http_request_timeout is closed; https serves /metrics', async () => {
  const t = await server({ http_request_timeout: 1 });
  const idle = await Raw.open(t.server.port('http'));
  const slow = await Raw.open(t.server.port('http'));
  slow.sock.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\n');
  await idle.waitClosed('an idle HTTP connection');
  await slow.waitClosed('an HTTP connection with half a request head');
  const metrics = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    httpsGet({ host: '127.0.0.1', port: t.server.port('https'), path: '/metrics', rejectUnauthorized: false, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^xmppd_limit_violations_total\{limit="http_request_timeout"\} [12]$/m);
});

test('limits.pre_auth_bytes: c2s, s2s and component streams that send more before authenticating get policy-violation; bound ones do not', async () => {
  const t = await server({ pre_auth_bytes: 4096 });
  await t.addUser('alice', 'pw-alice');
  const c = await RawClient.connect(t.c2sPort);
  sockets.push(c.socket);
  c.openStream();
  await c.features();
  c.send(' '.repeat(5000)); // whitespace is legal between elements: only the amount is wrong
  assert.match(await c.waitClosed(), POLICY_VIOLATION);

  const s = await RawS2s.connect(t.server.port('s2s'));
  sockets.push(s.socket);
  s.openStream('peer.test', 'localhost');
  await s.features();
  s.send(' '.repeat(5000));
  assert.match(await s.waitClosed(), POLICY_VIOLATION);

  const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='comp.localhost'>";
  const comp = await Raw.open(t.server.port('component'));
  comp.sock.write(header);
  comp.sock.write(' '.repeat(5000));
  await comp.waitClosed('a component connection over its budget');
  assert.match(comp.text, POLICY_VIOLATION);
  assert.equal(await violations(t, 'pre_auth_bytes'), 3);

  // once authenticated, the budget no longer applies
  const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'big', { presence: false });
  sockets.push(alice.socket);
  alice.send(' '.repeat(10_000) + "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match(await alice.iq('p2', "<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"), /type=["']result["']/);
  const good = await Raw.open(t.server.port('component'));
  good.sock.write(header);
  const id = (await until(() => /id=["']([^"']+)["']/.exec(good.text)?.[1], 'the component stream header'))!;
  good.sock.write(`<handshake>${handshakeDigest(id, 'comp-secret')}</handshake>`);
  await until(() => good.text.includes('<handshake/>'), 'the handshake accepted');
  good.sock.write(' '.repeat(10_000));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(good.closed, false);
  assert.equal(await violations(t, 'pre_auth_bytes'), 3);
});
