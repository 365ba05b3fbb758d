// End to end over real TCP/TLS: stream negotiation, STARTTLS, every SASL mechanism, bind, conflicts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
  await t.addUser('alice', 'alice-secret');
  await t.addUser('bob', 'b0b pässword');
});
after(() => t.stop());

test('the first features require STARTTLS and offer nothing else', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  const header = await c.expect(/<stream:stream [^>]*>/);
  assert.match(header[0], /from=["']localhost["']/);
  assert.match(header[0], /version=["']1.0["']/);
  assert.match(header[0], /id='[^']+'/);
  const f = await c.features();
  assert.match(f, /<starttls xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']><required\/><\/starttls>/);
  assert.doesNotMatch(f, /mechanisms/);
  c.close();
});

test('SASL before STARTTLS is refused with encryption-required', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  await c.features();
  const r = await c.authPlain('alice', 'alice-secret');
  assert.match(r, /<encryption-required\/>/);
  c.close();
});

test('after STARTTLS the mechanisms include every SCRAM variant, -PLUS and XEP-0440 channel bindings', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  await c.features();
  await c.starttls();
  c.openStream();
  const f = await c.features();
  for (const m of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
    assert.match(f, new RegExp(`<mechanism>${m}</mechanism>`));
  }
  assert.match(f, /<sasl-channel-binding xmlns=["']urn:xmpp:sasl-cb:0["']><channel-binding type=["']tls-exporter["']\/><channel-binding type=["']tls-server-end-point["']\/>/);
  c.close();
});

for (const [mech, cb] of [
  ['SCRAM-SHA-1', undefined], ['SCRAM-SHA-256', undefined],
  ['SCRAM-SHA-1-PLUS', 'tls-exporter'], ['SCRAM-SHA-256-PLUS', 'tls-exporter'],
  ['SCRAM-SHA-1-PLUS', 'tls-server-end-point'], ['SCRAM-SHA-256-PLUS', 'tls-server-end-point'],
] as const) {
  test(`alice logs in with ${mech}${cb ? ` (${cb})` : ''} over STARTTLS and binds`, async () => {
    const c = await RawClient.connect(t.c2sPort);
    c.openStream();
    await c.features();
    await c.starttls();
    c.openStream();
    await c.features();
    const r = await c.authScram(mech, 'alice', 'alice-secret', cb);
    assert.match(r, /^<success/);
    c.openStream();
    const f = await c.features();
    assert.match(f, /<bind xmlns=["']urn:ietf:params:xml:ns:xmpp-bind["']\/>/);
    assert.match(f, /<session xmlns=["']urn:ietf:params:xml:ns:xmpp-session["']><optional\/><\/session>/);
    const jid = await c.bind('desk');
    assert.equal(jid, 'alice@localhost/desk');
    c.close();
  });
}

test('SCRAM-PLUS with channel-binding data from another connection fails', async () => {
  const other = await RawClient.connect(t.c2sTlsPort, { tls: true });
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c.openStream();
  await c.features();
  const wrong = (await import('../../src/core/sasl/channel-binding.js')).tlsExporter(other.tlsSocket)!;
  const r = await c.authScram('SCRAM-SHA-256-PLUS', 'alice', 'alice-secret', 'tls-exporter', wrong);
  assert.match(r, /<failure[\s\S]*<not-authorized\/>/);
  other.close();
  c.close();
});

test('PLAIN over direct TLS (XEP-0368) with a non-ASCII password (saslprep)', async () => {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  assert.equal(c.tlsSocket.alpnProtocol, 'xmpp-client');
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(c.tlsSocket.getProtocol()!));
  c.openStream();
  const f = await c.features();
  assert.doesNotMatch(f, /starttls/);
  const r = await c.authPlain('bob', 'b0b pässword');
  assert.match(r, /^<success/);
  c.close();
});

test('a wrong password gets not-authorized; repeated failures end the connection', async () => {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c.openStream();
  await c.features();
  assert.match(await c.authScram('SCRAM-SHA-1', 'alice', 'wrong'), /<not-authorized\/>/);
  assert.match(await c.authPlain('alice', 'wrong'), /<not-authorized\/>/);
  assert.match(await c.authPlain('nobody', 'wrong'), /<not-authorized\/>/);
  const rest = await c.waitClosed();
  assert.match(rest, /<stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
});

test('an unknown mechanism gets invalid-mechanism; bad base64 gets incorrect-encoding; abort gets aborted', async () => {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c.openStream();
  await c.features();
  c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>");
  await c.expect(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><invalid-mechanism\/>/);
  c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!notbase64</auth>");
  await c.expect(/<incorrect-encoding\/>/);
  c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'/>");
  await c.expect(/<challenge/);
  c.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  await c.expect(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><aborted\/>/);
  c.close();
});

test('a malformed SCRAM message gets malformed-request', async () => {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c.openStream();
  await c.features();
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from('garbage').toString('base64')}</auth>`);
  await c.expect(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><malformed-request\/>/);
  c.close();
});

test('stanzas before authentication end the stream with not-authorized', async () => {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c.openStream();
  await c.features();
  c.send("<message to='alice@localhost'><body>hi</body></message>");
  const rest = await c.waitClosed();
  assert.match(rest, /<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
});

test('server-generated resource, and a bad requested resource gets bad-request', async () => {
  const { c, jid } = await RawClient.login(t.c2sPort, 'alice', 'alice-secret');
  assert.match(jid, /^alice@localhost\/.+/);
  c.close();
  const c2 = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c2.openStream();
  await c2.features();
  await c2.authPlain('alice', 'alice-secret');
  c2.openStream();
  await c2.features();
  c2.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bell\u0009tab</resource></bind></iq>");
  await c2.expect(/<iq [^>]*type=["']error["'][\s\S]*<bad-request/);
  c2.close();
});

test('binding the same resource again replaces the older session, which gets <conflict/>', async () => {
  const first = await RawClient.login(t.c2sPort, 'alice', 'alice-secret', 'phone');
  const second = await RawClient.login(t.c2sPort, 'alice', 'alice-secret', 'phone');
  assert.equal(second.jid, 'alice@localhost/phone');
  const rest = await first.c.waitClosed();
  assert.match(rest, /<stream:error><conflict xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  assert.equal(t.server.core.sessions.resources(second.c && (await import('../../src/core/jid.js')).Jid.parse('alice@localhost')).length, 1);
  second.c.close();
});

test('the stream header is checked: namespace, version, host', async () => {
  const bad = async (header: string, condition: string) => {
    const c = await RawClient.connect(t.c2sPort);
    c.send(header);
    const rest = await c.waitClosed();
    assert.match(rest, /<stream:stream /, 'the server sends its own header first');
    assert.match(rest, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/>`));
  };
  await bad("<stream:stream to='localhost' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", 'invalid-namespace');
  await bad("<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>", 'invalid-namespace');
  await bad("<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", 'unsupported-version');
  await bad("<stream:stream to='elsewhere.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", 'host-unknown');
});

test('the client closes the stream and the server closes it too', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-secret', 'closer');
  c.send('</stream:stream>');
  const rest = await c.waitClosed();
  assert.match(rest, /<\/stream:stream>/);
  // the session is gone
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(t.server.core.sessions.all().some((s) => s.jid.resource === 'closer'), false);
});
