// bookmarks over real sockets with the pep module: XEP-0049 private XML lists read back as XEP-0402 items and
// the other way round, the XEP-0048 PEP node in step, removals both ways, no echo loops, a list stored while
// the module was not running taken over, and private storage unchanged without PEP; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { assertStanza, discoFeature, iqResult, parseStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { pepItems, pepPublish, pepRetract, publishXml } from '../../test/support/pep-requests.js';
import { Jid } from '../../src/core/jid.js';
import { assertNoEvent, capsLogin, expectEvent } from '../pubsub/test-support.js';
import { iqRe } from '../roster/test-support.js';

// caps: verified XEP-0115 caps, so a client can ask for XEP-0402 notifications (+notify).
const CONFIG = { modules: { disco: {}, ping: {}, roster: {}, presence: {}, private: {}, pep: {}, caps: {}, bookmarks: {} } };
const NATIVE = 'urn:xmpp:bookmarks:1';
const LEGACY = 'storage:bookmarks';
/** XEP-0402 §3: what a client publishes its bookmarks with. */
const NATIVE_OPTIONS = {
  'pubsub#persist_items': 'true', 'pubsub#max_items': 'max', 'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist',
};
/** XEP-0048 v1.1 via XEP-0223 (what slixmpp's xep_0223.store sends). */
const LEGACY_OPTIONS = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' };

