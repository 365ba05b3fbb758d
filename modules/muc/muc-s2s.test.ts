// The MUC service over federation: two in-process xmppd servers over loopback s2s (TLS with certificates of
// a test CA). bob@b.test joins a room of conference.a.test, chats with alice, and leaves; b.test reaches
// the service domain itself (its certificate names conference.a.test), a remote user may not create rooms, and one
// remote user joins a room from at most max_sessions_per_occupant clients.
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

test('a remote user joins one room from at most 5 clients (max_sessions_per_occupant): the sixth is service-unavailable, another nick a conflict; alice chats on', async () => {
  const room = 'flooded@conference.a.test';
  const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'flood' });
  await createInstant(alice.c, room, 'Alice');
  const bobs = [];
  for (let i = 0; i < 6; i++) bobs.push(await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: `r${i}` }));
  for (const bob of bobs.slice(0, 5)) await join(bob.c, `${room}/Bob`);
  const refused = await joinError(bobs[5]!.c, `${room}/Bob`);
  assertStanza(refused, stanzaError('service-unavailable', 'presence'));
  assert.match(refused.getChild('error')?.getChildText('text') ?? '', /5 sessions/);
  assertStanza(await joinError(bobs[5]!.c, `${room}/Bobby`), stanzaError('conflict', 'presence'));
  // creating a room stays refused to remote users, whatever the nick or resource
  assertStanza(await joinError(bobs[5]!.c, 'bobs-own@conference.a.test/Bob'), stanzaError('not-allowed', 'presence'));
  // every one of bob's 5 joined clients still gets the room's messages
  alice.c.send(`<message to='${room}' type='groupchat' id='flood1'><body>still here</body></message>`);
  for (const bob of bobs.slice(0, 5)) await next(bob.c, /<message[^>]*id=["']flood1["'][\s\S]*?<\/message>/, 10_000);
  await sync(alice.c);
  for (const bob of bobs) bob.c.close();
  alice.c.close();
});
