// XEP-0114 Jabber Component Protocol: a `component` listener and the `components` section. A real component
// (slixmpp's ComponentXMPP, an echo bot that answers disco#info itself) talks to a local user; raw TCP components
// check the handshake (SHA-1 of stream ID + secret), the stream errors (not-authorized, host-unknown,
// invalid-namespace, conflict, invalid-from, improper-addressing), routing from components to users, the server,
// other components and remote domains, and the bounce for a configured component that is not connected.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { buildConfig, ConfigError } from '../../src/core/config/load-config.js';
import { handshakeDigest } from '../../src/interface/component/component-connection.js';
import type { ComponentRegistry } from '../../src/interface/component/component-registry.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertStanza, type StanzaShape } from '../support/stanza-match.js';
import { runSlixmpp, slixmppTestOptions } from '../support/slixmpp.js';
import { stanzaWithId, nextMessage, take } from './interop/xmpp-client.js';
import { until } from './interop/net-util.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
const SECRET = 'echo-secret-f00';

const COMPONENTS = {
  'echo.localhost': { secret: SECRET },
  'gw.localhost': { secret: 's3cret-gw' },
  'gw2.localhost': { secret: 's3cret-gw2' }, // configured, never connected
  'other.localhost': { secret: 's3cret-other' },
};

