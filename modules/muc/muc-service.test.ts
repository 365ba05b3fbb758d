// The MUC service over real sockets, on every host: disco of the service (XEP-0045 §6.1-§6.4), room creation
// (instant §10.1.2, reserved and locked §10.1.3), the configuration form and its status codes (§10.2), and
// who may create rooms (access_create, users of other hosts refused with not-allowed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_MODULES, NS_MUC_OWNER, X_MUC, codes, configure, createInstant, join, joinError, messageFrom, next, rc } from './test-support.js';

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
let t: TestServer;

before(async () => {
  // muc_creators: the administrators only (each host has its own admin ACL in config/test.yaml).
  t = await startTestServer({ modules: MUC_MODULES, access_rules: { register: [{ allow: 'loopback' }, { deny: 'all' }], muc_creators: [{ allow: 'admin' }, { deny: 'all' }] } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'admin']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const info = (c: RawClient, id: string, to: string) => c.iq(id, `<iq type='get' id='${id}' to='${to}'><query xmlns='${DISCO_INFO}'/></iq>`);
const items = (c: RawClient, id: string, to: string) => c.iq(id, `<iq type='get' id='${id}' to='${to}'><query xmlns='${DISCO_ITEMS}'/></iq>`);
const features = (iq: string) => parseStanza(iq).getChild('query')!.getChildren('feature').map((f) => f.attrs.var as string);
const formValue = (iq: string, v: string) => parseStanza(iq).getChild('query')!.getChild('x')!.getChildren('field').find((f) => f.attrs.var === v)?.getChildText('value');

forEachHost((host) => {
  const svc = `conference.${host}`;
  const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('the host lists its MUC service; the service is conference/text with the muc and occupant-id features', async () => {
    const a = await login('alice', 'disco');
    assertStanza(await items(a.c, 'h1', host), iqResult({ name: 'query', ns: DISCO_ITEMS, has: [{ name: 'item', attrs: { jid: svc, name: 'Chatrooms' } }] }));
    const i = await info(a.c, 's1', svc);
    assertStanza(i, iqResult({ name: 'query', ns: DISCO_INFO, has: [{ name: 'identity', attrs: { category: 'conference', type: 'text' } }] }));
    const f = features(i);
    for (const want of ['http://jabber.org/protocol/muc', 'http://jabber.org/protocol/muc#stable_id', 'urn:xmpp:occupant-id:0', DISCO_INFO, DISCO_ITEMS]) assert.ok(f.includes(want), want);
    assert.ok(f.includes('jabber:iq:register'), 'rooms take registrations (XEP-0045 §7.10)');
    // an unknown room: item-not-found
    assertStanza(await info(a.c, 's2', `nowhere@${svc}`), stanzaError('item-not-found'));
    a.c.close();
  });

  test('alice creates an instant room: 201 and 110, an empty subject; the room is listed with its name and features', async () => {
    const a = await login('alice', 'instant');
    const room = `instant@${svc}`;
    const got = await createInstant(a.c, room, 'Alice');
    const self = got.find((e) => e.name === 'presence' && e.attrs.from === `${room}/Alice`)!;
    assert.deepEqual(codes(self), [110, 201]);
    assert.equal(self.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('item')!.attrs.affiliation, 'owner');
    assertStanza(got[got.length - 1]!, { name: 'message', attrs: { type: 'groupchat', from: room }, children: [{ name: 'subject', text: '' }] });
    assert.match(await configure(a.c, room, { [rc('roomname')]: 'The Instant Room', [rc('roomdesc')]: 'quick' }), /type=["']result/);
    await next(a.c, messageFrom(room)); // the 104 announcement
    assertStanza(await items(a.c, 'i1', svc), iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: room, name: 'The Instant Room' } }] }));
    const ri = await info(a.c, 'i2', room);
    assertStanza(ri, iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'conference', type: 'text', name: 'The Instant Room' } }] }));
    const f = features(ri);
    for (const want of ['http://jabber.org/protocol/muc', 'muc_public', 'muc_temporary', 'muc_open', 'muc_unsecured', 'muc_unmoderated', 'muc_semianonymous']) assert.ok(f.includes(want), want);
    assert.equal(formValue(ri, 'FORM_TYPE'), 'http://jabber.org/protocol/muc#roominfo');
    assert.equal(formValue(ri, 'muc#roominfo_description'), 'quick');
    assert.equal(formValue(ri, 'muc#roominfo_occupants'), '1');
    // a hidden room leaves the list; its features say so
    assert.match(await configure(a.c, room, { [rc('publicroom')]: '0', [rc('membersonly')]: '1', [rc('moderatedroom')]: '1', [rc('whois')]: 'anyone', [rc('passwordprotectedroom')]: '1', [rc('roomsecret')]: 's3cret' }, 'cfg2'), /type=["']result/);
    assert.doesNotMatch(await items(a.c, 'i3', svc), /instant@/);
    const f2 = features(await info(a.c, 'i4', room));
    for (const want of ['muc_hidden', 'muc_membersonly', 'muc_moderated', 'muc_nonanonymous', 'muc_passwordprotected']) assert.ok(f2.includes(want), want);
    a.c.close();
  });

  test('a reserved room stays locked (item-not-found for others) until alice submits the configuration form', async () => {
    const a = await login('alice', 'reserved');
    const b = await login('bob', 'reserved');
    const room = `reserved@${svc}`;
    const got = await join(a.c, `${room}/Alice`);
    assert.deepEqual(codes(got.find((e) => e.attrs.from === `${room}/Alice`)!), [110, 201]);
    // §10.1.3: while locked the room does not exist for anyone else
    assertStanza(await joinError(b.c, `${room}/Bob`), stanzaError('item-not-found', 'presence'));
    assertStanza(await info(b.c, 'l1', room), stanzaError('item-not-found'));
    assert.doesNotMatch(await items(b.c, 'l2', svc), /reserved@/);
    // the form: every muc#roomconfig field, with the defaults
    const form = await a.c.iq('f1', `<iq type='get' id='f1' to='${room}'><query xmlns='${NS_MUC_OWNER}'/></iq>`);
    const vars = parseStanza(form).getChild('query')!.getChild('x')!.getChildren('field').map((f) => f.attrs.var);
    for (const v of ['roomname', 'roomdesc', 'persistentroom', 'publicroom', 'membersonly', 'passwordprotectedroom', 'roomsecret', 'moderatedroom', 'maxusers', 'whois', 'changesubject', 'allowinvites', 'allowpm', 'enablelogging', 'getmemberlist', 'presencebroadcast']) {
      assert.ok(vars.includes(rc(v)), v);
    }
    assert.ok(vars.includes('FORM_TYPE') && vars.includes('mam') && vars.includes('members_by_default'));
    // bob may not read it (not an owner): item-not-found while locked
    assertStanza(await b.c.iq('f2', `<iq type='get' id='f2' to='${room}'><query xmlns='${NS_MUC_OWNER}'/></iq>`), stanzaError('item-not-found'));
    // a bad value is refused and the room stays locked
    assertStanza(await configure(a.c, room, { [rc('whois')]: 'everybody' }, 'bad'), stanzaError('not-acceptable'));
    assertStanza(await joinError(b.c, `${room}/Bob`), stanzaError('item-not-found', 'presence'));
    assert.match(await configure(a.c, room, { [rc('roomname')]: 'Reserved', [rc('changesubject')]: '1' }), /type=["']result/);
    const bj = await join(b.c, `${room}/Bob`);
    assert.deepEqual(codes(bj.find((e) => e.attrs.from === `${room}/Bob`)!), [110]);
    // after unlocking, bob still may not configure (forbidden)
    assertStanza(await b.c.iq('f3', `<iq type='get' id='f3' to='${room}'><query xmlns='${NS_MUC_OWNER}'/></iq>`), stanzaError('forbidden'));
    a.c.close();
    b.c.close();
  });

  test('configuration changes are announced with 104, 172/173 for the JID visibility and 170/171 for logging', async () => {
    const a = await login('alice', 'codes');
    const b = await login('bob', 'codes');
    const room = `codes@${svc}`;
    await createInstant(a.c, room, 'Alice');
    await join(b.c, `${room}/Bob`);
    await configure(a.c, room, { [rc('whois')]: 'anyone', [rc('enablelogging')]: '1' });
    assert.deepEqual(codes(await next(b.c, messageFrom(room))), [104, 170, 172]);
    await configure(a.c, room, { [rc('whois')]: 'moderators', [rc('enablelogging')]: '0' }, 'cfg2');
    assert.deepEqual(codes(await next(b.c, messageFrom(room))), [104, 171, 173]);
    await configure(a.c, room, { [rc('roomdesc')]: 'new' }, 'cfg3');
    assert.deepEqual(codes(await next(b.c, messageFrom(room))), [104]);
    // cancelling a configuration of an unlocked room changes nothing
    const cancel = await a.c.iq('c1', `<iq type='set' id='c1' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`);
    assertStanza(cancel, iqResult());
    a.c.close();
    b.c.close();
  });

  test('a user of another host may not create rooms here (not-allowed) but joins existing ones', async () => {
    const other = HOSTS.find((h) => h !== host)!;
    const remote = await RawClient.login(t.c2sPort, 'carol', 'pw-carol', 'r', { host: other });
    assertStanza(await joinError(remote.c, `foreign@${svc}/Carol`), stanzaError('not-allowed', 'presence'));
    const a = await login('alice', 'open');
    await createInstant(a.c, `open@${svc}`, 'Alice');
    const got = await join(remote.c, `open@${svc}/Carol`);
    assert.deepEqual(codes(got.find((e) => e.attrs.from === `open@${svc}/Carol`)!), [110]);
    remote.c.close();
    a.c.close();
  });

  test('access_create names an access rule: only its users create rooms', async () => {
    await t.server.modules.reload('muc', { access_create: 'muc_creators' });
    try {
      const a = await login('alice', 'acl');
      assertStanza(await joinError(a.c, `denied@${svc}/Alice`, X_MUC), stanzaError('not-allowed', 'presence'));
      const admin = await login('admin', 'acl');
      const got = await createInstant(admin.c, `allowed@${svc}`, 'Admin');
      assert.deepEqual(codes(got.find((e) => e.attrs.from === `allowed@${svc}/Admin`)!), [110, 201]);
      // and the room alice could not create does not exist
      assertStanza(await info(a.c, 'acl1', `denied@${svc}`), stanzaError('item-not-found'));
      a.c.close();
      admin.c.close();
    } finally {
      await t.server.modules.reload('muc', {});
    }
  });
});
