// private over real sockets: XEP-0049 set/get, the error cases of §2.3 (another user's data, no child,
// reserved namespaces, several namespaces in a get), the size limit, persistence and account removal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/core/jid.js';

const CONFIG = { modules: { disco: {}, private: {} } };
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-private-'));
  t = await startTestServer(CONFIG, { dir });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource);

const iq = (c: RawClient, id: string, stanza: string) => c.iq(id, stanza);

const BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='room@muc.example' autojoin='true' name='R &amp; D'><nick>ali</nick></conference></storage>";

test('jabber:iq:private is advertised', async () => {
  const a = await login('alice', 'disco');
  assert.match(await iq(a.c, 'd1', "<iq to='localhost' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), /<feature var=["']jabber:iq:private["']\/>/);
  assert.match(await iq(a.c, 'd2', "<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), /<feature var=["']jabber:iq:private["']\/>/);
  a.c.close();
});

test('alice stores bookmarks and reads them back; an unknown namespace returns the empty requested element', async () => {
  const a = await login('alice', 'laptop');
  const empty = await iq(a.c, 'g0', "<iq type='get' id='g0'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  assert.match(empty, /type=["']result["'][\s\S]*<query xmlns=["']jabber:iq:private["']><storage xmlns=["']storage:bookmarks["']\/><\/query>/);

  assert.match(await iq(a.c, 's1', `<iq type='set' id='s1'><query xmlns='jabber:iq:private'>${BOOKMARKS}</query></iq>`), /type=["']result["']/);
  const got = await iq(a.c, 'g1', "<iq type='get' id='g1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  assert.match(got, /<query xmlns=["']jabber:iq:private["']><storage xmlns=["']storage:bookmarks["']><conference jid=["']room@muc.example["'] autojoin=["']true["'] name=["']R &amp; D["']><nick>ali<\/nick><\/conference><\/storage><\/query>/);

  // another resource of alice, with an explicit 'to' of her bare JID, sees the same data
  const a2 = await login('alice', 'phone');
  const other = await iq(a2.c, 'g2', "<iq to='alice@localhost' type='get' id='g2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  assert.match(other, /<nick>ali<\/nick>/);

  // several elements of one namespace are stored (and returned) together; a set replaces the slot
  assert.match(await iq(a.c, 's2', "<iq type='set' id='s2'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'>1</a><b xmlns='urn:example:prefs'>2</b></query></iq>"), /type=["']result["']/);
  assert.match(await iq(a.c, 'g3', "<iq type='get' id='g3'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'/></query></iq>"),
    /<query xmlns=["']jabber:iq:private["']><a xmlns=["']urn:example:prefs["']>1<\/a><b xmlns=["']urn:example:prefs["']>2<\/b><\/query>/);
  assert.match(await iq(a.c, 's3', "<iq type='set' id='s3'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'>3</a></query></iq>"), /type=["']result["']/);
  const replaced = await iq(a.c, 'g4', "<iq type='get' id='g4'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'/></query></iq>");
  assert.match(replaced, /<a xmlns=["']urn:example:prefs["']>3<\/a><\/query>/);
  assert.doesNotMatch(replaced, /<b /);
  // the bookmarks slot was not touched by the other namespace
  assert.match(await iq(a.c, 'g5', "<iq type='get' id='g5'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"), /<nick>ali<\/nick>/);
  a.c.close();
  a2.c.close();
});

test('bob can neither read nor write alice’s private data (forbidden)', async () => {
  const b = await login('bob', 'nosy');
  const g = await iq(b.c, 'f1', "<iq to='alice@localhost' type='get' id='f1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  assert.match(g, /type=["']error["'][\s\S]*<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
  assert.doesNotMatch(g, /<nick>/);
  const s = await iq(b.c, 'f2', "<iq to='alice@localhost' type='set' id='f2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
  assert.match(s, /<forbidden /);
  // bob's own slot is separate from alice's
  assert.match(await iq(b.c, 'f3', "<iq type='get' id='f3'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"),
    /<query xmlns=["']jabber:iq:private["']><storage xmlns=["']storage:bookmarks["']\/><\/query>/);
  b.c.close();
});

test('errors: no child is not-acceptable; reserved namespaces are not-acceptable; two namespaces in a get is a bad request', async () => {
  const a = await login('alice', 'errors');
  assert.match(await iq(a.c, 'e1', "<iq type='get' id='e1'><query xmlns='jabber:iq:private'/></iq>"), /type=["']error["'][\s\S]*<not-acceptable /);
  assert.match(await iq(a.c, 'e2', "<iq type='set' id='e2'><query xmlns='jabber:iq:private'/></iq>"), /<not-acceptable /);
  for (const [id, child] of [
    ['e3', "<vCard xmlns='vcard-temp'><FN>x</FN></vCard>"],
    ['e4', "<query xmlns='jabber:iq:roster'/>"],
    ['e5', "<query xmlns='jabber:iq:private'/>"],
    ['e6', "<x xmlns='http://jabber.org/protocol/muc'/>"],
    ['e7', '<unqualified/>'], // inherits jabber:iq:private
  ] as const) {
    assert.match(await iq(a.c, id, `<iq type='set' id='${id}'><query xmlns='jabber:iq:private'>${child}</query></iq>`), /<not-acceptable /, child);
  }
  assert.match(await iq(a.c, 'e8', "<iq type='get' id='e8'><query xmlns='jabber:iq:private'><vCard xmlns='vcard-temp'/></query></iq>"), /<not-acceptable /);
  // a refused set stores nothing, not even its acceptable part
  assert.match(await iq(a.c, 'e9', "<iq type='set' id='e9'><query xmlns='jabber:iq:private'><ok xmlns='urn:example:ok'/><query xmlns='jabber:iq:roster'/></query></iq>"), /<not-acceptable /);
  assert.match(await iq(a.c, 'e10', "<iq type='get' id='e10'><query xmlns='jabber:iq:private'><ok xmlns='urn:example:ok'/></query></iq>"), /<ok xmlns=["']urn:example:ok["']\/><\/query>/);
  assert.match(await iq(a.c, 'e11', "<iq type='get' id='e11'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'/><b xmlns='urn:example:b'/></query></iq>"), /<bad-request /);
  assert.match(await iq(a.c, 'e12', "<iq type='get' id='e12'><other xmlns='jabber:iq:private'/></iq>"), /<bad-request /);
  a.c.close();
});

test('max_size: data over 64 KiB is refused with policy-violation; a smaller max_size applies after reload', async () => {
  const a = await login('alice', 'big');
  const big = `<note xmlns='urn:example:notes'>${'x'.repeat(70_000)}</note>`;
  assert.match(await iq(a.c, 'm1', `<iq type='set' id='m1'><query xmlns='jabber:iq:private'>${big}</query></iq>`), /<policy-violation /);
  const medium = `<note xmlns='urn:example:notes'>${'y'.repeat(1000)}</note>`;
  assert.match(await iq(a.c, 'm2', `<iq type='set' id='m2'><query xmlns='jabber:iq:private'>${medium}</query></iq>`), /type=["']result["']/);
  await t.server.modules.reload('private', { max_size: 512 });
  try {
    assert.match(await iq(a.c, 'm3', `<iq type='set' id='m3'><query xmlns='jabber:iq:private'>${medium}</query></iq>`), /<policy-violation /);
  } finally {
    await t.server.modules.reload('private', {});
  }
  a.c.close();
});

test('private data survives a server restart; removing the account deletes all of it', async () => {
  await t.stop();
  t = await startTestServer(CONFIG, { dir });
  const a = await login('alice', 'after');
  assert.match(await iq(a.c, 'r1', "<iq type='get' id='r1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"), /<nick>ali<\/nick>/);
  a.c.close();
  const rows = () => t.server.core.store.table('private_storage').count({ prefix: 'localhost/alice\u0000' });
  assert.ok((await rows()) >= 3);
  await t.server.core.accounts.remove(Jid.parse('alice@localhost'));
  assert.equal(await rows(), 0);
  await t.addUser('alice', 'pw-alice');
  const n = await login('alice', 'new');
  assert.match(await iq(n.c, 'r2', "<iq type='get' id='r2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>"),
    /<query xmlns=["']jabber:iq:private["']><storage xmlns=["']storage:bookmarks["']\/><\/query>/);
  n.c.close();
});
