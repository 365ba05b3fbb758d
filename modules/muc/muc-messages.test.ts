// Messages in rooms over real sockets (XEP-0045 §7.4, §7.5, §8.1): groupchat to every occupant with the
// reflected copy, errors for non-occupants and voiceless visitors, subject changes (changesubject), private
// messages between occupants (allowpm, the <x xmlns='muc#user'/> marker), IQs relayed between occupants,
// voice requests (§7.13), metrics, and the message path other modules hook into (MUC_SERVICE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_SERVICE, type MucApi } from './api.js';
import { xml } from '../../src/sdk.js';
import { MUC_MODULES, NS_MUC_ADMIN, NS_MUC_USER, configure, createInstant, join, next, presenceFrom, rc, sync } from './test-support.js';

let t: TestServer;
const S = 'conference.localhost';

before(async () => {
  t = await startTestServer({ modules: { ...MUC_MODULES, vcard: {} } });
  for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource);
const byId = (id: string) => new RegExp(`<message[^>]*id=["']${id}["'][\\s\\S]*?</message>`);
const errorMsg = /<message[^>]*type=["']error["'][\s\S]*?<\/message>/;

async function roomWithBob(name: string) {
  const a = await login('alice');
  const b = await login('bob');
  const room = `${name}@${S}`;
  await createInstant(a.c, room, 'Alice');
  await join(b.c, `${room}/Bob`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  return { a, b, room };
}

test('groupchat goes to every occupant from the sender’s room JID; the sender gets the reflected copy; forged occupant ids are replaced', async () => {
  const { a, b, room } = await roomWithBob('chat');
  b.c.send(`<message to='${room}' type='groupchat' id='g1'><body>hello all</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/></message>`);
  const seen = await next(a.c, byId('g1'));
  const echo = await next(b.c, byId('g1'));
  for (const m of [seen, echo]) {
    assertStanza(m, { name: 'message', attrs: { from: `${room}/Bob`, type: 'groupchat', id: 'g1' }, has: [{ name: 'body', text: 'hello all' }] });
    const ids = m.getChildren('occupant-id', 'urn:xmpp:occupant-id:0');
    assert.equal(ids.length, 1);
    assert.notEqual(ids[0]!.attrs.id, 'forged');
  }
  assert.equal(seen.attrs.to, 'alice@localhost/r');
  assert.equal(echo.attrs.to, 'bob@localhost/r');
  // metrics: the message, the room and its two occupants
  const metric = (name: string) => t.server.core.metrics.registry.getSingleMetricAsString(name);
  assert.match(await metric('xmppd_muc_messages_total'), /xmppd_muc_messages_total\{host="localhost"\} [1-9]/);
  assert.match(await metric('xmppd_muc_rooms'), /xmppd_muc_rooms\{host="localhost"\} [1-9]/);
  assert.match(await metric('xmppd_muc_occupants'), /xmppd_muc_occupants\{host="localhost"\} [2-9]/);
  // carol is not an occupant: not-acceptable, and nobody gets her message
  const c = await login('carol');
  c.c.send(`<message to='${room}' type='groupchat' id='g2'><body>let me in</body></message>`);
  assertStanza(await next(c.c, errorMsg), stanzaError('not-acceptable', 'message'));
  assert.ok(!(await sync(a.c)).some((e) => e.attrs.id === 'g2'));
  // a message to a room that does not exist
  c.c.send(`<message to='nowhere@${S}' type='groupchat' id='g3'><body>?</body></message>`);
  assertStanza(await next(c.c, errorMsg), stanzaError('item-not-found', 'message'));
  a.c.close(); b.c.close(); c.c.close();
});

test('in a moderated room a visitor gets forbidden until a moderator grants voice', async () => {
  const a = await login('alice');
  const room = `moderated@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('moderatedroom')]: '1' });
  const b = await login('bob');
  await join(b.c, `${room}/Bob`);
  b.c.send(`<message to='${room}' type='groupchat' id='v1'><body>can I speak?</body></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('forbidden', 'message'));
  assert.match(await a.c.iq('voice', `<iq type='set' id='voice' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item nick='Bob' role='participant'/></query></iq>`), /type=["']result/);
  b.c.send(`<message to='${room}' type='groupchat' id='v2'><body>now I can</body></message>`);
  assert.equal((await next(a.c, byId('v2'))).getChildText('body'), 'now I can');
  a.c.close(); b.c.close();
});

test('the subject: participants may not change it unless changesubject; a change reaches everyone and newcomers', async () => {
  const { a, b, room } = await roomWithBob('subject');
  b.c.send(`<message to='${room}' type='groupchat' id='s1'><subject>mine</subject></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('forbidden', 'message'));
  a.c.send(`<message to='${room}' type='groupchat' id='s2'><subject>Welcome</subject></message>`);
  assertStanza(await next(b.c, byId('s2')), { name: 'message', attrs: { from: `${room}/Alice`, type: 'groupchat' }, has: [{ name: 'subject', text: 'Welcome' }], without: [{ name: 'body' }] });
  await configure(a.c, room, { [rc('changesubject')]: '1' });
  b.c.send(`<message to='${room}' type='groupchat' id='s3'><subject>Bob was here</subject></message>`);
  assert.equal((await next(a.c, byId('s3'))).getChildText('subject'), 'Bob was here');
  const c = await login('carol');
  const got = await join(c.c, `${room}/Carol`);
  assertStanza(got[got.length - 1]!, { name: 'message', attrs: { from: `${room}/Bob` }, children: [{ name: 'subject', text: 'Bob was here' }] });
  a.c.close(); b.c.close(); c.c.close();
});

test('private messages between occupants carry the muc#user marker; allowpm and the error cases', async () => {
  const { a, b, room } = await roomWithBob('pm');
  b.c.send(`<message to='${room}/Alice' type='chat' id='p1'><body>psst</body></message>`);
  assertStanza(await next(a.c, byId('p1')), {
    name: 'message', attrs: { from: `${room}/Bob`, to: 'alice@localhost/r', type: 'chat' },
    has: [{ name: 'body', text: 'psst' }, { name: 'x', ns: NS_MUC_USER }],
  });
  assert.ok(!(await sync(b.c)).some((e) => e.attrs.id === 'p1'), 'private messages are not reflected');
  b.c.send(`<message to='${room}/Nobody' type='chat' id='p2'><body>?</body></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('item-not-found', 'message'));
  b.c.send(`<message to='${room}/Alice' type='groupchat' id='p3'><body>?</body></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('bad-request', 'message'));
  const c = await login('carol');
  c.c.send(`<message to='${room}/Alice' type='chat' id='p4'><body>outsider</body></message>`);
  assertStanza(await next(c.c, errorMsg), stanzaError('not-acceptable', 'message'));
  await configure(a.c, room, { [rc('allowpm')]: 'moderators' });
  b.c.send(`<message to='${room}/Alice' type='chat' id='p5'><body>?</body></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('forbidden', 'message'));
  a.c.send(`<message to='${room}/Bob' type='chat' id='p6'><body>moderators may</body></message>`);
  assert.equal((await next(b.c, byId('p6'))).getChildText('body'), 'moderators may');
  await configure(a.c, room, { [rc('allowpm')]: 'none' }, 'cfg2');
  a.c.send(`<message to='${room}/Bob' type='chat' id='p7'><body>?</body></message>`);
  assertStanza(await next(a.c, errorMsg), stanzaError('forbidden', 'message'));
  a.c.close(); b.c.close(); c.c.close();
});

test('IQs between occupants go through the room: the requester’s real JID stays hidden and the answer comes back by id', async () => {
  const { a, b, room } = await roomWithBob('iq');
  b.c.send(`<iq type='get' id='ver1' to='${room}/Alice'><query xmlns='jabber:iq:version'/></iq>`);
  const req = await next(a.c, /<iq[^>]*type=["']get["'][\s\S]*?<\/iq>/);
  assertStanza(req, { name: 'iq', attrs: { type: 'get', from: `${room}/Bob`, to: 'alice@localhost/r' }, children: [{ name: 'query', ns: 'jabber:iq:version' }] });
  assert.ok(!req.toString().includes('bob@localhost'), 'alice does not learn bob’s JID');
  a.c.send(`<iq type='result' id='${req.attrs.id}' to='${room}/Bob'><query xmlns='jabber:iq:version'><name>raw</name></query></iq>`);
  assertStanza(await next(b.c, /<iq[^>]*id=["']ver1["'][\s\S]*?(?:<\/iq>|\/>)/), {
    name: 'iq', attrs: { type: 'result', id: 'ver1', from: `${room}/Alice`, to: 'bob@localhost/r' }, children: [{ name: 'query', has: [{ name: 'name', text: 'raw' }] }],
  });
  // a vCard request goes to bob's account, answered by his server, and comes back from his room JID
  assert.match(await b.c.iq('vs', "<iq type='set' id='vs'><vCard xmlns='vcard-temp'><FN>Bob B.</FN></vCard></iq>"), /type=["']result/);
  assertStanza(await a.c.iq('vc1', `<iq type='get' id='vc1' to='${room}/Bob'><vCard xmlns='vcard-temp'/></iq>`), {
    name: 'iq', attrs: { type: 'result', from: `${room}/Bob` }, children: [{ name: 'vCard', ns: 'vcard-temp', has: [{ name: 'FN', text: 'Bob B.' }] }],
  });
  assertStanza(await a.c.iq('vc2', `<iq type='set' id='vc2' to='${room}/Bob'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>`), stanzaError('not-allowed'));
  assertStanza(await b.c.iq('ver2', `<iq type='get' id='ver2' to='${room}/Nobody'><query xmlns='jabber:iq:version'/></iq>`), stanzaError('item-not-found'));
  const c = await login('carol');
  assertStanza(await c.c.iq('ver3', `<iq type='get' id='ver3' to='${room}/Alice'><query xmlns='jabber:iq:version'/></iq>`), stanzaError('not-acceptable'));
  a.c.close(); b.c.close(); c.c.close();
});

test('the room message path for other modules (MUC_SERVICE): a listener sees and may extend each groupchat message before history and broadcast; room IQs and features', async () => {
  const api = t.server.core.services.get<MucApi>('localhost', MUC_SERVICE.name)!;
  const seen: string[] = [];
  const off = api.addMessageListener((room, stanza, sender) => {
    seen.push(`${room.jid.toString()} ${sender.nick} ${sender.jid.toString()} ${stanza.getChildText('body')}`);
    stanza.cnode(xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: room.jid.toString(), id: `sid-${seen.length}` }));
  });
  const offIq = api.handleRoomIq('urn:example:archive', (room, call) => xml('answer', { xmlns: 'urn:example:archive', room: room.name, from: call.from.toString() }));
  const offF = api.addRoomFeatures((room) => (room.name === 'hooks' ? ['urn:example:archive'] : []));
  try {
    const { a, b, room } = await roomWithBob('hooks');
    b.c.send(`<message to='${room}' type='groupchat' id='k1'><body>archived</body></message>`);
    assertStanza(await next(a.c, byId('k1')), { name: 'message', has: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: room, id: 'sid-1' } }] });
    assert.deepEqual(seen, [`${room} Bob bob@localhost/r archived`]);
    assert.equal(api.history('hooks')[0]!.stanza.getChild('stanza-id')?.attrs.id, 'sid-1');
    assertStanza(await b.c.iq('q1', `<iq type='get' id='q1' to='${room}'><query xmlns='urn:example:archive'/></iq>`),
      { name: 'iq', attrs: { type: 'result' }, children: [{ name: 'answer', attrs: { room: 'hooks', from: 'bob@localhost/r' } }] });
    assert.match(await b.c.iq('q2', `<iq type='get' id='q2' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), /urn:example:archive/);
    a.c.close(); b.c.close();
  } finally {
    off(); offIq(); offF();
  }
});

test('voice requests (§7.13, §8.6): a visitor asks, the moderators get the approval form, an approval makes the visitor a participant', async () => {
  const a = await login('alice');
  const room = `askvoice@${S}`;
  await createInstant(a.c, room, 'Alice');
  await configure(a.c, room, { [rc('moderatedroom')]: '1' });
  const b = await login('bob');
  await join(b.c, `${room}/Bob`);
  await next(a.c, presenceFrom(`${room}/Bob`));
  const REQ = 'http://jabber.org/protocol/muc#request';
  b.c.send(`<message to='${room}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>${REQ}</value></field><field var='muc#role' type='list-single'><value>participant</value></field></x></message>`);
  const form = await next(a.c, /<message[^>]*>(?:(?!<\/message>)[\s\S])*muc#request_allow[\s\S]*?<\/message>/);
  const fields = new Map(form.getChild('x', 'jabber:x:data')!.getChildren('field').map((f) => [f.attrs.var as string, f.getChildText('value')]));
  assert.equal(form.attrs.from, room);
  assert.deepEqual([fields.get('muc#jid'), fields.get('muc#roomnick'), fields.get('muc#role')], ['bob@localhost/r', 'Bob', 'participant']);
  // bob may not approve his own request
  b.c.send(`<message to='${room}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>${REQ}</value></field><field var='muc#roomnick'><value>Bob</value></field><field var='muc#request_allow'><value>true</value></field></x></message>`);
  assertStanza(await next(b.c, errorMsg), stanzaError('forbidden', 'message'));
  a.c.send(`<message to='${room}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>${REQ}</value></field><field var='muc#role'><value>participant</value></field><field var='muc#jid'><value>bob@localhost/r</value></field><field var='muc#roomnick'><value>Bob</value></field><field var='muc#request_allow'><value>true</value></field></x></message>`);
  const p = await next(b.c, presenceFrom(`${room}/Bob`));
  assert.equal(p.getChild('x', NS_MUC_USER)!.getChild('item')!.attrs.role, 'participant');
  b.c.send(`<message to='${room}' type='groupchat' id='vr'><body>thanks</body></message>`);
  assert.equal((await next(a.c, byId('vr'))).getChildText('body'), 'thanks');
  a.c.close(); b.c.close();
});
