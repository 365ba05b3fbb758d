// End to end: routing between two accounts, the bundled modules (disco, ping, version, time) and the
// stanza errors of RFC 6120 §8.3 over real sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertStanza, type StanzaShape } from '../support/stanza-match.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** An error reply of `kind` with the given id carrying `condition` (RFC 6120 §8.3). */
const stanzaError = (kind: string, id: string, condition: string, attrs: Record<string, string> = {}): StanzaShape => ({
  name: kind, attrs: { type: 'error', id, ...attrs }, has: [{ name: 'error', has: [{ name: condition, ns: STANZAS }] }],
});

let t: TestServer;
before(async () => {
  t = await startTestServer();
  await t.addUser('alice', 'pw-alice');
  await t.addUser('bob', 'pw-bob');
});
after(() => t.stop());

test('alice sends a chat message to bob’s bare JID; bob receives it stamped with alice’s full JID', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'laptop');
  const b = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'phone');
  a.c.send("<message to='bob@localhost' type='chat' id='m1'><body>hello bob €</body></message>");
  const m = await b.c.expect(/<message[^>]*>[\s\S]*?<\/message>/);
  assertStanza(m[0], { name: 'message', ns: 'jabber:client', attrs: { from: 'alice@localhost/laptop', to: 'bob@localhost', type: 'chat', id: 'm1' }, has: [{ name: 'body', text: 'hello bob €' }] });
  // and to a full JID, back
  b.c.send("<message to='alice@localhost/laptop' type='chat' id='m2'><body>hi alice</body></message>");
  const r = await a.c.expect(/<message[^>]*>[\s\S]*?<\/message>/);
  assertStanza(r[0], { name: 'message', attrs: { from: 'bob@localhost/phone', id: 'm2' }, has: [{ name: 'body', text: 'hi alice' }] });
  a.c.close();
  b.c.close();
});

test('a spoofed from ends the stream with invalid-from', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'spoof');
  a.c.send("<message from='bob@localhost/phone' to='bob@localhost'><body>x</body></message>");
  assert.match(await a.c.waitClosed(), /<invalid-from xmlns=/);
});

test('a message to an unknown or offline user bounces with service-unavailable', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'bounce');
  a.c.send("<message to='nobody@localhost' type='chat' id='u1'><body>x</body></message>");
  const e = await a.c.expect(/<message[^>]*type=["']error["'][^>]*>[\s\S]*?<\/message>/);
  assertStanza(e[0], stanzaError('message', 'u1', 'service-unavailable', { from: 'nobody@localhost' }));
  a.c.close();
});

test('a remote domain bounces with remote-server-not-found; a malformed to gets jid-malformed', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'remote');
  a.c.send("<message to='carol@remote.example' id='r1'><body>x</body></message>");
  const e = await a.c.expect(/<message[^>]*type=["']error["'][^>]*>[\s\S]*?<\/message>/);
  assertStanza(e[0], stanzaError('message', 'r1', 'remote-server-not-found', { from: 'carol@remote.example' }));
  a.c.send("<message to='bad@@jid' id='r2'><body>x</body></message>");
  const e2 = await a.c.expect(/<message[^>]*id=["']r2["'][^>]*>[\s\S]*?<\/message>/);
  assertStanza(e2[0], stanzaError('message', 'r2', 'jid-malformed'));
  a.c.close();
});

test('ping, version, time and disco#info answer from the server', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'mods');
  const p = await a.c.iq('p1', "<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
  assertStanza(p, { name: 'iq', attrs: { type: 'result', id: 'p1', from: 'localhost' }, children: [] });

  const v = await a.c.iq('v1', "<iq to='localhost' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>");
  // exactly name and version: the OS is not shown unless show_os is set
  assertStanza(v, { name: 'iq', attrs: { type: 'result', id: 'v1' }, children: [{ name: 'query', ns: 'jabber:iq:version', children: [{ name: 'name', text: 'xmppd' }, { name: 'version', text: /^\d+\.\d+\.\d+$/ }] }] });

  const tm = await a.c.iq('t1', "<iq to='localhost' type='get' id='t1'><time xmlns='urn:xmpp:time'/></iq>");
  assertStanza(tm, { name: 'iq', attrs: { type: 'result', id: 't1' }, children: [{ name: 'time', ns: 'urn:xmpp:time', children: [{ name: 'tzo', text: /^[+-]\d\d:\d\d$/ }, { name: 'utc', text: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/ }] }] });

  const d = await a.c.iq('d1', "<iq to='localhost' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  const features = ['urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items'];
  assertStanza(d, { name: 'iq', attrs: { type: 'result', id: 'd1' }, children: [{
    name: 'query', ns: 'http://jabber.org/protocol/disco#info',
    has: [{ name: 'identity', attrs: { category: 'server', type: 'im' } }, ...features.map((f) => ({ name: 'feature', attrs: { var: f } }))],
  }] });

  const d2 = await a.c.iq('d2', "<iq to='localhost' type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
  assertStanza(d2, { name: 'iq', attrs: { type: 'result', id: 'd2' }, children: [{ name: 'query', ns: 'http://jabber.org/protocol/disco#items' }] });

  // account disco: an IQ with no 'to' is answered on behalf of the account, without a 'from'
  const d3 = await a.c.iq('d3', "<iq type='get' id='d3'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assertStanza(d3, { name: 'iq', attrs: { type: 'result', id: 'd3', from: null }, children: [{
    name: 'query', ns: 'http://jabber.org/protocol/disco#info', has: [{ name: 'identity', attrs: { category: 'account', type: 'registered' } }],
  }] });
  a.c.close();
});

