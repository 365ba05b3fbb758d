// private over real sockets: XEP-0049 set/get, the error cases of §2.3 (another user's data, no child,
// reserved namespaces, several namespaces in a get), the size limit, persistence and account removal;
// on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, iqResult, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';

const CONFIG = { modules: { disco: {}, private: {} } };
const NS_PRIVATE = 'jabber:iq:private';
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-private-'));
  t = await startTestServer(CONFIG, { dir });
  for (const host of HOSTS) for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const iq = (c: RawClient, id: string, stanza: string) => c.iq(id, stanza);

const BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='room@muc.example' autojoin='true' name='R &amp; D'><nick>ali</nick></conference></storage>";
/** A private-storage result holding exactly these elements. */
const stored = (...children: StanzaShape[]): StanzaShape => iqResult({ name: 'query', ns: NS_PRIVATE, children });
const EMPTY_BOOKMARKS = stored({ name: 'storage', ns: 'storage:bookmarks', children: [] });
const ALI_BOOKMARKS = stored({
  name: 'storage', ns: 'storage:bookmarks',
  children: [{ name: 'conference', attrs: { jid: 'room@muc.example', autojoin: 'true', name: 'R & D' }, children: [{ name: 'nick', text: 'ali' }] }],
});
const GET_BOOKMARKS = (id: string, to = '') => `<iq${to ? ` to='${to}'` : ''} type='get' id='${id}'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`;

