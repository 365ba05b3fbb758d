// The MUC service over federation: two in-process xmppd servers over loopback s2s (TLS with certificates of
// a test CA). bob@b.test joins a room of conference.a.test, chats with alice, and leaves; b.test reaches
// the service domain itself (its certificate names conference.a.test), and a remote user may not create rooms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { TestCa } from '../../test/e2e/interop/test-ca.js';
import { XmppdPeer } from '../../test/e2e/interop/xmppd-peer.js';
import { freePorts } from '../../test/e2e/interop/net-util.js';
import { login } from '../../test/e2e/interop/xmpp-client.js';
import { assertStanza, stanzaError } from '../../test/support/stanza-match.js';
import { codes, createInstant, item, join, joinError, next, presenceFrom, sync } from './test-support.js';

const tmp = mkdtempSync(joinPath(tmpdir(), 'xmppd-muc-s2s-'));
const ca = new TestCa(tmp);
let a: XmppdPeer;
let b: XmppdPeer;
const ROOM = 'federated@conference.a.test';

before(async () => {
  const [pa, pb] = await freePorts(2);
  a = await XmppdPeer.start({
    domain: 'a.test', s2sPort: pa!, cert: ca.issue('a', { dns: ['a.test', 'conference.a.test'] }),
    s2s: { cafile: ca.certFile, overrides: { 'b.test': `127.0.0.1:${pb}` } }, users: { alice: 'pw-alice' },
    config: { modules: { disco: {}, roster: {}, presence: {}, ping: {}, muc: {} } },
  });
  b = await XmppdPeer.start({
    domain: 'b.test', s2sPort: pb!, cert: ca.issue('b', { dns: ['b.test'] }),
    s2s: { cafile: ca.certFile, overrides: { 'a.test': `127.0.0.1:${pa}`, 'conference.a.test': `127.0.0.1:${pa}` } }, users: { bob: 'pw-bob' },
    config: { modules: { disco: {}, roster: {}, presence: {}, ping: {} } },
  });
});
after(async () => {
  await a?.stop();
  await b?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('bob@b.test joins a room on conference.a.test over s2s, chats with alice, leaves; he may not create rooms there', async () => {
  const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'desk' });
  const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'phone' });
  await createInstant(alice.c, ROOM, 'Alice');
  const got = await join(bob.c, `${ROOM}/Bob`);
  assert.deepEqual(codes(got.find((e) => e.attrs.from === `${ROOM}/Bob`)!), [110]);
  assert.equal(item(await next(alice.c, presenceFrom(`${ROOM}/Bob`))).jid, 'bob@b.test/phone');
  bob.c.send(`<message to='${ROOM}' type='groupchat' id='fed1'><body>hello from b.test</body></message>`);
  for (const c of [alice.c, bob.c]) {
    assertStanza(await next(c, /<message[^>]*id=["']fed1["'][\s\S]*?<\/message>/, 10_000), { name: 'message', attrs: { from: `${ROOM}/Bob`, type: 'groupchat' }, has: [{ name: 'body', text: 'hello from b.test' }] });
  }
  assertStanza(await joinError(bob.c, 'mine@conference.a.test/Bob'), stanzaError('not-allowed', 'presence'));
  bob.c.close(); // bob's server tells the room he is gone (directed presence, RFC 6121 §4.6.3)
  const gone = await next(alice.c, presenceFrom(`${ROOM}/Bob`), 10_000);
  assert.equal(gone.attrs.type, 'unavailable');
  await sync(alice.c);
  alice.c.close();
});