test('IQ errors: unknown namespace gets service-unavailable; no child gets bad-request; results are never answered', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'iqerr');
  assertStanza(await a.c.iq('x1', "<iq to='localhost' type='get' id='x1'><query xmlns='urn:example:unknown'/></iq>"),
    stanzaError('iq', 'x1', 'service-unavailable', { from: 'localhost' }));
  assertStanza(await a.c.iq('x2', "<iq to='localhost' type='get' id='x2'/>"), stanzaError('iq', 'x2', 'bad-request'));
  a.c.send("<iq to='localhost' type='result' id='x3'/><iq to='localhost' type='error' id='x4'/>");
  a.c.send("<iq to='localhost' type='get' id='x5'><ping xmlns='urn:xmpp:ping'/></iq>");
  const next = await a.c.expect(/<iq[^>]*id=["'](x3|x4|x5)["']/);
  assert.equal(next[1], 'x5', 'the result and error IQs were not answered');
  // an IQ to an offline full JID bounces
  assertStanza(await a.c.iq('x6', "<iq to='bob@localhost/gone' type='get' id='x6'><ping xmlns='urn:xmpp:ping'/></iq>"),
    stanzaError('iq', 'x6', 'service-unavailable', { from: 'bob@localhost/gone' }));
  a.c.close();
});

test('an IQ between two clients is delivered and the answer comes back', async () => {
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'iqa');
  const b = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'iqb');
  a.c.send("<iq to='bob@localhost/iqb' type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>");
  const got = await b.c.expect(/<iq[^>]*id=["']q1["'][\s\S]*?<\/iq>/);
  assertStanza(got[0], { name: 'iq', attrs: { type: 'get', from: 'alice@localhost/iqa', to: 'bob@localhost/iqb' }, children: [{ name: 'query', ns: 'jabber:iq:version' }] });
  b.c.send("<iq to='alice@localhost/iqa' type='result' id='q1'><query xmlns='jabber:iq:version'><name>b</name></query></iq>");
  const ans = await a.c.expect(/<iq[^>]*id=["']q1["'][\s\S]*?<\/iq>/);
  assertStanza(ans[0], { name: 'iq', attrs: { type: 'result', from: 'bob@localhost/iqb' }, children: [{ name: 'query', ns: 'jabber:iq:version', children: [{ name: 'name', text: 'b' }] }] });
  a.c.close();
  b.c.close();
});

test('a banned account: its sessions end, its logins fail with account-disabled after the proof; unban restores it', async () => {
  const { runCommand } = await import('../../src/core/admin/commands.js');
  await t.addUser('mallory', 'pw-mallory');
  const { c } = await RawClient.login(t.c2sPort, 'mallory', 'pw-mallory', 'm');
  await runCommand(t.server.core.admin!, 'user.ban', { jid: 'mallory@localhost', reason: 'spam' });
  assert.match(await c.waitClosed(), /<not-authorized /);
  const c2 = await RawClient.connect(t.c2sTlsPort, { tls: true });
  c2.openStream();
  await c2.features();
  assert.match(await c2.authPlain('mallory', 'wrong'), /<not-authorized\/>/, 'a wrong password says nothing about the ban');
  const r = await c2.authPlain('mallory', 'pw-mallory');
  assert.match(r, /<account-disabled\/>/);
  assert.match(r + c2.buffer, /<text[^>]*>spam<\/text>/);
  c2.close();
  await runCommand(t.server.core.admin!, 'user.unban', { jid: 'mallory@localhost' });
  await assert.rejects(runCommand(t.server.core.admin!, 'user.unban', { jid: 'mallory@localhost' }), /is not banned/);
  (await RawClient.login(t.c2sPort, 'mallory', 'pw-mallory', 'back')).c.close();
  // removing the account removes its ban row too
  await runCommand(t.server.core.admin!, 'user.ban', { jid: 'mallory@localhost' });
  await t.server.core.accounts.remove((await import('../../src/core/jid.js')).Jid.parse('mallory@localhost'));
  assert.equal((await t.server.core.store.table('account_bans').range({})).length, 0);
});