forEachHost((host) => {
  const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('jabber:iq:private is advertised', async () => {
    const a = await login('alice', 'disco');
    assertStanza(await iq(a.c, 'd1', `<iq to='${host}' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), discoFeature(NS_PRIVATE));
    assertStanza(await iq(a.c, 'd2', "<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), discoFeature(NS_PRIVATE));
    a.c.close();
  });

  test('alice stores bookmarks and reads them back; an unknown namespace returns the empty requested element', async () => {
    const a = await login('alice', 'laptop');
    assertStanza(await iq(a.c, 'g0', GET_BOOKMARKS('g0')), EMPTY_BOOKMARKS);

    assertStanza(await iq(a.c, 's1', `<iq type='set' id='s1'><query xmlns='jabber:iq:private'>${BOOKMARKS}</query></iq>`), iqResult());
    assertStanza(await iq(a.c, 'g1', GET_BOOKMARKS('g1')), ALI_BOOKMARKS);

    // another resource of alice, with an explicit 'to' of her bare JID, sees the same data
    const a2 = await login('alice', 'phone');
    assertStanza(await iq(a2.c, 'g2', GET_BOOKMARKS('g2', `alice@${host}`)), ALI_BOOKMARKS);

    // several elements of one namespace are stored (and returned) together; a set replaces the slot
    assertStanza(await iq(a.c, 's2', "<iq type='set' id='s2'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'>1</a><b xmlns='urn:example:prefs'>2</b></query></iq>"), iqResult());
    assertStanza(await iq(a.c, 'g3', "<iq type='get' id='g3'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'/></query></iq>"),
      stored({ name: 'a', ns: 'urn:example:prefs', text: '1' }, { name: 'b', ns: 'urn:example:prefs', text: '2' }));
    assertStanza(await iq(a.c, 's3', "<iq type='set' id='s3'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'>3</a></query></iq>"), iqResult());
    assertStanza(await iq(a.c, 'g4', "<iq type='get' id='g4'><query xmlns='jabber:iq:private'><a xmlns='urn:example:prefs'/></query></iq>"),
      stored({ name: 'a', ns: 'urn:example:prefs', text: '3' }));
    // the bookmarks slot was not touched by the other namespace
    assertStanza(await iq(a.c, 'g5', GET_BOOKMARKS('g5')), ALI_BOOKMARKS);
    a.c.close();
    a2.c.close();
  });

  test('bob can neither read nor write alice’s private data (forbidden)', async () => {
    const b = await login('bob', 'nosy');
    const g = await iq(b.c, 'f1', GET_BOOKMARKS('f1', `alice@${host}`));
    // the error may echo the request, never alice's data
    assertStanza(g, { ...stanzaError('forbidden'), without: [{ name: 'query', has: [{ name: 'storage', has: [{ name: 'conference' }] }] }] });
    const s = await iq(b.c, 'f2', `<iq to='alice@${host}' type='set' id='f2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`);
    assertStanza(s, stanzaError('forbidden'));
    // bob's own slot is separate from alice's
    assertStanza(await iq(b.c, 'f3', GET_BOOKMARKS('f3')), EMPTY_BOOKMARKS);
    b.c.close();
  });

  test('errors: no child is not-acceptable; reserved namespaces are not-acceptable; two namespaces in a get is a bad request', async () => {
    const a = await login('alice', 'errors');
    assertStanza(await iq(a.c, 'e1', "<iq type='get' id='e1'><query xmlns='jabber:iq:private'/></iq>"), stanzaError('not-acceptable'));
    assertStanza(await iq(a.c, 'e2', "<iq type='set' id='e2'><query xmlns='jabber:iq:private'/></iq>"), stanzaError('not-acceptable'));
    for (const [id, child] of [
      ['e3', "<vCard xmlns='vcard-temp'><FN>x</FN></vCard>"],
      ['e4', "<query xmlns='jabber:iq:roster'/>"],
      ['e5', "<query xmlns='jabber:iq:private'/>"],
      ['e6', "<x xmlns='http://jabber.org/protocol/muc'/>"],
      ['e7', '<unqualified/>'], // inherits jabber:iq:private
    ] as const) {
      assertStanza(await iq(a.c, id, `<iq type='set' id='${id}'><query xmlns='jabber:iq:private'>${child}</query></iq>`), stanzaError('not-acceptable'));
    }
    assertStanza(await iq(a.c, 'e8', "<iq type='get' id='e8'><query xmlns='jabber:iq:private'><vCard xmlns='vcard-temp'/></query></iq>"), stanzaError('not-acceptable'));
    // a refused set stores nothing, not even its acceptable part
    assertStanza(await iq(a.c, 'e9', "<iq type='set' id='e9'><query xmlns='jabber:iq:private'><ok xmlns='urn:example:ok'/><query xmlns='jabber:iq:roster'/></query></iq>"), stanzaError('not-acceptable'));
    assertStanza(await iq(a.c, 'e10', "<iq type='get' id='e10'><query xmlns='jabber:iq:private'><ok xmlns='urn:example:ok'/></query></iq>"),
      stored({ name: 'ok', ns: 'urn:example:ok', children: [] }));
    assertStanza(await iq(a.c, 'e11', "<iq type='get' id='e11'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'/><b xmlns='urn:example:b'/></query></iq>"), stanzaError('bad-request'));
    assertStanza(await iq(a.c, 'e12', "<iq type='get' id='e12'><other xmlns='jabber:iq:private'/></iq>"), stanzaError('bad-request'));
    a.c.close();
  });

  test('max_size: data over 64 KiB is refused with policy-violation; a smaller max_size applies after reload', async () => {
    const a = await login('alice', 'big');
    const big = `<note xmlns='urn:example:notes'>${'x'.repeat(70_000)}</note>`;
    assertStanza(await iq(a.c, 'm1', `<iq type='set' id='m1'><query xmlns='jabber:iq:private'>${big}</query></iq>`), stanzaError('policy-violation'));
    const medium = `<note xmlns='urn:example:notes'>${'y'.repeat(1000)}</note>`;
    assertStanza(await iq(a.c, 'm2', `<iq type='set' id='m2'><query xmlns='jabber:iq:private'>${medium}</query></iq>`), iqResult());
    await t.server.modules.reload('private', { max_size: 512 });
    try {
      assertStanza(await iq(a.c, 'm3', `<iq type='set' id='m3'><query xmlns='jabber:iq:private'>${medium}</query></iq>`), stanzaError('policy-violation'));
    } finally {
      await t.server.modules.reload('private', {});
    }
    a.c.close();
  });

  test('private data survives a server restart; removing the account deletes all of it', async () => {
    await t.stop();
    t = await startTestServer(CONFIG, { dir });
    const a = await login('alice', 'after');
    assertStanza(await iq(a.c, 'r1', GET_BOOKMARKS('r1')), ALI_BOOKMARKS);
    a.c.close();
    const rows = (h: string) => t.server.core.store.table('private_storage').count({ prefix: `${h}/alice\u0000` });
    assert.ok((await rows(host)) >= 3);
    await t.server.core.accounts.remove(Jid.of('alice', host));
    assert.equal(await rows(host), 0);
    await t.addUser('alice', 'pw-alice', host);
    const n = await login('alice', 'new');
    assertStanza(await iq(n.c, 'r2', GET_BOOKMARKS('r2')), EMPTY_BOOKMARKS);
    n.c.close();
  });
});
