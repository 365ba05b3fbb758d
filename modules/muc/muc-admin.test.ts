// Affiliations and roles over real sockets (XEP-0045 §8-§10): kick (307), ban (301), voice, the member,
// admin and owner lists with the permissions of §5, removals by affiliation (321) and by members-only (322),
// actor and reason, the last owner (conflict), mediated invitations and declines (§7.8.2), destruction (§10.9).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_MODULES, NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_USER, codes, configure, createInstant, iqAll, item, join, joinError, messageFrom, next, presenceFrom, rc, sync } from './test-support.js';

let t: TestServer;
const S = 'conference.localhost';

before(async () => {
  t = await startTestServer({ modules: MUC_MODULES });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource);
const admin = (room: string, id: string, items: string, type = 'set') => `<iq type='${type}' id='${id}' to='${room}'><query xmlns='${NS_MUC_ADMIN}'>${items}</query></iq>`;
const listOf = (iq: string) => parseStanza(iq).getChild('query')!.getChildren('item').map((i) => i.attrs as Record<string, string>);

async function room3(name: string) {
  const a = await login('alice');
  const b = await login('bob');
  const c = await login('carol');
  const room = `${name}@${S}`;
  await createInstant(a.c, room, 'Alice');
  await join(b.c, `${room}/Bob`);
  await join(c.c, `${room}/Carol`);
  await next(a.c, presenceFrom(`${room}/Carol`));
  await next(b.c, presenceFrom(`${room}/Carol`));
  return { a, b, c, room, close: () => [a, b, c].forEach((x) => x.c.close()) };
}

test('kick: the occupant leaves with 307, actor and reason; a participant may not kick (forbidden), nobody kicks the owner (not-allowed)', async () => {
  const { a, b, c, room, close } = await room3('kick');
  assertStanza(await b.c.iq('k0', admin(room, 'k0', "<item nick='Carol' role='none'/>")), stanzaError('forbidden'));
  const got = await iqAll(a.c, 'k1', admin(room, 'k1', "<item nick='Carol' role='none'><reason>spam</reason></item>"));
  assertStanza(got[got.length - 1]!, iqResult());
  const seen = got.find((e) => e.attrs.from === `${room}/Carol`)!;
  for (const p of [seen, await next(b.c, presenceFrom(`${room}/Carol`))]) {
    assert.equal(p.attrs.type, 'unavailable');
    assert.deepEqual(codes(p), [307]);
    assert.equal(item(p).role, 'none');
  }
  const own = await next(c.c, presenceFrom(`${room}/Carol`));
  assert.deepEqual(codes(own), [110, 307]);
  const x = own.getChild('x', NS_MUC_USER)!.getChild('item')!;
  assert.equal(x.getChild('actor')?.attrs.nick, 'Alice');
  assert.equal(x.getChildText('reason'), 'spam');
  // a moderator (bob, made one by the owner) may not kick the owner
  assert.match(await a.c.iq('k2', admin(room, 'k2', "<item nick='Bob' role='moderator'/>")), /type=["']result/);
  assertStanza(await b.c.iq('k3', admin(room, 'k3', "<item nick='Alice' role='none'/>")), stanzaError('not-allowed'));
  assertStanza(await a.c.iq('k4', admin(room, 'k4', "<item nick='Nobody' role='none'/>")), stanzaError('item-not-found'));
  // kicked, carol may come back
  await join(c.c, `${room}/Carol`);
  close();
});

test('ban: 301 for the outcast, who cannot come back (forbidden); the outcast list; an admin may not ban an owner', async () => {
  const { a, b, c, room, close } = await room3('ban');
  const got = await iqAll(a.c, 'b1', admin(room, 'b1', "<item jid='carol@localhost' affiliation='outcast'><reason>trolling</reason></item>"));
  assertStanza(got[got.length - 1]!, iqResult());
  const p = await next(b.c, presenceFrom(`${room}/Carol`));
  assert.deepEqual(codes(p), [301]);
  assert.deepEqual([item(p).affiliation, item(p).role], ['outcast', 'none']);
  assert.deepEqual(codes(await next(c.c, presenceFrom(`${room}/Carol`))), [110, 301]);
  assertStanza(await joinError(c.c, `${room}/Carol`), stanzaError('forbidden', 'presence'));
  const outcasts = listOf(await a.c.iq('b2', admin(room, 'b2', "<item affiliation='outcast'/>", 'get')));
  assert.deepEqual(outcasts.map((i) => [i.jid, i.affiliation]), [['carol@localhost', 'outcast']]);
  assert.equal(parseStanza(await a.c.iq('b3', admin(room, 'b3', "<item affiliation='outcast'/>", 'get'))).getChild('query')!.getChild('item')!.getChildText('reason'), 'trolling');
  // bob, a participant, may not read the outcast list nor ban
  assertStanza(await b.c.iq('b4', admin(room, 'b4', "<item affiliation='outcast'/>", 'get')), stanzaError('forbidden'));
  assertStanza(await b.c.iq('b5', admin(room, 'b5', "<item jid='dave@localhost' affiliation='outcast'/>")), stanzaError('forbidden'));
  // bob becomes admin (owners only grant it) and still may not ban alice, an owner
  assert.match(await a.c.iq('b6', admin(room, 'b6', "<item jid='bob@localhost' affiliation='admin'/>")), /type=["']result/);
  assertStanza(await b.c.iq('b7', admin(room, 'b7', "<item jid='alice@localhost' affiliation='outcast'/>")), stanzaError('not-allowed'));
  assertStanza(await b.c.iq('b8', admin(room, 'b8', "<item jid='dave@localhost' affiliation='owner'/>")), stanzaError('forbidden'));
  // lifting the ban
  assert.match(await b.c.iq('b9', admin(room, 'b9', "<item jid='carol@localhost' affiliation='none'/>")), /type=["']result/);
  await join(c.c, `${room}/Carol`);
  close();
});

test('voice: revoked and granted in a moderated room, the change broadcast with the new role; the voice and moderator lists', async () => {
  const { a, b, c, room, close } = await room3('voice');
  await configure(a.c, room, { [rc('moderatedroom')]: '1' });
  await next(b.c, messageFrom(room));
  assert.match(await a.c.iq('v1', admin(room, 'v1', "<item nick='Carol' role='visitor'><reason>quiet</reason></item>")), /type=["']result/);
  const p = await next(b.c, presenceFrom(`${room}/Carol`));
  assert.equal(item(p).role, 'visitor');
  assert.deepEqual(codes(await next(c.c, presenceFrom(`${room}/Carol`))), [110]);
  c.c.send(`<message to='${room}' type='groupchat' id='v'><body>x</body></message>`);
  assertStanza(await next(c.c, /<message[^>]*type=["']error["'][\s\S]*?<\/message>/), stanzaError('forbidden', 'message'));
  const voice = listOf(await a.c.iq('v2', admin(room, 'v2', "<item role='participant'/>", 'get')));
  assert.deepEqual(voice.map((i) => i.nick), ['Bob']);
  const mods = listOf(await a.c.iq('v3', admin(room, 'v3', "<item role='moderator'/>", 'get')));
  assert.deepEqual(mods.map((i) => i.nick), ['Alice']);
  assertStanza(await b.c.iq('v4', admin(room, 'v4', "<item role='participant'/>", 'get')), stanzaError('forbidden'));
  assert.match(await a.c.iq('v5', admin(room, 'v5', "<item nick='Carol' role='participant'/>")), /type=["']result/);
  assert.equal(item(await next(b.c, presenceFrom(`${room}/Carol`))).role, 'participant');
  close();
});

test('the member list: set by admins, read by members (getmemberlist); 321 removes an ex-member from a members-only room; 322 on switching to members-only', async () => {
  const { a, b, c, room, close } = await room3('list');
  const set = await iqAll(a.c, 'l1', admin(room, 'l1', "<item jid='bob@localhost' affiliation='member'/><item jid='dave@localhost' affiliation='member'/>"));
  assertStanza(set[set.length - 1]!, iqResult());
  assert.equal(item(await next(c.c, presenceFrom(`${room}/Bob`))).affiliation, 'member');
  const members = listOf(await b.c.iq('l2', admin(room, 'l2', "<item affiliation='member'/>", 'get')));
  assert.deepEqual(members.map((i) => i.jid).sort(), ['bob@localhost', 'dave@localhost']);
  assert.equal(members.find((i) => i.jid === 'bob@localhost')!.nick, 'Bob');
  // only moderators may read it once getmemberlist says so
  await configure(a.c, room, { [rc('getmemberlist')]: 'moderator' });
  assertStanza(await b.c.iq('l3', admin(room, 'l3', "<item affiliation='member'/>", 'get')), stanzaError('forbidden'));
  // members-only: carol (no affiliation) is removed with 322
  await configure(a.c, room, { [rc('membersonly')]: '1' }, 'cfg2');
  const p = await next(b.c, presenceFrom(`${room}/Carol`));
  assert.equal(p.attrs.type, 'unavailable');
  assert.deepEqual(codes(p), [322]);
  // bob loses his membership: 321
  assert.match(await a.c.iq('l4', admin(room, 'l4', "<item jid='bob@localhost' affiliation='none'/>")), /type=["']result/);
  assert.deepEqual(codes(await readLast(b, `${room}/Bob`)), [110, 321]);
  // the admin and owner lists
  const owners = listOf(await a.c.iq('l5', admin(room, 'l5', "<item affiliation='owner'/>", 'get')));
  assert.deepEqual(owners.map((i) => i.jid), ['alice@localhost']);
  assert.deepEqual(listOf(await a.c.iq('l6', admin(room, 'l6', "<item affiliation='admin'/>", 'get'))), []);
  // §10.9: the last owner cannot step down
  assertStanza(await a.c.iq('l7', admin(room, 'l7', "<item jid='alice@localhost' affiliation='admin'/>")), stanzaError('conflict'));
  // with a second owner she can; dave's affiliations are set without him in the room
  assert.match(await a.c.iq('l8', admin(room, 'l8', "<item jid='dave@localhost' affiliation='owner'/><item jid='alice@localhost' affiliation='admin'/>")), /type=["']result/);
  assert.deepEqual(listOf(await a.c.iq('l9', admin(room, 'l9', "<item affiliation='admin'/>", 'get'))).map((i) => i.jid), ['alice@localhost']);
  assertStanza(await a.c.iq('l10', `<iq type='get' id='l10' to='${room}'><query xmlns='${NS_MUC_OWNER}'/></iq>`), stanzaError('forbidden'));
  close();
});

async function readLast(x: { c: RawClient }, from: string) {
  for (;;) {
    const p = await next(x.c, presenceFrom(from));
    if (p.attrs.type === 'unavailable') return p;
  }
}

test('invitations: the room passes them on (with the password), makes the invitee a member of a members-only room; declines go back', async () => {
  const a = await login('alice');
  const d = await login('dave');
  const room = `invite@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('membersonly')]: '1', [rc('passwordprotectedroom')]: '1', [rc('roomsecret')]: 'pw' });
  a.c.send(`<message to='${room}'><x xmlns='${NS_MUC_USER}'><invite to='dave@localhost'><reason>join us</reason></invite></x></message>`);
  const inv = await next(d.c, messageFrom(room));
  assertStanza(inv, {
    name: 'message', attrs: { from: room, to: 'dave@localhost' },
    has: [{ name: 'x', ns: NS_MUC_USER, has: [{ name: 'invite', attrs: { from: 'alice@localhost/r' }, children: [{ name: 'reason', text: 'join us' }] }, { name: 'password', text: 'pw' }] }],
  });
  const got = await join(d.c, `${room}/Dave`, `<x xmlns='http://jabber.org/protocol/muc'><password>pw</password></x>`);
  assert.equal(item(got.find((e) => e.attrs.from === `${room}/Dave`)!).affiliation, 'member');
  // a member may not invite while allowinvites is off (members-only: only admins add members)
  d.c.send(`<message to='${room}'><x xmlns='${NS_MUC_USER}'><invite to='carol@localhost'/></x></message>`);
  assertStanza(await next(d.c, /<message[^>]*type=["']error["'][\s\S]*?<\/message>/), stanzaError('forbidden', 'message'));
  // bob declines an invitation
  const b = await login('bob');
  await sync(b.c); // bob is available before the invitation goes to his bare JID
  a.c.send(`<message to='${room}'><x xmlns='${NS_MUC_USER}'><invite to='bob@localhost'/></x></message>`);
  await next(b.c, messageFrom(room));
  b.c.send(`<message to='${room}'><x xmlns='${NS_MUC_USER}'><decline to='alice@localhost'><reason>busy</reason></decline></x></message>`);
  assertStanza(await next(a.c, /<message[^>]*>(?:(?!<\/message>)[\s\S])*<decline[\s\S]*?<\/message>/), {
    name: 'message', attrs: { from: room }, has: [{ name: 'x', ns: NS_MUC_USER, has: [{ name: 'decline', attrs: { from: 'bob@localhost' }, children: [{ name: 'reason', text: 'busy' }] }] }],
  });
  a.c.close(); b.c.close(); d.c.close();
});

test('destroying a room: occupants leave with <destroy/> (alternate venue, reason); only owners may; the room is gone', async () => {
  const { a, b, c, room, close } = await room3('doomed');
  assertStanza(await b.c.iq('d0', `<iq type='set' id='d0' to='${room}'><query xmlns='${NS_MUC_OWNER}'><destroy/></query></iq>`), stanzaError('forbidden'));
  const got = await iqAll(a.c, 'd1', `<iq type='set' id='d1' to='${room}'><query xmlns='${NS_MUC_OWNER}'><destroy jid='elsewhere@${S}'><reason>moved</reason></destroy></query></iq>`);
  assertStanza(got[got.length - 1]!, iqResult());
  for (const [x, nick] of [[b, 'Bob'], [c, 'Carol']] as const) {
    const p = await next(x.c, presenceFrom(`${room}/${nick}`));
    assertStanza(p, {
      name: 'presence', attrs: { type: 'unavailable' },
      has: [{ name: 'x', ns: NS_MUC_USER, has: [{ name: 'item', attrs: { role: 'none' } }, { name: 'destroy', attrs: { jid: `elsewhere@${S}` }, children: [{ name: 'reason', text: 'moved' }] }] }],
    });
  }
  assertStanza(await b.c.iq('d2', `<iq type='get' id='d2' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), stanzaError('item-not-found'));
  close();
});

test('bad requests get their stanza errors: unknown roles and affiliations, mixed items, missing items, wrong form types, unknown namespaces', async () => {
  const a = await login('alice');
  const room = `bad@${S}`;
  await createInstant(a.c, room, 'Alice');
  const cases: Array<[string, string]> = [
    [admin(room, 'x1', "<item nick='Alice' role='king'/>"), 'bad-request'],
    [admin(room, 'x2', "<item jid='bob@localhost' affiliation='emperor'/>"), 'bad-request'],
    [admin(room, 'x3', "<item jid='bob@localhost' nick='Alice' affiliation='member' role='visitor'/>"), 'bad-request'],
    [admin(room, 'x4', ''), 'bad-request'],
    [admin(room, 'x5', "<item affiliation='none'/>", 'get'), 'bad-request'],
    [admin(room, 'x6', "<item jid='not a jid@@' affiliation='member'/>"), 'jid-malformed'],
    [`<iq type='set' id='x7' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='form'/></query></iq>`, 'bad-request'],
    [`<iq type='set' id='x8' to='${room}'><query xmlns='${NS_MUC_OWNER}'/></iq>`, 'bad-request'],
    [`<iq type='set' id='x9' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query></iq>`, 'bad-request'],
    [`<iq type='set' id='x10' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>-3</value></field></x></query></iq>`, 'not-acceptable'],
    [`<iq type='set' id='x11' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field></x></query></iq>`, 'not-acceptable'],
    [`<iq type='get' id='x12' to='${room}'><query xmlns='urn:example:unknown'/></iq>`, 'service-unavailable'],
    [`<iq type='get' id='x13' to='${S}'><query xmlns='urn:example:unknown'/></iq>`, 'service-unavailable'],
    [`<iq type='get' id='x14' to='${room}'/>`, 'bad-request'],
  ];
  for (const [stanza, condition] of cases) {
    const id = /id='([^']+)'/.exec(stanza)![1]!;
    assertStanza(await a.c.iq(id, stanza), stanzaError(condition), { what: id });
  }
  // the room still works and its configuration did not change
  const info = await a.c.iq('x15', `<iq type='get' id='x15' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  assert.match(info, /muc_unsecured/);
  a.c.send(`<message to='${S}' id='x16'><body>to the service</body></message>`);
  assertStanza(await next(a.c, /<message[^>]*type=["']error["'][\s\S]*?<\/message>/), stanzaError('service-unavailable', 'message'));
  a.c.close();
});