/** Open a jabber:component:accept stream for `domain`; resolves with the client and the server's stream header. */
async function openComponentStream(port: number, domain: string, ns = 'jabber:component:accept'): Promise<{ c: RawClient; header: string; id: string }> {
  const c = await RawClient.connect(port);
  c.send(`<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
  const header = (await c.expect(/<stream:stream\b[^>]*>/))[0];
  return { c, header, id: /\bid=["']([^"']+)["']/.exec(header)?.[1] ?? '' };
}

/** A raw component, handshake done. */
async function rawComponent(port: number, domain: string, secret: string): Promise<RawClient> {
  const { c, id } = await openComponentStream(port, domain);
  c.send(`<handshake>${handshakeDigest(id, secret)}</handshake>`);
  await c.expect(/<handshake\s*\/>|<handshake><\/handshake>/);
  return c;
}

const ACCEPT = { ns: 'jabber:component:accept' };
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** An error reply with the given id carrying `condition` of `type` (RFC 6120 §8.3). */
const stanzaError = (kind: string, id: string, condition: string, attrs: Record<string, string> = {}, type?: string): StanzaShape => ({
  name: kind, attrs: { type: 'error', id, ...attrs },
  has: [{ name: 'error', ...(type ? { attrs: { type } } : {}), has: [{ name: condition, ns: STANZAS }] }],
});
const streamError = (condition: string) => new RegExp(`<stream:error>\\s*<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']`);

describe('XEP-0114 components: configuration', () => {
  const base = { hosts: ['localhost'], listen: [{ type: 'component' }], components: { 'gw.localhost': { secret: 'x' } } };

  test('a component listener defaults to port 5347 on loopback', () => {
    const cfg = buildConfig(base);
    assert.deepEqual(cfg.listen[0], { port: 5347, ip: '127.0.0.1', type: 'component', starttls_required: true });
    assert.deepEqual(cfg.components, { 'gw.localhost': { secret: 'x' } });
  });

  test('a component domain may not be one of hosts, needs a non-empty secret, and a listener needs components', () => {
    assert.throws(() => buildConfig({ ...base, components: { localhost: { secret: 'x' } } }), (e: unknown) => e instanceof ConfigError && /components\.localhost: .*is one of hosts/.test(e.message));
    assert.throws(() => buildConfig({ ...base, components: { 'gw.localhost': { secret: '' } } }), (e: unknown) => e instanceof ConfigError && /components\.gw\.localhost\.secret: must be a non-empty string/.test(e.message));
    assert.throws(() => buildConfig({ ...base, components: { 'gw.localhost': {} } }), /components\.gw\.localhost\.secret/);
    assert.throws(() => buildConfig({ ...base, components: { 'gw.localhost': { secret: 'x', password: 'y' } } }), /components\.gw\.localhost\.password: unknown option/);
    assert.throws(() => buildConfig({ ...base, components: { 'bad domain!': { secret: 'x' } } }), /not a valid domain name/);
    assert.throws(() => buildConfig({ ...base, components: undefined }), /listen\[0\]\.type: a component listener needs at least one entry under components/);
    assert.throws(() => buildConfig({ ...base, components: ['gw.localhost'] }), /components: must be a mapping/);
  });

  test('XEP-0114 §3 handshake: lowercase hex SHA-1 of the stream ID followed by the secret', () => {
    assert.match(handshakeDigest('id', 'secret'), /^[0-9a-f]{40}$/);
    assert.equal(handshakeDigest('abc', 'def'), '1f8ac10f23c5b5bc1167bda84b833e5c057a77d2'); // sha1("abcdef")
  });
});

describe('XEP-0114 components on xmppd', () => {
  let t: TestServer;
  let port: number;
  const registry = () => t.server.core.router.components as ComponentRegistry;
  const connected = () => registry().list().map((c) => c.domain);

  before(async () => {
    t = await startTestServer({
      listen: [
        { port: 0, ip: '127.0.0.1', type: 'c2s' },
        { port: 0, ip: '127.0.0.1', type: 'component' },
      ],
      components: COMPONENTS,
    });
    port = t.server.port('component');
    await t.addUser('alice', 'pw-alice');
  });
  after(() => t?.stop());

  test('slixmpp ComponentXMPP: handshake, echo bot for a local user, disco#info answered by the component, listed in disco#items', slixmppTestOptions, async () => {
    const run = runSlixmpp(join(SCRIPTS, 'component_echo.py'), [port, 'echo.localhost', SECRET, 20], SCRIPTS);
    let transcript = '';
    run.then((r) => (transcript = r.transcript), () => undefined);
    await until(() => connected().includes('echo.localhost') || transcript, 'the component to connect', 15_000);
    assert.ok(connected().includes('echo.localhost'), transcript);
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'desk');
    // to a user at the component, and to the component itself
    alice.send("<message to='bot@echo.localhost' type='chat' id='m1'><body>hello gateway</body></message>");
    const echo = await nextMessage(alice, /echo: hello gateway/);
    assert.match(echo, /from=["']bot@echo\.localhost["']/);
    assert.match(echo, /to=["']alice@localhost\/desk["']/);
    alice.send("<message to='echo.localhost' type='chat'><body>hello service</body></message>");
    assert.match(await nextMessage(alice, /echo: hello service/), /from=["']echo\.localhost["']/);
    // XEP-0030 disco#info to the component: answered by slixmpp, relayed by the server
    alice.send("<iq to='echo.localhost' type='get' id='di1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const di = await stanzaWithId(alice, 'di1');
    assert.match(di, /type=["']result["']/);
    assert.match(di, /from=["']echo\.localhost["']/);
    assert.match(di, /<identity(?=[^>]*category=["']gateway["'])(?=[^>]*type=["']echo["'])/);
    assert.match(di, /var=["']urn:xmpp:echo:test["']/);
    // the server's disco#items lists the connected component (not the configured but absent ones)
    alice.send("<iq to='localhost' type='get' id='dit1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    const items = await stanzaWithId(alice, 'dit1');
    assert.match(items, /<item jid=["']echo\.localhost["']\/>/);
    assert.doesNotMatch(items, /gw2\.localhost/);
    alice.send("<message to='echo.localhost' type='chat'><body>quit</body></message>");
    const r = await run;
    assert.equal(r.code, 0, r.transcript);
    assert.ok(r.has('handshake_ok') && r.has('done'), r.transcript);
    const got = r.all('received').map((e) => `${e.from} -> ${e.to}: ${e.body}`);
    assert.deepEqual(got, [
      'alice@localhost/desk -> bot@echo.localhost: hello gateway',
      'alice@localhost/desk -> echo.localhost: hello service',
      'alice@localhost/desk -> echo.localhost: quit',
    ], r.transcript);
    // gone: no longer listed, and stanzas to it bounce
    await until(() => !connected().includes('echo.localhost'), 'the component to be unregistered');
    alice.send("<iq to='localhost' type='get' id='dit2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    assert.doesNotMatch(await stanzaWithId(alice, 'dit2'), /echo\.localhost/);
    alice.send("<message to='bot@echo.localhost' type='chat' id='m9'><body>anyone?</body></message>");
    assert.match(await stanzaWithId(alice, 'm9'), /type=["']error["'][\s\S]*<remote-server-timeout /);
    alice.close();
  });

  test('slixmpp ComponentXMPP with a wrong secret: <not-authorized/> stream error, never registered', slixmppTestOptions, async () => {
    const r = await runSlixmpp(join(SCRIPTS, 'component_echo.py'), [port, 'echo.localhost', 'not-the-secret', 5], SCRIPTS);
    assert.equal(r.code, 0, r.transcript);
    assert.equal(r.one('stream_error').condition, 'not-authorized', r.transcript);
    assert.ok(!r.has('handshake_ok'), r.transcript);
    assert.ok(!connected().includes('echo.localhost'));
  });

  test('handshake: the server header names the component, a correct digest gets <handshake/>, a wrong one not-authorized', async () => {
    const { c, header, id } = await openComponentStream(port, 'gw.localhost');
    assert.match(header, /xmlns=["']jabber:component:accept["']/);
    assert.match(header, /from=["']gw\.localhost["']/);
    assert.ok(id.length >= 16, header);
    c.send(`<handshake>${handshakeDigest(id, 'wrong')}</handshake>`);
    assert.match(await c.waitClosed(), streamError('not-authorized'));
    // uppercase hex is accepted (as Prosody and ejabberd do)
    const u = await openComponentStream(port, 'gw.localhost');
    u.c.send(`<handshake>${handshakeDigest(u.id, 's3cret-gw').toUpperCase()}</handshake>`);
    await u.c.expect(/<handshake\/>/);
    u.c.close();
    await until(() => !connected().includes('gw.localhost'), 'gw to disconnect');
  });

  test('unknown component domain → host-unknown; a host of the server → host-unknown; wrong namespace → invalid-namespace; stanza before handshake → not-authorized', async () => {
    for (const domain of ['nope.localhost', 'localhost']) {
      const { c } = await openComponentStream(port, domain);
      assert.match(await c.waitClosed(), streamError('host-unknown'), domain);
    }
    const { c } = await openComponentStream(port, 'gw.localhost', 'jabber:client');
    assert.match(await c.waitClosed(), streamError('invalid-namespace'));
    const early = await openComponentStream(port, 'gw.localhost');
    early.c.send("<message from='gw.localhost' to='alice@localhost'><body>x</body></message>");
    assert.match(await early.c.waitClosed(), streamError('not-authorized'));
  });

  test('a second connection for a connected component gets <conflict/>; the first one keeps working', async () => {
    const first = await rawComponent(port, 'gw.localhost', 's3cret-gw');
    const { c: second, id } = await openComponentStream(port, 'gw.localhost');
    second.send(`<handshake>${handshakeDigest(id, 's3cret-gw')}</handshake>`);
    assert.match(await second.waitClosed(), streamError('conflict'));
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'conflict');
    alice.send("<message to='x@gw.localhost' id='c1'><body>still there?</body></message>");
    const m = (await first.expect(/<message\b[\s\S]*?<\/message>/))[0];
    // delivered in the stream's namespace (no jabber:client declaration on it)
    assertStanza(m, { name: 'message', ns: 'jabber:component:accept', attrs: { from: 'alice@localhost/conflict', to: 'x@gw.localhost', id: 'c1' }, has: [{ name: 'body', text: 'still there?' }] }, ACCEPT);
    first.close();
    alice.close();
    await until(() => !connected().includes('gw.localhost'), 'gw to disconnect');
  });

  test('component → local user, → the server (IQ answered), → another component; presence too', async () => {
    const gw = await rawComponent(port, 'gw.localhost', 's3cret-gw');
    const other = await rawComponent(port, 'other.localhost', 's3cret-other');
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'route');
    gw.send("<message from='bot@gw.localhost/r1' to='alice@localhost/route' type='chat' id='g1'><body>from the gateway</body></message>");
    const m = await nextMessage(alice, /from the gateway/);
    assertStanza(m, { name: 'message', ns: 'jabber:client', attrs: { from: 'bot@gw.localhost/r1', to: 'alice@localhost/route', type: 'chat', id: 'g1' }, has: [{ name: 'body', text: 'from the gateway' }] });
    gw.send("<presence from='bot@gw.localhost' to='alice@localhost/route'><status>gateway online</status></presence>");
    await take(alice, /<presence\b[^>]*from=["']bot@gw\.localhost["'][\s\S]*?gateway online/);
    gw.send("<iq from='gw.localhost' to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    const pong = (await gw.expect(/<iq\b[^>]*id=["']p1["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/))[0];
    assertStanza(pong, { name: 'iq', ns: 'jabber:component:accept', attrs: { type: 'result', id: 'p1', from: 'localhost', to: 'gw.localhost' } }, ACCEPT);
    gw.send("<message from='gw.localhost' to='x@other.localhost' id='o1'><body>between components</body></message>");
    const o = (await other.expect(/<message\b[\s\S]*?<\/message>/))[0];
    assertStanza(o, { name: 'message', ns: 'jabber:component:accept', attrs: { from: 'gw.localhost', to: 'x@other.localhost', id: 'o1' }, has: [{ name: 'body', text: 'between components' }] }, ACCEPT);
    // a user's reply to the component's user
    alice.send("<message to='bot@gw.localhost/r1' type='chat'><body>reply</body></message>");
    assertStanza((await gw.expect(/<message\b[\s\S]*?<\/message>/))[0], { name: 'message', attrs: { from: 'alice@localhost/route', to: 'bot@gw.localhost/r1' }, has: [{ name: 'body', text: 'reply' }] }, ACCEPT);
    // an unknown local account: the error comes back to the component
    gw.send("<message from='bot@gw.localhost' to='nobody@localhost' type='chat' id='nb1'><body>?</body></message>");
    assertStanza((await gw.expect(/<message\b[^>]*id=["']nb1["'][\s\S]*?<\/message>/))[0], stanzaError('message', 'nb1', 'service-unavailable', { from: 'nobody@localhost', to: 'bot@gw.localhost' }), ACCEPT);
    // a remote domain: federation does not originate from component domains, so it is answered, not dropped
    gw.send("<message from='bot@gw.localhost' to='someone@remote.example' type='chat' id='r1'><body>?</body></message>");
    assertStanza((await gw.expect(/<message\b[^>]*id=["']r1["'][\s\S]*?<\/message>/))[0], stanzaError('message', 'r1', 'remote-server-not-found', { from: 'someone@remote.example', to: 'bot@gw.localhost' }), ACCEPT);
    for (const c of [gw, other, alice]) c.close();
    await until(() => connected().length === 0, 'components to disconnect');
  });

  test("'from' outside the component's domain (another domain, a subdomain, none) → invalid-from; no 'to' → improper-addressing", async () => {
    const cases: Array<[string, string]> = [
      ["<message from='alice@localhost' to='alice@localhost'><body>spoof</body></message>", 'invalid-from'],
      ["<message from='x@sub.gw.localhost' to='alice@localhost'><body>sub</body></message>", 'invalid-from'],
      ["<message from='other.localhost' to='alice@localhost'><body>other component</body></message>", 'invalid-from'],
      ["<message to='alice@localhost'><body>no from</body></message>", 'invalid-from'],
      ["<message from='gw.localhost'><body>no to</body></message>", 'improper-addressing'],
      ["<foo from='gw.localhost' to='localhost'/>", 'unsupported-stanza-type'],
    ];
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'spoof');
    for (const [stanza, condition] of cases) {
      const gw = await rawComponent(port, 'gw.localhost', 's3cret-gw');
      gw.send(stanza);
      assert.match(await gw.waitClosed(), streamError(condition), stanza);
      await until(() => !connected().includes('gw.localhost'), 'gw to disconnect');
    }
    // none of them reached alice
    alice.send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
    await stanzaWithId(alice, 'sync');
    assert.doesNotMatch(alice.buffer, /spoof|no from|other component|<body>sub<\/body>/);
    alice.close();
  });

  test('a configured component that is not connected: stanzas bounce with remote-server-timeout (wait), errors are not answered', async () => {
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'bounce');
    alice.send("<message to='bot@gw2.localhost' type='chat' id='b1'><body>hello?</body></message>");
    const b1 = await stanzaWithId(alice, 'b1');
    assertStanza(b1, {
      name: 'message', attrs: { type: 'error', id: 'b1', from: 'bot@gw2.localhost' },
      has: [{ name: 'error', attrs: { type: 'wait' }, has: [{ name: 'remote-server-timeout', ns: STANZAS }, { name: 'text', ns: STANZAS, text: /not connected/ }] }],
    });
    alice.send("<iq to='gw2.localhost' type='get' id='b2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    assertStanza(await stanzaWithId(alice, 'b2'), stanzaError('iq', 'b2', 'remote-server-timeout', { from: 'gw2.localhost' }, 'wait'));
    alice.send("<message to='gw2.localhost' type='error' id='b3'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    alice.send("<iq type='get' id='sync2'><ping xmlns='urn:xmpp:ping'/></iq>");
    await stanzaWithId(alice, 'sync2');
    assert.doesNotMatch(alice.buffer, /id=["']b3["']/, 'an error is never answered with an error');
    // a domain that is neither a host nor a component still goes the remote way (federation is off here)
    alice.send("<message to='bot@gw3.localhost' type='chat' id='b4'><body>?</body></message>");
    assertStanza(await stanzaWithId(alice, 'b4'), stanzaError('message', 'b4', 'remote-server-not-found', { from: 'bot@gw3.localhost' }));
    alice.close();
  });

  test('server shutdown ends component streams with system-shutdown', async () => {
    const t2 = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'component' }], components: COMPONENTS });
    const gw = await rawComponent(t2.server.port('component'), 'gw.localhost', 's3cret-gw');
    await t2.stop();
    assert.match(await gw.waitClosed(), streamError('system-shutdown'));
  });
});

describe('XEP-0114 components: the send queue (max_send_queue, RFC 6120 §13.12)', () => {
  let t: TestServer;
  let port: number;
  const connected = () => (t.server.core.router.components as ComponentRegistry).list().map((c) => c.domain);

  before(async () => {
    t = await startTestServer({
      listen: [
        { port: 0, ip: '127.0.0.1', type: 'c2s' },
        { port: 0, ip: '127.0.0.1', type: 'component' },
      ],
      components: COMPONENTS,
      // alice's bursts are not what this is about: her c2s stream is read unshaped
      max_send_queue: 262_144, max_stanza_size: 100_000, limits: { c2s: { bytes_per_second: 0 } },
    });
    port = t.server.port('component');
    await t.addUser('alice', 'pw-alice');
  });
  after(() => t?.stop());

  test('a component that reads slowly gets bursts larger than max_send_queue whole and in order', async () => {
    const gw = await rawComponent(port, 'gw.localhost', 's3cret-gw');
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'burst');
    // The component reads in spurts: 20 ms reading, 20 ms not.
    const spurts = setInterval(() => (gw.socket.isPaused() ? gw.socket.resume() : gw.socket.pause()), 20);
    const body = 'y'.repeat(60_000);
    const n = 48;
    try {
      for (let round = 0; round < n / 8; round++) {
        alice.send(Array.from({ length: 8 }, (_, i) => `<message to='bot@gw.localhost' type='chat' id='g${round * 8 + i}'><body>${body}</body></message>`).join(''));
        for (let i = 0; i < 8; i++) {
          const m = await gw.expect(/<message\b[^>]*\bid=["'](g\d+)["'][\s\S]*?<\/message>/, 20_000);
          assert.equal(m[1], `g${round * 8 + i}`);
        }
      }
    } finally {
      clearInterval(spurts);
      gw.socket.resume();
    }
    assert.deepEqual(connected(), ['gw.localhost']);
    assert.doesNotMatch(alice.buffer, /type=["']error["']/);
    gw.close();
    alice.close();
    await until(() => connected().length === 0, 'the component is gone');
  });

  test('a component that stops reading is closed with policy-violation at max_send_queue; stanzas for it then bounce', async () => {
    const gw = await rawComponent(port, 'gw.localhost', 's3cret-gw');
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'stuck');
    gw.socket.pause();
    const body = 'x'.repeat(60_000);
    let sent = 0;
    while (connected().includes('gw.localhost')) {
      assert.ok(sent < 800, 'the component should have been dropped long before 50 MB');
      for (let i = 0; i < 8; i++) alice.send(`<message to='bot@gw.localhost' id='f${sent++}'><body>${body}</body></message>`);
      alice.send(`<iq to='localhost' type='get' id='pace${sent}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await alice.expect(new RegExp(`<iq [^>]*id=["']pace${sent}["']`), 10_000);
      alice.buffer = '';
    }
    // gone for the router at once, not after the linger time: the next stanza bounces
    alice.send("<message to='bot@gw.localhost' type='chat' id='after'><body>?</body></message>");
    assertStanza(await stanzaWithId(alice, 'after'), stanzaError('message', 'after', 'remote-server-timeout', { from: 'bot@gw.localhost' }, 'wait'));
    gw.socket.resume();
    const text = await gw.waitClosed(10_000);
    assert.match(text.slice(-400), /<\/message><stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text [^>]*>[^<]*not reading<\/text><\/stream:error><\/stream:stream>$/);
    alice.close();
  });
});
