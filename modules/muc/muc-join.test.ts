// Entering and leaving rooms over real sockets (XEP-0045 §7.2-§7.7, §7.14): nick rules and conflicts, nick
// changes (303), password and members-only rooms, the occupant limit, real-JID visibility (§4.2, 100),
// presence updates, leaving and disconnecting, multi-session occupants, discussion history (§7.2.14) and
// the subject after it, occupants removed on errors (333), nick registration (§7.10, §7.12).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_MODULES, NS_MUC_ADMIN, codes, configure, createInstant, item, join, joinError, next, presenceFrom, rc, sync, readUntil } from './test-support.js';
import type { Element } from '../../src/sdk.js';

let t: TestServer;
const S = 'conference.localhost';
const USERS = ['alice', 'bob', 'carol', 'dave'];

before(async () => {
  t = await startTestServer({ modules: MUC_MODULES });
  for (const u of USERS) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource);
const selfOf = (els: Element[], from: string) => els.find((e) => e.name === 'presence' && e.attrs.from === from && codes(e).includes(110))!;
const X_PW = (pw: string) => `<x xmlns='http://jabber.org/protocol/muc'><password>${pw}</password></x>`;

test('nick conflict is 409; a nick change goes out as 303 with the new nick, then presence from the new nick', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const room = `nicks@${S}`;
  await createInstant(a.c, room, 'Alice');
  // §7.2.9: the nick is taken
  assertStanza(await joinError(b.c, `${room}/Alice`), stanzaError('conflict', 'presence'));
  // §7.2.1: no nick at all
  assertStanza(await joinError(b.c, room), stanzaError('jid-malformed', 'presence'));
  await join(b.c, `${room}/Bob`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  // §7.6.3: changing to a nick in use is a conflict; bob keeps his
  b.c.send(`<presence to='${room}/Alice'/>`);
  assertStanza(await next(b.c, /<presence[^>]*type=["']error["'][\s\S]*?<\/presence>/), stanzaError('conflict', 'presence'));
  b.c.send(`<presence to='${room}/Robert'/>`);
  const gone = await next(a.c, presenceFrom(`${room}/Bob`));
  assert.equal(gone.attrs.type, 'unavailable');
  assert.deepEqual(codes(gone), [303]);
  assert.equal(item(gone).nick, 'Robert');
  const back = await next(a.c, presenceFrom(`${room}/Robert`));
  assert.equal(back.attrs.type, undefined);
  // bob's own copies carry 110 as well
  const own = await readUntil(b.c, presenceFrom(`${room}/Robert`));
  const old = own.find((e) => e.attrs.from === `${room}/Bob`)!;
  assert.deepEqual(codes(old), [110, 303]);
  assert.deepEqual(codes(own[own.length - 1]!), [110]);
  // the old nick is free again
  const c = await login('carol');
  await join(c.c, `${room}/Bob`);
  a.c.close(); b.c.close(); c.c.close();
});

test('a password-protected room: no or a wrong password is not-authorized; the right one enters', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const room = `secret@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('passwordprotectedroom')]: '1', [rc('roomsecret')]: 'open sesame' });
  assertStanza(await joinError(b.c, `${room}/Bob`), stanzaError('not-authorized', 'presence'));
  assertStanza(await joinError(b.c, `${room}/Bob`, X_PW('wrong')), stanzaError('not-authorized', 'presence'));
  const got = await join(b.c, `${room}/Bob`, X_PW('open sesame'));
  assert.ok(selfOf(got, `${room}/Bob`));
  a.c.close(); b.c.close();
});

test('a members-only room: registration-required until an admin makes bob a member', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const room = `members@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('membersonly')]: '1' });
  assertStanza(await joinError(b.c, `${room}/Bob`), stanzaError('registration-required', 'presence'));
  assert.match(await a.c.iq('m1', `<iq type='set' id='m1' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='member' jid='bob@localhost'/></query></iq>`), /type=["']result/);
  const got = await join(b.c, `${room}/Bob`);
  assert.equal(item(selfOf(got, `${room}/Bob`)).affiliation, 'member');
  a.c.close(); b.c.close();
});

test('maxusers: a full room is service-unavailable, except for its owners', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const c = await login('carol');
  const room = `full@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('maxusers')]: '2' });
  await join(b.c, `${room}/Bob`);
  assertStanza(await joinError(c.c, `${room}/Carol`), stanzaError('service-unavailable', 'presence'));
  // alice leaves and comes back although the room is full
  const d = await login('dave');
  a.c.send(`<presence to='${room}/Alice' type='unavailable'/>`);
  await next(b.c, presenceFrom(`${room}/Alice`));
  await join(d.c, `${room}/Dave`);
  await join(a.c, `${room}/Alice`);
  a.c.close(); b.c.close(); c.c.close(); d.c.close();
});

test('semi-anonymous rooms show real JIDs to moderators only; non-anonymous rooms to everyone, with 100', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const room = `anon@${S}`;
  await createInstant(a.c, room, 'Alice');
  const bj = await join(b.c, `${room}/Bob`);
  // bob (participant) sees alice without her JID; his own presence shows his
  assert.equal(item(bj.find((e) => e.attrs.from === `${room}/Alice`)!).jid, undefined);
  assert.equal(item(selfOf(bj, `${room}/Bob`)).jid, 'bob@localhost/r');
  // alice (moderator) sees bob's JID
  assert.equal(item(await next(a.c, presenceFrom(`${room}/Bob`))).jid, 'bob@localhost/r');
  b.c.send(`<presence to='${room}/Bob' type='unavailable'/>`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  await configure(a.c, room, { [rc('whois')]: 'anyone' });
  await sync(b.c);
  const again = await join(b.c, `${room}/Bob`);
  assert.equal(item(again.find((e) => e.attrs.from === `${room}/Alice`)!).jid, 'alice@localhost/r');
  assert.deepEqual(codes(selfOf(again, `${room}/Bob`)), [100, 110]);
  a.c.close(); b.c.close();
});

test('presence updates reach everyone; leaving is unavailable with 110 for the leaver; a disconnect removes the occupant', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const room = `moves@${S}`;
  await createInstant(a.c, room, 'Alice');
  await join(b.c, `${room}/Bob`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  b.c.send(`<presence to='${room}/Bob'><show>away</show><status>lunch</status></presence>`);
  const upd = await next(a.c, presenceFrom(`${room}/Bob`));
  assert.equal(upd.getChildText('show'), 'away');
  assert.equal(upd.getChildText('status'), 'lunch');
  assert.deepEqual(codes(await next(b.c, presenceFrom(`${room}/Bob`))), [110]);
  b.c.send(`<presence to='${room}/Bob' type='unavailable'><status>bye</status></presence>`);
  const left = await next(a.c, presenceFrom(`${room}/Bob`));
  assert.equal(left.attrs.type, 'unavailable');
  assert.equal(left.getChildText('status'), 'bye');
  assert.equal(item(left).role, 'none');
  const own = await next(b.c, presenceFrom(`${room}/Bob`));
  assert.equal(own.attrs.type, 'unavailable');
  assert.deepEqual(codes(own), [110]);
  // the same after a dropped connection (the presence module's unavailable to directed presence)
  const c = await login('carol');
  await join(c.c, `${room}/Carol`);
  await next(a.c, presenceFrom(`${room}/Carol`));
  c.c.close();
  const dropped = await next(a.c, presenceFrom(`${room}/Carol`));
  assert.equal(dropped.attrs.type, 'unavailable');
  a.c.close(); b.c.close();
});

test('two sessions of bob join under one nick: one occupant, both get the messages; he leaves with the last one', async () => {
  const a = await login('alice');
  const b1 = await login('bob', 'one');
  const b2 = await login('bob', 'two');
  const room = `multi@${S}`;
  await createInstant(a.c, room, 'Alice');
  await join(b1.c, `${room}/Bob`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  // another nick from another session is refused (one nick per user)
  assertStanza(await joinError(b2.c, `${room}/Bobby`), stanzaError('conflict', 'presence'));
  const got = await join(b2.c, `${room}/Bob`);
  assert.ok(selfOf(got, `${room}/Bob`));
  a.c.send(`<message to='${room}' type='groupchat' id='mm'><body>both?</body></message>`);
  for (const c of [b1.c, b2.c]) assert.equal((await next(c, /<message[^>]*id=["']mm["'][\s\S]*?<\/message>/)).getChildText('body'), 'both?');
  b2.c.send(`<presence to='${room}/Bob' type='unavailable'/>`);
  assert.equal((await next(b2.c, presenceFrom(`${room}/Bob`))).attrs.type, 'unavailable');
  assert.ok(!(await sync(a.c)).some((e) => e.attrs.from === `${room}/Bob`), 'alice sees no departure while a session remains');
  b1.c.send(`<presence to='${room}/Bob' type='unavailable'/>`);
  assert.equal((await next(a.c, presenceFrom(`${room}/Bob`))).attrs.type, 'unavailable');
  a.c.close(); b1.c.close(); b2.c.close();
});

test('history on join: the last messages delayed by the room, limited by maxstanzas, maxchars, seconds and since; the subject last', async () => {
  const a = await login('alice');
  const room = `history@${S}`;
  await createInstant(a.c, room, 'Alice');
  a.c.send(`<message to='${room}' type='groupchat'><subject>Talk</subject></message>`);
  for (let i = 1; i <= 5; i++) a.c.send(`<message to='${room}' type='groupchat' id='h${i}'><body>message ${i}</body></message>`);
  await next(a.c, /<message[^>]*id=["']h5["'][\s\S]*?<\/message>/);
  const b = await login('bob');
  const hist = async (x: string) => {
    const got = await join(b.c, `${room}/Bob`, x);
    b.c.send(`<presence to='${room}/Bob' type='unavailable'/>`);
    await next(b.c, presenceFrom(`${room}/Bob`));
    const msgs = got.filter((e) => e.name === 'message');
    const subject = msgs.pop()!;
    assertStanza(subject, { name: 'message', attrs: { from: `${room}/Alice`, type: 'groupchat' }, children: [{ name: 'subject', text: 'Talk' }] });
    return msgs;
  };
  const all = await hist(`<x xmlns='http://jabber.org/protocol/muc'/>`);
  assert.deepEqual(all.map((m) => m.getChildText('body')), ['message 1', 'message 2', 'message 3', 'message 4', 'message 5']);
  for (const m of all) {
    assertStanza(m, { name: 'message', attrs: { from: `${room}/Alice`, type: 'groupchat' }, has: [{ name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: room, stamp: /^\d{4}-\d\d-\d\dT/ } }] });
  }
  const h = (attrs: string) => `<x xmlns='http://jabber.org/protocol/muc'><history ${attrs}/></x>`;
  assert.deepEqual((await hist(h("maxstanzas='2'"))).map((m) => m.getChildText('body')), ['message 4', 'message 5']);
  assert.deepEqual(await hist(h("maxstanzas='0'")), []);
  // maxchars counts whole stanzas: room for exactly the last one
  const lastChars = all[4]!.toString().length;
  const chars = await hist(h(`maxchars='${lastChars + 60}'`));
  assert.deepEqual(chars.map((m) => m.getChildText('body')), ['message 5']);
  assert.deepEqual(await hist(h("maxchars='0'")), []);
  assert.equal((await hist(h("seconds='60'"))).length, 5);
  await new Promise((r) => setTimeout(r, 1100));
  a.c.send(`<message to='${room}' type='groupchat' id='h6'><body>message 6</body></message>`);
  await next(a.c, /<message[^>]*id=["']h6["'][\s\S]*?<\/message>/);
  assert.deepEqual((await hist(h("seconds='1'"))).map((m) => m.getChildText('body')), ['message 6']);
  const since = new Date(Date.now() - 500).toISOString();
  assert.deepEqual((await hist(h(`since='${since}'`))).map((m) => m.getChildText('body')), ['message 6']);
  assert.equal((await hist(h("since='2000-01-01T00:00:00Z' maxstanzas='3'"))).length, 3);
  a.c.close(); b.c.close();
});

test('history_size: the room keeps that many messages', async () => {
  await t.server.modules.reload('muc', { history_size: 2 });
  try {
    const a = await login('alice');
    const room = `short@${S}`;
    await createInstant(a.c, room, 'Alice');
    for (let i = 1; i <= 4; i++) a.c.send(`<message to='${room}' type='groupchat' id='s${i}'><body>m${i}</body></message>`);
    await next(a.c, /<message[^>]*id=["']s4["'][\s\S]*?<\/message>/);
    const b = await login('bob');
    const got = await join(b.c, `${room}/Bob`);
    assert.deepEqual(got.filter((e) => e.name === 'message' && e.getChild('body')).map((m) => m.getChildText('body')), ['m3', 'm4']);
    a.c.close(); b.c.close();
  } finally {
    await t.server.modules.reload('muc', {});
  }
});

test('an occupant whose client answers a room message with an error is taken out with 333 (its other sessions stay)', async () => {
  const a = await login('alice');
  const b1 = await login('bob', 'one');
  const b2 = await login('bob', 'two');
  const room = `errors@${S}`;
  await createInstant(a.c, room, 'Alice');
  await join(b1.c, `${room}/Bob`);
  await join(b2.c, `${room}/Bob`);
  await sync(a.c); // bob's arrival
  b1.c.send(`<message to='${room}' type='error' id='e1'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
  a.c.send(`<message to='${room}' type='groupchat' id='after1'><body>still there?</body></message>`);
  await next(b2.c, /<message[^>]*id=["']after1["'][\s\S]*?<\/message>/);
  assert.ok(!(await sync(b1.c)).some((e) => e.attrs.id === 'after1'), 'the failed session gets no more room messages');
  assert.ok(!(await sync(a.c)).some((e) => e.name === 'presence' && e.attrs.from === `${room}/Bob`), 'bob is still in the room');
  b2.c.send(`<presence to='${room}/Bob' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`);
  const out = await next(a.c, presenceFrom(`${room}/Bob`));
  assert.equal(out.attrs.type, 'unavailable');
  assert.deepEqual(codes(out), [333]);
  a.c.close(); b1.c.close(); b2.c.close();
});

test('registering with a room (§7.10): the nick is reserved (others get conflict), discoverable (§7.12), and the user a member; <remove/> undoes it', async () => {
  const a = await login('alice');
  const b = await login('bob');
  const c = await login('carol');
  const room = `register@${S}`;
  await createInstant(a.c, room, 'Alice');
  const REG = 'jabber:iq:register';
  const form = await b.c.iq('r1', `<iq type='get' id='r1' to='${room}'><query xmlns='${REG}'/></iq>`);
  assert.match(form, /muc#register_roomnick/);
  const submit = (id: string, nick: string) => `<iq type='set' id='${id}' to='${room}'><query xmlns='${REG}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>${nick}</value></field></x></query></iq>`;
  assert.match(await b.c.iq('r2', submit('r2', 'Bobby')), /type=["']result/);
  assertStanza(await b.c.iq('r3', `<iq type='get' id='r3' to='${room}'><query xmlns='${REG}'/></iq>`),
    { name: 'iq', attrs: { type: 'result' }, children: [{ name: 'query', has: [{ name: 'registered' }, { name: 'username', text: 'Bobby' }] }] });
  assertStanza(await b.c.iq('r4', `<iq type='get' id='r4' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>`),
    { name: 'iq', attrs: { type: 'result' }, children: [{ name: 'query', children: [{ name: 'identity', attrs: { category: 'conference', type: 'text', name: 'Bobby' } }] }] });
  // carol can neither register nor use bob's nick
  assertStanza(await c.c.iq('r5', submit('r5', 'Bobby')), stanzaError('conflict'));
  assertStanza(await joinError(c.c, `${room}/Bobby`), stanzaError('conflict', 'presence'));
  const got = await join(b.c, `${room}/Bobby`);
  assert.equal(item(selfOf(got, `${room}/Bobby`)).affiliation, 'member');
  const members = await a.c.iq('r6', `<iq type='get' id='r6' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='member'/></query></iq>`);
  assert.match(members, /jid=["']bob@localhost["']/);
  assert.match(await b.c.iq('r7', `<iq type='set' id='r7' to='${room}'><query xmlns='${REG}'><remove/></query></iq>`), /type=["']result/);
  b.c.send(`<presence to='${room}/Bobby' type='unavailable'/>`);
  await next(b.c, presenceFrom(`${room}/Bobby`));
  await join(c.c, `${room}/Bobby`);
  a.c.close(); b.c.close(); c.c.close();
});