let t: TestServer;
before(async () => {
  t = await startTestServer(CONFIG);
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'henry']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

let n = 0;
const id = () => `b${++n}`;
const privateSet = (c: RawClient, storage: string) => { const i = id(); return c.iq(i, `<iq type='set' id='${i}'><query xmlns='jabber:iq:private'>${storage}</query></iq>`); };
const privateGet = (c: RawClient) => { const i = id(); return c.iq(i, `<iq type='get' id='${i}'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`); };
/** The <storage/> a private XML get returns. */
const privateStorage = async (c: RawClient) => assertStanza(await privateGet(c), iqResult({ name: 'query', ns: 'jabber:iq:private', children: [{ name: 'storage', ns: LEGACY }] })).getChild('query')!.getChild('storage')!;

/** A legacy conference's shape (attributes and children exactly). */
const legacyConference = (jid: string, name: string, autojoin: boolean, nick?: string): StanzaShape => ({
  name: 'conference', attrs: { jid, name, autojoin: autojoin ? 'true' : 'false' }, children: nick ? [{ name: 'nick', text: nick }] : [],
});
/** The room JIDs a legacy list names, sorted. */
const rooms = (storage: { getChildren(n: string): Array<{ attrs: Record<string, string> }> }) => storage.getChildren('conference').map((c) => c.attrs.jid).sort();
const itemIds = async (c: RawClient, node: string) => (await pepItems(c, node)).map((i) => i.id).sort();

forEachHost((host) => {
  const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });
  const owner = (user: string) => Jid.of(user, host);

  test('the account advertises urn:xmpp:bookmarks:1#compat and #compat-pep', async () => {
    const a = await login('alice', 'disco');
    const info = await a.c.iq('d1', `<iq type='get' id='d1' to='alice@${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assertStanza(info, discoFeature(`${NATIVE}#compat`));
    assertStanza(info, discoFeature(`${NATIVE}#compat-pep`));
    a.c.close();
  });

  test('alice stores legacy bookmarks through private XML; they read back as XEP-0402 items, and the legacy views agree', async () => {
    const a = await login('alice', 'legacy');
    assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'>
      <conference jid='council@conference.${host}' name='Council of Oberon' autojoin='true'><nick>Puck</nick><password>pw</password></conference>
      <conference jid='orchard@conference.${host}' name='The Orchard'><nick>JC</nick></conference>
      <url name='Home' url='https://example.org/'/></storage>`), iqResult());

    const items = await pepItems(a.c, NATIVE);
    assert.deepEqual(items.map((i) => i.id).sort(), [`council@conference.${host}`, `orchard@conference.${host}`]);
    assertStanza(items.find((i) => i.id.startsWith('council'))!.payload, {
      name: 'conference', ns: NATIVE, attrs: { name: 'Council of Oberon', autojoin: 'true' }, children: [{ name: 'nick', text: 'Puck' }, { name: 'password', text: 'pw' }],
    });
    assertStanza(items.find((i) => i.id.startsWith('orchard'))!.payload, {
      name: 'conference', ns: NATIVE, attrs: { name: 'The Orchard', autojoin: null }, children: [{ name: 'nick', text: 'JC' }],
    });

    // private XML reads the same list back, the URL bookmark included (XEP-0402 has none: kept aside)
    const storage = await privateStorage(a.c);
    assertStanza(storage, { name: 'storage', ns: LEGACY, has: [
      legacyConference(`orchard@conference.${host}`, 'The Orchard', false, 'JC'),
      { name: 'url', attrs: { name: 'Home', url: 'https://example.org/' } },
    ] }, { ns: LEGACY });
    assert.deepEqual(rooms(storage), [`council@conference.${host}`, `orchard@conference.${host}`]);

    // #compat-pep: the XEP-0048 PEP node (item 'current') holds the list too
    const [legacy] = await pepItems(a.c, LEGACY);
    assert.equal(legacy?.id, 'current');
    assert.deepEqual(rooms(legacy!.payload), [`council@conference.${host}`, `orchard@conference.${host}`]);
    assertStanza(legacy!.payload, { name: 'storage', has: [{ name: 'url', attrs: { url: 'https://example.org/' } }] }, { ns: LEGACY });
    a.c.close();
  });

  test('bob publishes and retracts XEP-0402 items; private XML and the storage:bookmarks node follow', async () => {
    const a = await login('bob', 'native');
    await pepPublish(a.c, NATIVE, `play@conference.${host}`, `<conference xmlns='${NATIVE}' name='The Play' autojoin='true'><nick>JC</nick></conference>`, NATIVE_OPTIONS);
    await pepPublish(a.c, NATIVE, `garden@conference.${host}`, `<conference xmlns='${NATIVE}' name='Garden'/>`, NATIVE_OPTIONS);
    // private XML reads the items directly
    const storage = await privateStorage(a.c);
    assertStanza(storage, { name: 'storage', ns: LEGACY, children: [
      legacyConference(`play@conference.${host}`, 'The Play', true, 'JC'),
      legacyConference(`garden@conference.${host}`, 'Garden', false),
    ] }, { ns: LEGACY });
    // the PEP legacy node follows the items' notifications
    await until(async () => (await pepItems(a.c, LEGACY))[0]?.payload.getChildren('conference').length === 2, 'the storage:bookmarks node lists both rooms');

    await pepRetract(a.c, NATIVE, `play@conference.${host}`);
    assert.deepEqual(rooms(await privateStorage(a.c)), [`garden@conference.${host}`]);
    await until(async () => {
      const [legacy] = await pepItems(a.c, LEGACY);
      return legacy && rooms(legacy.payload).join() === `garden@conference.${host}`;
    }, 'the storage:bookmarks node drops the retracted room');
    a.c.close();
  });

  test('removing a room from the legacy list (private XML) retracts its XEP-0402 item, as her other client reads', async () => {
    const a = await login('carol', 'old-client');
    const b = await login('carol', 'new-client');
    assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='one@conference.${host}' name='One'/><conference jid='two@conference.${host}' name='Two'/></storage>`), iqResult());
    assert.deepEqual(await itemIds(b.c, NATIVE), [`one@conference.${host}`, `two@conference.${host}`]);
    assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='two@conference.${host}' name='Two, renamed'/></storage>`), iqResult());
    const items = await pepItems(b.c, NATIVE);
    assert.deepEqual(items.map((i) => i.id), [`two@conference.${host}`]);
    assertStanza(items[0]!.payload, { name: 'conference', ns: NATIVE, attrs: { name: 'Two, renamed' } });
    // an empty list removes them all
    assertStanza(await privateSet(a.c, "<storage xmlns='storage:bookmarks'/>"), iqResult());
    assert.deepEqual(await itemIds(b.c, NATIVE), []);
    assertStanza(await privateStorage(a.c), { name: 'storage', ns: LEGACY, children: [] }, { ns: LEGACY });
    a.c.close();
    b.c.close();
  });

  test('a legacy client’s changes reach an XEP-0402 client as notifications: changed rooms published, removed ones retracted, unchanged ones quiet', async () => {
    const modern = await capsLogin(t, 'henry', host, 'modern', [NATIVE]);
    const old = await login('henry', 'old');
    const room = (l: string, name: string) => `<conference jid='${l}@conference.${host}' name='${name}'/>`;
    assertStanza(await privateSet(old.c, `<storage xmlns='storage:bookmarks'>${room('p1', 'P1')}${room('p2', 'P2')}${room('p3', 'P3')}</storage>`), iqResult());
    for (const l of ['p1', 'p2', 'p3']) await expectEvent(modern.c, NATIVE, new RegExp(`<item id=["']${l}@`));
    // p1 renamed, p2 dropped, p3 as it was
    assertStanza(await privateSet(old.c, `<storage xmlns='storage:bookmarks'>${room('p1', 'P1 renamed')}${room('p3', 'P3')}</storage>`), iqResult());
    // the next two events, in order: nothing for p3 in between
    assertStanza(await expectEvent(modern.c, NATIVE), { name: 'message', has: [{ name: 'event', has: [{ name: 'items', attrs: { node: NATIVE }, children: [
      { name: 'item', attrs: { id: `p1@conference.${host}` }, children: [{ name: 'conference', ns: NATIVE, attrs: { name: 'P1 renamed' } }] },
    ] }] }] });
    assertStanza(await expectEvent(modern.c, NATIVE), { name: 'message', has: [{ name: 'event', has: [{ name: 'items', children: [{ name: 'retract', attrs: { id: `p2@conference.${host}` } }] }] }] });
    await assertNoEvent(modern.c, NATIVE, 'the unchanged room is not notified again');
    modern.c.close();
    old.c.close();
  });

  test('XEP-0048 over PEP: a list published to storage:bookmarks becomes XEP-0402 items; a shorter one retracts', async () => {
    const a = await login('dave', 'pep-legacy');
    await pepPublish(a.c, LEGACY, 'current', `<storage xmlns='storage:bookmarks'><conference jid='pep1@conference.${host}' name='P1' autojoin='true'><nick>d</nick></conference><conference jid='pep2@conference.${host}' name='P2'/></storage>`, LEGACY_OPTIONS);
    await until(async () => (await itemIds(a.c, NATIVE)).join() === `pep1@conference.${host},pep2@conference.${host}`, 'both rooms are XEP-0402 items');
    const p1 = (await pepItems(a.c, NATIVE)).find((i) => i.id.startsWith('pep1'))!;
    assertStanza(p1.payload, { name: 'conference', ns: NATIVE, attrs: { name: 'P1', autojoin: 'true' }, children: [{ name: 'nick', text: 'd' }] });
    assert.deepEqual(rooms(await privateStorage(a.c)), [`pep1@conference.${host}`, `pep2@conference.${host}`]);

    await pepPublish(a.c, LEGACY, 'current', `<storage xmlns='storage:bookmarks'><conference jid='pep2@conference.${host}' name='P2'/></storage>`, LEGACY_OPTIONS);
    await until(async () => (await itemIds(a.c, NATIVE)).join() === `pep2@conference.${host}`, 'the removed room is retracted');
    a.c.close();
  });

  test('a legacy list replaced over PEP and an XEP-0402 publish right after it: both changes stand', async () => {
    const a = await login('frank', 'racer');
    const pub = (i: string, node: string, itemId: string, payload: string, options: Record<string, string>) => `<iq type='set' id='${i}'>${publishXml(node, itemId, payload, options)}</iq>`;
    // sent back to back: the conversion of the first runs while (or after) the second is stored
    a.c.send(pub('r1', LEGACY, 'current', `<storage xmlns='storage:bookmarks'><conference jid='l1@conference.${host}' name='L1'/><conference jid='l2@conference.${host}' name='L2'/></storage>`, LEGACY_OPTIONS));
    a.c.send(pub('r2', NATIVE, `n1@conference.${host}`, `<conference xmlns='${NATIVE}' name='N1'/>`, NATIVE_OPTIONS));
    for (const r of ['r1', 'r2']) assertStanza((await a.c.expect(iqRe(r)))[0], iqResult());
    const all = [`l1@conference.${host}`, `l2@conference.${host}`, `n1@conference.${host}`];
    await until(async () => (await itemIds(a.c, NATIVE)).join() === all.join(), 'the items hold both rooms of the list and the later one');
    await until(async () => {
      const [legacy] = await pepItems(a.c, LEGACY);
      return legacy && rooms(legacy.payload).join() === all.join();
    }, 'the storage:bookmarks node lists all three');
    assert.deepEqual(rooms(await privateStorage(a.c)), all);
    a.c.close();
  });

  test('no loops: a private XML set publishes each changed room once and the legacy node once, and nothing echoes', async () => {
    const a = await login('erin', 'loop');
    const seen: string[] = [];
    const off = t.server.core.hooks.on('pep_item_published', ({ owner: o, node, itemId }) => {
      if (o.equals(owner('erin'))) seen.push(`${node} ${itemId}`);
    }, 50, 'test', host);
    try {
      assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='x@conference.${host}' name='X'/><conference jid='y@conference.${host}' name='Y'/></storage>`), iqResult());
      // A private get waits behind the conversions the notifications queued: whatever they published shows by then.
      await privateGet(a.c);
      assert.deepEqual(seen.sort(), [`${LEGACY} current`, `${NATIVE} x@conference.${host}`, `${NATIVE} y@conference.${host}`]);
      // the same list again changes nothing, so nothing is published
      seen.length = 0;
      assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='y@conference.${host}' name='Y'/><conference jid='x@conference.${host}' name='X'/></storage>`), iqResult());
      await privateGet(a.c);
      assert.deepEqual([...seen], [], 'nothing published');
      // a client's XEP-0402 publish: the item, then the legacy node once
      await pepPublish(a.c, NATIVE, `z@conference.${host}`, `<conference xmlns='${NATIVE}' name='Z'/>`, NATIVE_OPTIONS);
      await until(() => seen.includes(`${LEGACY} current`), 'the legacy node follows');
      await privateGet(a.c);
      assert.deepEqual(seen, [`${NATIVE} z@conference.${host}`, `${LEGACY} current`]);
    } finally {
      off();
    }
    a.c.close();
  });

  test('nodes the account configured otherwise: the XEP-0402 node keeps its settings and gets the rooms; an open legacy node is not written', async () => {
    const a = await login('grace', 'config');
    // a legacy node published without publish-options (presence access), then an XEP-0402 node with its own max_items
    await pepPublish(a.c, LEGACY, 'current', "<storage xmlns='storage:bookmarks'/>");
    await privateGet(a.c); // waits behind the conversion of that publish
    await pepPublish(a.c, NATIVE, `mine@conference.${host}`, `<conference xmlns='${NATIVE}' name='Mine'/>`, { ...NATIVE_OPTIONS, 'pubsub#max_items': '50' });
    assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='mine@conference.${host}' name='Mine'/><conference jid='more@conference.${host}' name='More' autojoin='true'><password>secret</password></conference></storage>`), iqResult());
    assert.deepEqual(await itemIds(a.c, NATIVE), [`mine@conference.${host}`, `more@conference.${host}`]);
    assert.deepEqual(rooms(await privateStorage(a.c)), [`mine@conference.${host}`, `more@conference.${host}`]);
    // the list (with a room password) does not go to a node open to her contacts
    const [legacy] = await pepItems(a.c, LEGACY);
    assert.deepEqual(rooms(legacy!.payload), []);
    a.c.close();
  });

  test('errors: private XML storage:bookmarks data other than <storage/> is a bad request and changes nothing', async () => {
    const a = await login('alice', 'errors');
    const before = rooms(await privateStorage(a.c));
    assertStanza(await privateSet(a.c, `<conference xmlns='storage:bookmarks' jid='bad@conference.${host}'/>`), stanzaError('bad-request'));
    assert.deepEqual(rooms(await privateStorage(a.c)), before);
    a.c.close();
  });

  test('a list private storage kept while bookmarks was not running is taken over on the next read', async () => {
    await t.server.modules.unload('bookmarks');
    try {
      const a = await login('bob', 'before');
      assertStanza(await privateSet(a.c, `<storage xmlns='storage:bookmarks'><conference jid='old@conference.${host}' name='Old' autojoin='true'/></storage>`), iqResult());
      a.c.close();
    } finally {
      await t.server.modules.load('bookmarks');
    }
    const a = await login('bob', 'after');
    // bob already has garden@ as an XEP-0402 item (test above): the old list joins it
    assert.deepEqual(rooms(await privateStorage(a.c)), [`garden@conference.${host}`, `old@conference.${host}`]);
    assert.deepEqual(await itemIds(a.c, NATIVE), [`garden@conference.${host}`, `old@conference.${host}`]);
    // private storage no longer keeps its own copy: the XEP-0402 items are the list
    assert.equal(await t.server.core.store.table('private_storage').count({ prefix: `${host}/bob\u0000${LEGACY}` }), 0);
    await pepRetract(a.c, NATIVE, `old@conference.${host}`);
    assert.deepEqual(rooms(await privateStorage(a.c)), [`garden@conference.${host}`]);
    a.c.close();
  });
});

test('without the pep module, private XML keeps storage:bookmarks as before and nothing is advertised', async () => {
  const s = await startTestServer({ modules: { disco: {}, private: {}, bookmarks: {} } });
  try {
    await s.addUser('alice', 'pw');
    const { c } = await RawClient.login(s.c2sPort, 'alice', 'pw', 'nopep');
    const info = await c.iq('d', "<iq type='get' id='d' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    assert.ok(!parseStanza(info).getChild('query')!.getChildren('feature').some((f) => String(f.attrs.var).startsWith(NATIVE)), info);
    const list = "<storage xmlns='storage:bookmarks'><conference jid='r@conference.localhost' name='R'/></storage>";
    assertStanza(await c.iq('s', `<iq type='set' id='s'><query xmlns='jabber:iq:private'>${list}</query></iq>`), iqResult());
    assert.deepEqual(rooms(await privateStorage(c)), ['r@conference.localhost']);
    assert.equal(await s.server.core.store.table('private_storage').count({ prefix: `localhost/alice\u0000${LEGACY}` }), 1);
    c.close();
  } finally {
    await s.stop();
  }
});
