// XMPP over WebSocket (RFC 7395) with a raw client: the upgrade's checks (subprotocol §3.2, Origin), framing
// errors (oversized, malformed and binary messages end the stream with a stream error and <close/>, §3.5),
// the WebSocket sessions in the connection metrics, and XEP-0156 discovery (host-meta, host-meta.json) per host.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../support/harness.js';
import { HOSTS, escapeRe } from '../support/each-host.js';
import { closeFrame, openFrame, wsConnect, wsLogin, type WsClient } from '../support/ws-client.js';
import { until } from '../support/until.js';
import { Jid } from '../../src/core/jid.js';
import { RawClient } from '../support/raw-client.js';
import { buildConfig } from '../../src/core/config/load-config.js';

const MAX_STANZA = 8192;
let t: TestServer;
let port = 0;
let pingPort = 0;
let movedPort = 0;
let proxiedPort = 0;

before(async () => {
  t = await startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { origins: ['https://chat.example.org'] } },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { path: '/ws', ping_interval: 1 } },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { see_other_uri: 'wss://chat.example.org/xmpp-websocket' } },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { trusted_proxies: ['127.0.0.0/8', '10.0.0.0/8'] } },
    ],
    max_stanza_size: MAX_STANZA,
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, stream_management: {} },
  });
  [port, pingPort, movedPort, proxiedPort] = t.server.listeners.bound.filter((l) => l.type === 'http').map((l) => l.port) as [number, number, number, number];
  for (const h of HOSTS) await t.addUser('alice', 'pw-alice', h);
  await t.addUser('bob', 'pw-bob');
});
after(() => t.stop());

const url = () => `ws://127.0.0.1:${port}/xmpp-websocket`;

async function opened(host = 'localhost'): Promise<WsClient> {
  const c = await wsConnect(url());
  c.send(openFrame(host));
  await c.next(/<stream:features/);
  return c;
}

