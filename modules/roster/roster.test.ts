// RFC 6121 §2 roster management over real sockets: get/set/remove, pushes to interested resources only,
// versioning (§2.6, XEP-0237), the §2.3.3 error cases, max_items, persistence across a restart, and
// removal with subscriptions (§2.5.2) and of the account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jid } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertNothing, expectAll, iq, login, makeBoth, presOf, pushOf, rosterApi, startImServer, state, sync } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startImServer({ max_items: 3, max_name_length: 10, max_group_length: 8 });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'full']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const set = (c: RawClient, item: string) => iq(c, `<query xmlns='jabber:iq:roster'>${item}</query>`, 'set');
const get = (c: RawClient, ver?: string) => iq(c, `<query xmlns='jabber:iq:roster'${ver !== undefined ? ` ver='${ver}'` : ''}/>`);
const verOf = (s: string) => /ver=["']([^"']*)["']/.exec(s)?.[1];

test('after authentication the server offers roster versioning and subscription pre-approval', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  await c.features();
  await c.starttls();
  c.openStream();
  assert.doesNotMatch(await c.features(), /rosterver/, 'not before authentication');
  assert.match(await c.authScram('SCRAM-SHA-256', 'alice', 'pw-alice'), /^<success/);
  c.openStream();
  const f = await c.features();
  assert.match(f, /<ver xmlns=["']urn:xmpp:features:rosterver["']\/>/);
  assert.match(f, /<sub xmlns=["']urn:xmpp:features:pre-approval["']\/>/);
  c.close();
});

test('alice adds, updates and removes an item; interested resources get pushes, the other does not', async () => {
  const r1 = await login(t, 'alice', 'one');
  const r2 = await login(t, 'alice', 'two');
  const r3 = await login(t, 'alice', 'three', { roster: false }); // never asked for the roster
  const empty = await get(r1.c);
  assert.match(empty, /type=["']result["']/);
  assert.match(empty, /<query xmlns=["']jabber:iq:roster["'] ver=["'][^"']+["']\/>/);

  const r = await set(r1.c, "<item jid='bob@localhost' name='Bob'><group>Friends</group><group>Work</group></item>");
  assert.match(r, /type=["']result["']/);
  assert.doesNotMatch(r, /<query/, 'a roster set is answered with an empty result');
  const want = /<item jid=["']bob@localhost["'] name=["']Bob["'] subscription=["']none["']><group>Friends<\/group><group>Work<\/group><\/item>/;
  const [p1] = await expectAll(r1.c, pushOf('bob@localhost', want));
  const [p2] = await expectAll(r2.c, pushOf('bob@localhost', want));
  for (const p of [p1!, p2!]) {
    assert.match(p, /from=["']alice@localhost["']/);
    assert.match(p, /ver=["'][^"']+["']/);
  }
  assert.match(p1!, /to=["']alice@localhost\/one["']/);
  await assertNothing(r3.c, /jabber:iq:roster/, 'no push to a resource that never requested the roster');

  // update: name and groups are replaced as a whole (§2.4)
  await set(r2.c, "<item jid='bob@localhost' name='Bobby'><group>Work</group></item>");
  await expectAll(r1.c, pushOf('bob@localhost', /name=["']Bobby["'] subscription=["']none["']><group>Work<\/group><\/item>/));
  const roster = await get(r3.c);
  assert.match(roster, /<item jid=["']bob@localhost["'] name=["']Bobby["'] subscription=["']none["']><group>Work<\/group><\/item>/);
  // r3 is interested now
  await set(r1.c, "<item jid='bob@localhost'/>");
  await expectAll(r3.c, pushOf('bob@localhost', /<item jid=["']bob@localhost["'] subscription=["']none["']\/>/));

  // remove (§2.5)
  assert.match(await set(r1.c, "<item jid='bob@localhost' subscription='remove'/>"), /type=["']result["']/);
  for (const c of [r1.c, r2.c, r3.c]) await expectAll(c, pushOf('bob@localhost', /subscription=["']remove["']/));
  assert.doesNotMatch(await get(r1.c), /bob@localhost/);
  const missing = await set(r1.c, "<item jid='bob@localhost' subscription='remove'/>");
  assert.match(missing, /<item-not-found /, 'removing an item that is not there (§2.5.3)');
  for (const c of [r1.c, r2.c, r3.c]) c.close();
});

test('versioning (§2.6): an unchanged roster is an empty result; a changed one comes whole with the new ver', async () => {
  const a = await login(t, 'carol', 'v');
  await set(a.c, "<item jid='dave@localhost'/>");
  const full = await get(a.c, '');
  const v1 = verOf(full)!;
  assert.ok(v1);
  assert.match(full, /dave@localhost/);
  const same = await get(a.c, v1);
  assert.match(same, /type=["']result["']/);
  assert.doesNotMatch(same, /<query/, 'nothing to send when the client is up to date');
  await set(a.c, "<item jid='erin@localhost'/>");
  const [p] = await expectAll(a.c, pushOf('erin@localhost'));
  const v2 = verOf(p!)!;
  assert.notEqual(v2, v1);
  const again = await get(a.c, v1);
  assert.equal(verOf(again), v2);
  assert.match(again, /dave@localhost/);
  assert.match(again, /erin@localhost/);
  assert.doesNotMatch(await get(a.c, v2), /<query/);
  a.c.close();
});

test('roster sets are checked as RFC 6121 §2.3.3 says; the roster of someone else is out of reach', async () => {
  const a = await login(t, 'dave', 'x');
  const cases: Array<[string, RegExp, string]> = [
    ["<item jid='a@localhost'/><item jid='b@localhost'/>", /<bad-request /, 'two items'],
    ['', /<bad-request /, 'no item'],
    ["<item name='x'/>", /<bad-request /, 'no jid'],
    ["<item jid='a@@localhost'/>", /<jid-malformed /, 'a malformed jid'],
    ["<item jid='a@localhost/res'/>", /<bad-request /, 'a full JID'],
    ["<item jid='a@localhost'><group>G</group><group>G</group></item>", /<bad-request /, 'a group twice'],
    ["<item jid='a@localhost'><group></group></item>", /<not-acceptable /, 'an empty group'],
    ["<item jid='a@localhost'><group>123456789</group></item>", /<not-acceptable /, 'a group longer than max_group_length'],
    ["<item jid='a@localhost' name='12345678901'/>", /<not-acceptable /, 'a name longer than max_name_length'],
  ];
  for (const [payload, re, what] of cases) {
    const r = await set(a.c, payload);
    assert.match(r, /type=["']error["']/, what);
    assert.match(r, re, what);
  }
  assert.doesNotMatch(await get(a.c), /a@localhost/, 'none of them changed the roster');
  // §2.1.2.5: a subscription value other than "remove" is ignored in a set, so are ask and approved.
  await set(a.c, "<item jid='a@localhost' name='1234567890' subscription='both' ask='subscribe' approved='true'><group>12345678</group></item>");
  assert.match(await get(a.c), /<item jid=["']a@localhost["'] name=["']1234567890["'] subscription=["']none["']><group>12345678<\/group><\/item>/);

  const b = await login(t, 'erin', 'x');
  assert.match(await iq(b.c, "<query xmlns='jabber:iq:roster'/>", 'get', 'dave@localhost'), /<service-unavailable /);
  assert.match(await iq(b.c, "<query xmlns='jabber:iq:roster'><item jid='erin@localhost'/></query>", 'set', 'dave@localhost'), /<forbidden /);
  assert.doesNotMatch(await get(a.c), /erin@localhost/);
  a.c.close();
  b.c.close();
});

test('max_items: a full roster refuses new items (resource-constraint) but still takes updates', async () => {
  const a = await login(t, 'full', 'x');
  for (const n of ['i1', 'i2', 'i3']) assert.match(await set(a.c, `<item jid='${n}@localhost'/>`), /type=["']result["']/);
  const r = await set(a.c, "<item jid='i4@localhost'/>");
  assert.match(r, /<resource-constraint /);
  assert.match(await set(a.c, "<item jid='i3@localhost' name='three'/>"), /type=["']result["']/);
  // a subscription request to a new contact needs a new item too
  a.c.send("<presence to='i5@localhost' type='subscribe' id='s5'/>");
  const [e] = await expectAll(a.c, presOf(/type=["']error["']/, /id=["']s5["']/));
  assert.match(e!, /<resource-constraint /);
  const items = await get(a.c);
  assert.equal(items.match(/<item /g)?.length, 3);
  // removing one makes room
  await set(a.c, "<item jid='i1@localhost' subscription='remove'/>");
  assert.match(await set(a.c, "<item jid='i4@localhost'/>"), /type=["']result["']/);
  a.c.close();
});

test('removing a contact ends the subscriptions both ways (§2.5.2); deleting the account deletes the roster', async () => {
  const a = await login(t, 'alice', 'rm');
  const b = await login(t, 'bob', 'rm');
  await makeBoth(a, b, 'alice@localhost', 'bob@localhost');
  assert.equal(await state(t, 'bob', 'alice'), 'both');
  await sync(b.c);
  await set(a.c, "<item jid='bob@localhost' subscription='remove'/>");
  await expectAll(b.c,
    presOf(/type=["']unsubscribe["']/, /from=["']alice@localhost["']/),
    presOf(/type=["']unsubscribed["']/, /from=["']alice@localhost["']/),
    presOf(/type=["']unavailable["']/, /from=["']alice@localhost\/rm["']/),
    pushOf('alice@localhost', /subscription=["']none["']/));
  assert.equal(await state(t, 'bob', 'alice'), 'none');

  const api = rosterApi(t);
  const bob = Jid.parse('bob@localhost');
  assert.equal((await api.items(bob)).length, 1);
  b.c.close();
  a.c.close();
  await t.server.core.accounts.remove(bob);
  assert.deepEqual(await api.items(bob, { includeHidden: true }), []);
  await t.addUser('bob', 'pw-bob');
  const b2 = await login(t, 'bob', 'again');
  assert.doesNotMatch(await get(b2.c), /<item /, 'a re-created account starts empty');
  b2.c.close();
});

test('the roster, its version and pending requests survive a restart; versioning can be turned off', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-roster-'));
  try {
    let s = await startImServer({}, { dir });
    await s.addUser('ann', 'pw-ann');
    await s.addUser('ben', 'pw-ben');
    let a = await login(s, 'ann', 'x');
    await set(a.c, "<item jid='ben@localhost' name='Ben'><group>Pals</group></item>");
    a.c.send("<presence to='ben@localhost' type='subscribe'><status>still there?</status></presence>");
    await sync(a.c);
    const before = await get(a.c);
    a.c.close();
    await s.stop();

    s = await startImServer({}, { dir });
    a = await login(s, 'ann', 'y', { roster: false });
    const after = await get(a.c, verOf(before));
    assert.doesNotMatch(after, /<query/, 'the version survived: nothing to send');
    assert.match(await get(a.c), /<item jid=["']ben@localhost["'] name=["']Ben["'] subscription=["']none["'] ask=["']subscribe["']><group>Pals<\/group><\/item>/);
    const b = await login(s, 'ben', 'z', { presence: false });
    b.c.send('<presence/>');
    const [req] = await expectAll(b.c, presOf(/type=["']subscribe["']/, /from=["']ann@localhost["']/));
    assert.match(req!, /<status>still there\?<\/status>/);
    a.c.close();
    b.c.close();
    await s.stop();

    s = await startImServer({ versioning: false }, { dir });
    a = await login(s, 'ann', 'w', { roster: false });
    const plain = await get(a.c, verOf(before));
    assert.match(plain, /ben@localhost/, 'without versioning the roster always comes whole');
    assert.doesNotMatch(plain, /ver=/);
    a.c.close();
    await s.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('after a runtime reload of the roster module, clients already connected still get their pushes', async () => {
  const a = await login(t, 'carol', 'reload');
  await t.server.modules.reload('roster', { max_items: 3, max_name_length: 10, max_group_length: 8 });
  await set(a.c, "<item jid='gus@localhost' name='Gus'/>");
  await expectAll(a.c, pushOf('gus@localhost', /name=["']Gus["']/));
  a.c.close();
});
