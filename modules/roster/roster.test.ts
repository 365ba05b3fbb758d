// RFC 6121 §2 roster management over real sockets: get/set/remove, pushes to interested resources only,
// versioning (§2.6, XEP-0237), the §2.3.3 error cases, max_items, persistence across a restart, and
// removal with subscriptions (§2.5.2) and of the account; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jid } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { assertNothing, expectAll, iq, login as loginOn, makeBoth, presOf, rosterApi, rosterPush, startImServer, state, sync } from './test-support.js';

const NS_ROSTER = 'jabber:iq:roster';
let t: TestServer;
before(async () => {
  t = await startImServer({ max_items: 3, max_name_length: 10, max_group_length: 8 });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'full']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const set = (c: RawClient, item: string) => iq(c, `<query xmlns='jabber:iq:roster'>${item}</query>`, 'set');
const get = (c: RawClient, ver?: string) => iq(c, `<query xmlns='jabber:iq:roster'${ver !== undefined ? ` ver='${ver}'` : ''}/>`);
const verOf = (s: string) => parseStanza(s).getChild('query', NS_ROSTER)?.attrs.ver as string | undefined;
const groups = (...names: string[]): StanzaShape[] => names.map((text) => ({ name: 'group', text }));
/** A roster result holding exactly these items. */
const rosterResult = (items: StanzaShape[], attrs?: Record<string, string | RegExp | null>): StanzaShape =>
  iqResult({ name: 'query', ns: NS_ROSTER, ...(attrs ? { attrs } : {}), children: items });
/** A roster result with an item for `jid` among others. */
const rosterWith = (item: StanzaShape): StanzaShape => iqResult({ name: 'query', ns: NS_ROSTER, has: [item] });
const rosterWithout = (jid: string): StanzaShape => iqResult({ name: 'query', ns: NS_ROSTER, without: [{ name: 'item', attrs: { jid } }] });
/** An empty IQ result: a set, or a versioned get with nothing new (§2.6.3). */
const EMPTY_RESULT: StanzaShape = { name: 'iq', attrs: { type: 'result' }, children: [] };

forEachHost((host) => {
  const login = (tt: TestServer, user: string, resource: string, opts: { roster?: boolean; presence?: boolean | string } = {}) => loginOn(tt, user, resource, { ...opts, host });
  const j = (local: string) => `${local}@${host}`;

  test('after authentication the server offers roster versioning and subscription pre-approval', async () => {
    const c = await RawClient.connect(t.c2sPort);
    c.openStream(host);
    await c.features();
    await c.starttls(host);
    c.openStream(host);
    assertStanza(await c.features(), { name: 'features', without: [{ name: 'ver', ns: 'urn:xmpp:features:rosterver' }] }, { ns: 'http://etherx.jabber.org/streams' });
    assert.match(await c.authScram('SCRAM-SHA-256', 'alice', 'pw-alice'), /^<success/);
    c.openStream(host);
    assertStanza(await c.features(), {
      name: 'features', has: [{ name: 'ver', ns: 'urn:xmpp:features:rosterver' }, { name: 'sub', ns: 'urn:xmpp:features:pre-approval' }],
    }, { ns: 'http://etherx.jabber.org/streams' });
    c.close();
  });

  test('alice adds, updates and removes an item; interested resources get pushes, the other does not', async () => {
    const r1 = await login(t, 'alice', 'one');
    const r2 = await login(t, 'alice', 'two');
    const r3 = await login(t, 'alice', 'three', { roster: false }); // never asked for the roster
    assertStanza(await get(r1.c), rosterResult([], { ver: /./ }));

    const r = await set(r1.c, `<item jid='${j('bob')}' name='Bob'><group>Friends</group><group>Work</group></item>`);
    assertStanza(r, EMPTY_RESULT); // a roster set is answered with an empty result
    const want = rosterPush(j('bob'), { attrs: { name: 'Bob', subscription: 'none' }, children: groups('Friends', 'Work') });
    const [p1] = await expectAll(r1.c, want);
    const [p2] = await expectAll(r2.c, want);
    for (const p of [p1!, p2!]) assertStanza(p, { name: 'iq', attrs: { from: j('alice') }, has: [{ name: 'query', attrs: { ver: /./ } }] });
    assertStanza(p1!, { name: 'iq', attrs: { to: `${j('alice')}/one` } });
    await assertNothing(r3.c, /jabber:iq:roster/, 'no push to a resource that never requested the roster');

    // update: name and groups are replaced as a whole (§2.4)
    await set(r2.c, `<item jid='${j('bob')}' name='Bobby'><group>Work</group></item>`);
    const bobby = { attrs: { name: 'Bobby', subscription: 'none' }, children: groups('Work') };
    await expectAll(r1.c, rosterPush(j('bob'), bobby));
    assertStanza(await get(r3.c), rosterWith({ name: 'item', attrs: { jid: j('bob'), ...bobby.attrs }, children: bobby.children }));
    // r3 is interested now
    await set(r1.c, `<item jid='${j('bob')}'/>`);
    await expectAll(r3.c, rosterPush(j('bob'), { attrs: { subscription: 'none', name: null }, children: [] }));

    // remove (§2.5)
    assertStanza(await set(r1.c, `<item jid='${j('bob')}' subscription='remove'/>`), iqResult());
    for (const c of [r1.c, r2.c, r3.c]) await expectAll(c, rosterPush(j('bob'), { attrs: { subscription: 'remove' } }));
    assertStanza(await get(r1.c), rosterWithout(j('bob')));
    const missing = await set(r1.c, `<item jid='${j('bob')}' subscription='remove'/>`);
    assertStanza(missing, stanzaError('item-not-found')); // removing an item that is not there (§2.5.3)
    for (const c of [r1.c, r2.c, r3.c]) c.close();
  });

  test('versioning (§2.6): an unchanged roster is an empty result; a changed one comes whole with the new ver', async () => {
    const a = await login(t, 'carol', 'v');
    await set(a.c, `<item jid='${j('dave')}'/>`);
    const full = await get(a.c, '');
    const v1 = verOf(full)!;
    assert.ok(v1);
    assertStanza(full, rosterWith({ name: 'item', attrs: { jid: j('dave') } }));
    assertStanza(await get(a.c, v1), EMPTY_RESULT); // nothing to send when the client is up to date
    await set(a.c, `<item jid='${j('erin')}'/>`);
    const [p] = await expectAll(a.c, rosterPush(j('erin')));
    const v2 = verOf(p!)!;
    assert.notEqual(v2, v1);
    const again = await get(a.c, v1);
    assert.equal(verOf(again), v2);
    assertStanza(again, iqResult({ name: 'query', ns: NS_ROSTER, has: [{ name: 'item', attrs: { jid: j('dave') } }, { name: 'item', attrs: { jid: j('erin') } }] }));
    assertStanza(await get(a.c, v2), EMPTY_RESULT);
    a.c.close();
  });

  test('roster sets are checked as RFC 6121 §2.3.3 says; the roster of someone else is out of reach', async () => {
    const a = await login(t, 'dave', 'x');
    const cases: Array<[string, string, string]> = [
      [`<item jid='a@${host}'/><item jid='b@${host}'/>`, 'bad-request', 'two items'],
      ['', 'bad-request', 'no item'],
      ["<item name='x'/>", 'bad-request', 'no jid'],
      [`<item jid='a@@${host}'/>`, 'jid-malformed', 'a malformed jid'],
      [`<item jid='a@${host}/res'/>`, 'bad-request', 'a full JID'],
      [`<item jid='a@${host}'><group>G</group><group>G</group></item>`, 'bad-request', 'a group twice'],
      [`<item jid='a@${host}'><group></group></item>`, 'not-acceptable', 'an empty group'],
      [`<item jid='a@${host}'><group>123456789</group></item>`, 'not-acceptable', 'a group longer than max_group_length'],
      [`<item jid='a@${host}' name='12345678901'/>`, 'not-acceptable', 'a name longer than max_name_length'],
    ];
    for (const [payload, condition, what] of cases) {
      const r = await set(a.c, payload);
      assertStanza(r, stanzaError(condition), { what });
    }
    assertStanza(await get(a.c), rosterWithout(`a@${host}`)); // none of them changed the roster
    // §2.1.2.5: a subscription value other than "remove" is ignored in a set, so are ask and approved.
    await set(a.c, `<item jid='a@${host}' name='1234567890' subscription='both' ask='subscribe' approved='true'><group>12345678</group></item>`);
    assertStanza(await get(a.c), rosterWith({
      name: 'item', attrs: { jid: `a@${host}`, name: '1234567890', subscription: 'none', ask: null, approved: null }, children: groups('12345678'),
    }));

    const b = await login(t, 'erin', 'x');
    assertStanza(await iq(b.c, "<query xmlns='jabber:iq:roster'/>", 'get', j('dave')), stanzaError('service-unavailable'));
    assertStanza(await iq(b.c, `<query xmlns='jabber:iq:roster'><item jid='${j('erin')}'/></query>`, 'set', j('dave')), stanzaError('forbidden'));
    assertStanza(await get(a.c), rosterWithout(j('erin')));
    a.c.close();
    b.c.close();
  });

  test('max_items: a full roster refuses new items (resource-constraint) but still takes updates', async () => {
    const a = await login(t, 'full', 'x');
    for (const n of ['i1', 'i2', 'i3']) assertStanza(await set(a.c, `<item jid='${n}@${host}'/>`), iqResult());
    assertStanza(await set(a.c, `<item jid='i4@${host}'/>`), stanzaError('resource-constraint'));
    assertStanza(await set(a.c, `<item jid='i3@${host}' name='three'/>`), iqResult());
    // a subscription request to a new contact needs a new item too
    a.c.send(`<presence to='i5@${host}' type='subscribe' id='s5'/>`);
    const [e] = await expectAll(a.c, presOf(/type=["']error["']/, /id=["']s5["']/));
    assertStanza(e!, stanzaError('resource-constraint', 'presence'));
    const items = parseStanza(await get(a.c)).getChild('query', NS_ROSTER)!.getChildren('item');
    assert.equal(items.length, 3);
    // removing one makes room
    await set(a.c, `<item jid='i1@${host}' subscription='remove'/>`);
    assertStanza(await set(a.c, `<item jid='i4@${host}'/>`), iqResult());
    a.c.close();
  });

  test('removing a contact ends the subscriptions both ways (§2.5.2); deleting the account deletes the roster', async () => {
    const a = await login(t, 'alice', 'rm');
    const b = await login(t, 'bob', 'rm');
    await makeBoth(a, b, j('alice'), j('bob'));
    assert.equal(await state(t, 'bob', 'alice', host), 'both');
    await sync(b.c);
    await set(a.c, `<item jid='${j('bob')}' subscription='remove'/>`);
    await expectAll(b.c,
      { name: 'presence', attrs: { type: 'unsubscribe', from: j('alice') } },
      { name: 'presence', attrs: { type: 'unsubscribed', from: j('alice') } },
      { name: 'presence', attrs: { type: 'unavailable', from: `${j('alice')}/rm` } },
      rosterPush(j('alice'), { attrs: { subscription: 'none' } }));
    assert.equal(await state(t, 'bob', 'alice', host), 'none');

    const api = rosterApi(t, host);
    const bob = Jid.of('bob', host);
    assert.equal((await api.items(bob)).length, 1);
    b.c.close();
    a.c.close();
    await t.server.core.accounts.remove(bob);
    assert.deepEqual(await api.items(bob, { includeHidden: true }), []);
    await t.addUser('bob', 'pw-bob', host);
    const b2 = await login(t, 'bob', 'again');
    assertStanza(await get(b2.c), rosterResult([], {})); // a re-created account starts empty
    b2.c.close();
  });

  test('the roster, its version and pending requests survive a restart; versioning can be turned off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xmppd-roster-'));
    try {
      let s = await startImServer({}, { dir });
      await s.addUser('ann', 'pw-ann', host);
      await s.addUser('ben', 'pw-ben', host);
      let a = await login(s, 'ann', 'x');
      await set(a.c, `<item jid='${j('ben')}' name='Ben'><group>Pals</group></item>`);
      a.c.send(`<presence to='${j('ben')}' type='subscribe'><status>still there?</status></presence>`);
      await sync(a.c);
      const before = await get(a.c);
      a.c.close();
      await s.stop();

      s = await startImServer({}, { dir });
      a = await login(s, 'ann', 'y', { roster: false });
      assertStanza(await get(a.c, verOf(before)), EMPTY_RESULT); // the version survived: nothing to send
      assertStanza(await get(a.c), rosterResult([{
        name: 'item', attrs: { jid: j('ben'), name: 'Ben', subscription: 'none', ask: 'subscribe' }, children: groups('Pals'),
      }], { ver: /./ }));
      const b = await login(s, 'ben', 'z', { presence: false });
      b.c.send('<presence/>');
      const [req] = await expectAll(b.c, { name: 'presence', attrs: { type: 'subscribe', from: j('ann') } });
      assertStanza(req!, { name: 'presence', has: [{ name: 'status', text: 'still there?' }] });
      a.c.close();
      b.c.close();
      await s.stop();

      s = await startImServer({ versioning: false }, { dir });
      a = await login(s, 'ann', 'w', { roster: false });
      // without versioning the roster always comes whole, without a ver
      assertStanza(await get(a.c, verOf(before)), rosterResult([{ name: 'item', attrs: { jid: j('ben') } }], { ver: null }));
      a.c.close();
      await s.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('after a runtime reload of the roster module, clients already connected still get their pushes', async () => {
    const a = await login(t, 'carol', 'reload');
    await t.server.modules.reload('roster', { max_items: 3, max_name_length: 10, max_group_length: 8 });
    await set(a.c, `<item jid='gus@${host}' name='Gus'/>`);
    await expectAll(a.c, rosterPush(`gus@${host}`, { attrs: { name: 'Gus' } }));
    a.c.close();
  });
});