/** The stream error, then <close/> (RFC 7395 §3.5), then the WebSocket closes. */
async function assertStreamError(c: WsClient, condition: string): Promise<string> {
  const err = await c.next(/<stream:error/);
  assert.match(err, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']`));
  assert.match(err, /xmlns:stream=["']http:\/\/etherx\.jabber\.org\/streams["']/, 'the stream prefix is declared in the message itself');
  await c.next(/^<close xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']\/>$/);
  await c.closed;
  return err;
}

function get(path: string, host: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an upgrade without the xmpp subprotocol is refused (RFC 7395 §3.2)', async () => {
  await assert.rejects(wsConnect(url(), { protocols: [] }), { status: 400 });
  await assert.rejects(wsConnect(url(), { protocols: ['chat'] }), { status: 400 });
});

test('a page from an origin not in websocket.origins may not connect; a listed one and a client without Origin may', async () => {
  await assert.rejects(wsConnect(url(), { origin: 'https://evil.example' }), { status: 403 });
  const ok = await wsConnect(url(), { origin: 'https://chat.example.org' });
  assert.equal(ok.ws.protocol, 'xmpp');
  ok.close();
  const native = await wsConnect(url());
  native.close();
});

test('another path has no WebSocket endpoint, and a plain GET on the endpoint asks for an upgrade', async () => {
  await assert.rejects(wsConnect(`ws://127.0.0.1:${port}/other`), { status: 404 });
  const r = await get('/xmpp-websocket', `localhost:${port}`);
  assert.equal(r.status, 426);
});

test('websocket.ping_interval: a client that answers pings stays, one that does not is disconnected', async () => {
  const answering = await wsConnect(`ws://127.0.0.1:${pingPort}/ws`);
  const silent = await wsConnect(`ws://127.0.0.1:${pingPort}/ws`, { autoPong: false });
  let pings = 0;
  silent.ws.on('ping', () => pings++);
  await silent.closed; // a ping, no pong within the interval: the server ends the connection
  assert.ok(pings >= 1, 'the server pinged');
  assert.equal(answering.ws.readyState, answering.ws.OPEN, 'the client that answers is still connected');
  answering.close();
});

test('websocket.see_other_uri: the client\'s <open/> is answered with <open/> and <close see-other-uri=.../> (RFC 7395 §3.6.1)', async () => {
  const c = await wsConnect(`ws://127.0.0.1:${movedPort}/xmpp-websocket`);
  c.send(openFrame('localhost'));
  await c.next(/^<open xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']/);
  await c.next(/^<close xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["'] see-other-uri=["']wss:\/\/chat\.example\.org\/xmpp-websocket["']\/>$/);
  assert.equal(await c.closed, 1000);
});

test('websocket.trusted_proxies: behind a trusted proxy the session has the client\'s address from X-Forwarded-For; elsewhere the header is ignored', async () => {
  // The client wrote the left entry itself; 10.0.0.5 is a second trusted proxy: 203.0.113.7 is the client.
  const headers = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7, 10.0.0.5' };
  const proxied = await wsConnect(`ws://127.0.0.1:${proxiedPort}/xmpp-websocket`, { headers });
  const direct = await wsConnect(url(), { headers });
  try {
    const a = await wsLogin(proxied, 'localhost', 'alice', 'pw-alice', 'proxied');
    const b = await wsLogin(direct, 'localhost', 'alice', 'pw-alice', 'direct');
    assert.equal(t.server.core.sessions.get(Jid.parse(a))?.ip, '203.0.113.7');
    assert.equal(t.server.core.sessions.get(Jid.parse(b))?.ip, '127.0.0.1');
  } finally {
    proxied.close();
    direct.close();
  }
});

test('a session that began on TCP is resumed over WebSocket (XEP-0198): the same session, with what was sent meanwhile', async () => {
  const { c: tcp, jid } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'roaming');
  tcp.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  const id = /<enabled[^>]*\bid=["']([^"']+)["']/.exec((await tcp.expect(/<enabled[^>]*>/))[0])?.[1];
  assert.ok(id, 'resumable');
  const session = t.server.core.sessions.get(Jid.parse(jid)) as unknown as { detached: boolean };
  tcp.socket.destroy(); // the phone leaves the Wi-Fi
  await until(() => session.detached, 'the server keeps the session for resumption');
  const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'pc');
  bob.send(`<message to='${jid}' type='chat'><body>while roaming</body></message>`);
  const c = await wsConnect(url());
  try {
    c.send(openFrame('localhost'));
    await c.next(/<stream:features/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw-alice').toString('base64')}</auth>`);
    await c.next(/<success/);
    c.send(openFrame('localhost'));
    await c.next(/<stream:features/);
    c.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await c.next(/^<resumed xmlns=["']urn:xmpp:sm:3["']/);
    await c.next(/<body>while roaming<\/body>/);
    assert.equal(t.server.core.sessions.get(Jid.parse(jid)), session, 'the same session');
    assert.equal(session.detached, false);
  } finally {
    c.close();
    bob.close();
  }
});

test('a message larger than max_stanza_size ends the stream with policy-violation', async () => {
  const c = await opened();
  c.send(`<message xmlns='jabber:client' to='bob@localhost'><body>${'x'.repeat(MAX_STANZA + 1)}</body></message>`);
  const err = await assertStreamError(c, 'policy-violation');
  assert.match(err, new RegExp(`at most ${MAX_STANZA} bytes`));
});

test('malformed XML ends the stream with not-well-formed and <close/>', async () => {
  const c = await opened();
  c.send("<message xmlns='jabber:client' to='bob@localhost'><body>x</message>");
  await assertStreamError(c, 'not-well-formed');
});

test('a binary message ends the stream with a stream error (text messages only)', async () => {
  const c = await opened();
  c.ws.send(Buffer.from('<presence/>'), { binary: true });
  await assertStreamError(c, 'unsupported-encoding');
});

test('an <open/> to a host this server does not serve gets host-unknown after the server\'s <open/>', async () => {
  const c = await wsConnect(url());
  c.send(openFrame('elsewhere.example'));
  const open = await c.next(/^<open /);
  assert.match(open, /xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']/);
  await assertStreamError(c, 'host-unknown');
});

test('WebSocket sessions count in xmppd_connections with the http_websocket type, and leave it when closed', async () => {
  const gauge = async () => {
    const m = await t.server.core.metrics.connections.get();
    return m.values.find((v) => v.labels.type === 'http_websocket')?.value ?? 0;
  };
  await until(async () => (await gauge()) === 0, 'the WebSocket connections of earlier tests closed');
  const c = await wsConnect(url());
  await wsLogin(c, 'localhost', 'alice', 'pw-alice', 'gauge');
  assert.equal(await gauge(), 1);
  c.send(closeFrame);
  await c.next(/^<close /);
  await c.closed;
  await until(async () => (await gauge()) === 0, 'the gauge back at 0');
});

for (const host of HOSTS) {
  describe(`on ${host}`, () => {
    test('alice logs in with PLAIN over ws:// from loopback (it counts as secure), binds, and the server answers <close/> with <close/>', async () => {
      const c = await wsConnect(url());
      const jid = await wsLogin(c, host, 'alice', 'pw-alice', 'raw');
      assert.equal(jid, `alice@${host}/raw`);
      assert.ok(!c.received.some((m) => /<starttls/.test(m)), 'no STARTTLS over WebSocket');
      c.send(`<iq xmlns='jabber:client' type='get' id='p1' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      const pong = await c.next(/id=["']p1["']/);
      assert.match(pong, /^<iq xmlns=["']jabber:client["'][^>]*type=["']result["']/, 'stanzas carry their namespace (RFC 7395 §3.3.3)');
      c.send(closeFrame);
      await c.next(/^<close xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']\/>$/);
      assert.equal(await c.closed, 1000);
    });

    test('host-meta lists the WebSocket endpoint of the host the Host header names, with CORS', async () => {
      const r = await get('/.well-known/host-meta', `${host}:${port}`);
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^application\/xrd\+xml/);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.match(r.body, /<XRD xmlns='http:\/\/docs\.oasis-open\.org\/ns\/xri\/xrd-1\.0'>/);
      assert.match(r.body, new RegExp(`<Link rel="urn:xmpp:alt-connections:websocket" href="ws://${escapeRe(host)}:${port}/xmpp-websocket"/>`));
      assert.match(r.body, new RegExp(`<Link rel="urn:xmpp:alt-connections:xbosh" href="http://${escapeRe(host)}:${port}/http-bind"/>`));
    });

    test('host-meta.json lists the same endpoint', async () => {
      const r = await get('/.well-known/host-meta.json', `${host}:${port}`);
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.deepEqual(JSON.parse(r.body), { links: [
        { rel: 'urn:xmpp:alt-connections:websocket', href: `ws://${host}:${port}/xmpp-websocket` },
        { rel: 'urn:xmpp:alt-connections:xbosh', href: `http://${host}:${port}/http-bind` },
      ] });
    });
  });
}

test('host-meta for a host this server does not serve is 404', async () => {
  const r = await get('/.well-known/host-meta', `elsewhere.example:${port}`);
  assert.equal(r.status, 404);
});

test('websocket options are validated with their YAML path', () => {
  const base = { hosts: ['localhost'], data_dir: '/tmp/x' };
  const bad = (websocket: unknown, type = 'http') => () => buildConfig({ ...base, listen: [{ port: 5280, type, websocket }] });
  assert.throws(bad({ path: 'no-slash' }), /listen\[0\]\.websocket\.path/);
  assert.throws(bad({ origins: ['chat.example.org'] }), /listen\[0\]\.websocket\.origins\[0\]/);
  assert.throws(bad({ ping_interval: -1 }), /listen\[0\]\.websocket\.ping_interval/);
  assert.throws(bad({ colour: 'red' }), /listen\[0\]\.websocket\.colour/);
  assert.throws(bad({ trusted_proxies: ['10.0.0.0/33'] }), /listen\[0\]\.websocket\.trusted_proxies\[0\]/);
  assert.throws(bad({ see_other_uri: 'https://chat.example.org/' }), /listen\[0\]\.websocket\.see_other_uri/);
  assert.throws(bad({}, 'c2s'), /listen\[0\]\.websocket/);
  const ok = buildConfig({ ...base, listen: [{ port: 5280, type: 'http', websocket: { path: '/ws', origins: ['https://chat.example.org/'] } }] });
  assert.deepEqual(ok.listen[0]!.websocket, { enabled: true, path: '/ws', origins: ['https://chat.example.org'], consider_secure: false, ping_interval: 30, see_other_uri: null, trusted_proxies: [] });
});

test('a server shutdown ends WebSocket sessions with system-shutdown and <close/>', async () => {
  const s = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'http' }] });
  try {
    await s.addUser('alice', 'pw-alice');
    const c = await wsConnect(`ws://127.0.0.1:${s.server.listeners.bound[0]!.port}/xmpp-websocket`);
    await wsLogin(c, 'localhost', 'alice', 'pw-alice', 'shutdown');
    c.ws.on('message', (d) => { if (String(d).startsWith('<close')) c.close(); }); // answer <close/> as clients do
    const stopping = s.stop();
    await assertStreamError(c, 'system-shutdown');
    await stopping;
  } catch (err) {
    await s.stop().catch(() => {});
    throw err;
  }
});
