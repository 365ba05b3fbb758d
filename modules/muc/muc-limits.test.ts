// The MUC service's limits over real sockets, on every host: rooms per owner (admins exempt) and per service,
// rooms joined per user, sessions per occupant, name/nick/subject sizes, history message size, muc#admin
// items, affiliations per room, the lock timeout of reserved rooms, and the options' validation with their YAML path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { escapeRe, forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_MODULES, NS_MUC_ADMIN, X_MUC, codes, join, joinError, messageFrom, next, presenceFrom, readUntil, SUBJECT, sync } from './test-support.js';
import type { Element } from '../../src/sdk.js';

const LIMITS = {
  max_rooms_per_user: 2, max_rooms_joined: 3, max_sessions_per_occupant: 2, max_room_name_length: 16, max_nick_length: 12,
  max_subject_length: 32, max_history_message_size: 600, max_admin_items: 3, max_affiliations: 4, lock_timeout: 1,
};
// Each test has users of its own: a room left by a closed client goes away a moment later, not at once.
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivan', 'judy', 'kim', 'admin'];
let t: TestServer;

before(async () => {
  t = await startTestServer({ modules: { ...MUC_MODULES, muc: LIMITS } });
  for (const host of HOSTS) for (const u of USERS) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const errorText = (el: Element) => el.getChild('error')?.getChildText('text') ?? '';
/** An old groupchat join (no <x/>): the room is instant at once (§10.1.2), so no lock timeout applies. */
const enter = (c: RawClient, roomNick: string) => join(c, roomNick, '');
const errorOf = async (c: RawClient, name: 'presence' | 'message'): Promise<Element> =>
  next(c, new RegExp(`<${name}[^>]*type=["']error["'][\\s\\S]*?</${name}>`));

forEachHost((host) => {
  const svc = `conference.${host}`;
  const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('alice may own 2 rooms: the third is not-allowed with a text; once one is gone she creates it; the admin is exempt', async () => {
    const a = await login('alice');
    await enter(a.c, `own1@${svc}/A`);
    await enter(a.c, `own2@${svc}/A`);
    const refused = await joinError(a.c, `own3@${svc}/A`, '');
    assertStanza(refused, stanzaError('not-allowed', 'presence'));
    assert.match(errorText(refused), /own 2 rooms/);
    // joining a room someone else owns is not creating one
    const adm = await login('admin');
    for (const n of [1, 2, 3]) await enter(adm.c, `adm${n}@${svc}/Admin`);
    await enter(a.c, `adm1@${svc}/A`);
    // leaving a temporary room removes it: alice owns one room fewer
    a.c.send(`<presence type='unavailable' to='own1@${svc}/A'/>`);
    await next(a.c, presenceFrom(`own1@${svc}/A`));
    assert.ok(codes(await enter(a.c, `own3@${svc}/A`).then((els) => els.find((e) => e.attrs.from === `own3@${svc}/A`)!)).includes(201));
    a.c.close(); adm.c.close();
  });

  test('bob may be in 3 rooms: the fourth is service-unavailable; after leaving one, or disconnecting, he enters again', async () => {
    const g = await login('gina');
    const h = await login('hank');
    for (const n of [1, 2]) await enter(g.c, `joined${n}@${svc}/Gina`);
    for (const n of [3, 4]) await enter(h.c, `joined${n}@${svc}/Hank`);
    const b = await login('bob');
    for (const n of [1, 2, 3]) await enter(b.c, `joined${n}@${svc}/Bob`);
    const refused = await joinError(b.c, `joined4@${svc}/Bob`);
    assertStanza(refused, stanzaError('service-unavailable', 'presence'));
    assert.match(errorText(refused), /in 3 rooms/);
    b.c.send(`<presence type='unavailable' to='joined1@${svc}/Bob'/>`);
    await next(b.c, presenceFrom(`joined1@${svc}/Bob`));
    await join(b.c, `joined4@${svc}/Bob`);
    // bob's client goes: his server's unavailable presences (RFC 6121 §4.6.3) take him out of every room...
    b.c.close();
    const left = (n: number) => new RegExp(`<presence[^>]*from=["']joined${n}@${escapeRe(svc)}/Bob["'][^>]*type=["']unavailable["'][\\s\\S]*?</presence>`);
    await next(g.c, left(2));
    await next(h.c, left(3));
    await next(h.c, left(4));
    // ...so a new session of his is in none and enters 3 rooms again
    const b2 = await login('bob', 'again');
    for (const n of [1, 2, 3]) await join(b2.c, `joined${n}@${svc}/Bob`);
    assertStanza(await joinError(b2.c, `joined4@${svc}/Bob`), stanzaError('service-unavailable', 'presence'));
    g.c.close(); h.c.close(); b2.c.close();
  });

  test('carol joins one room from 2 clients under her nick; a third client is service-unavailable, another nick a conflict', async () => {
    const adm = await login('ivan');
    const room = `sessions@${svc}`;
    await enter(adm.c, `${room}/Ivan`);
    const c1 = await login('carol', 'one');
    const c2 = await login('carol', 'two');
    const c3 = await login('carol', 'three');
    await join(c1.c, `${room}/Carol`);
    await join(c2.c, `${room}/Carol`);
    const refused = await joinError(c3.c, `${room}/Carol`);
    assertStanza(refused, stanzaError('service-unavailable', 'presence'));
    assert.match(errorText(refused), /2 sessions/);
    assertStanza(await joinError(c3.c, `${room}/Carolina`), stanzaError('conflict', 'presence'));
    // the room is as it was: ivan's message reaches both of carol's clients
    adm.c.send(`<message type='groupchat' to='${room}' id='ses1'><body>still here</body></message>`);
    for (const c of [c1.c, c2.c]) await next(c, /<message[^>]*id=["']ses1["'][\s\S]*?<\/message>/);
    adm.c.close(); c1.c.close(); c2.c.close(); c3.c.close();
  });

  test('a long room name is not-acceptable, a long nick jid-malformed (entering and renaming), a long subject not-acceptable; frank chats on', async () => {
    const d = await login('dave');
    const f = await login('frank');
    const room = `names@${svc}`;
    await enter(d.c, `${room}/Dave`);
    await join(f.c, `${room}/Frank`);
    await next(d.c, presenceFrom(`${room}/Frank`));
    const longName = await joinError(d.c, `${'r'.repeat(17)}@${svc}/Dave`, '');
    assertStanza(longName, stanzaError('not-acceptable', 'presence'));
    assert.match(errorText(longName), /16 bytes/);
    // 12 bytes: six two-byte characters fit, seven do not
    assertStanza(await joinError(f.c, `other@${svc}/${'é'.repeat(7)}`), stanzaError('jid-malformed', 'presence'));
    d.c.send(`<presence to='${room}/${'é'.repeat(7)}'/>`);
    assertStanza(await errorOf(d.c, 'presence'), stanzaError('jid-malformed', 'presence'));
    d.c.send(`<message type='groupchat' to='${room}' id='subj'><subject>${'s'.repeat(33)}</subject></message>`);
    assertStanza(await errorOf(d.c, 'message'), stanzaError('not-acceptable', 'message'));
    // nothing of it reached frank, and the room works: dave (still Dave) and frank exchange messages
    d.c.send(`<message type='groupchat' to='${room}' id='ok1'><body>hi frank</body></message>`);
    const got = await readUntil(f.c, /<message[^>]*id=["']ok1["'][\s\S]*?<\/message>/);
    assert.equal(got[got.length - 1]!.attrs.from, `${room}/Dave`);
    assert.ok(!got.some((e) => e.getChild('subject')), 'no subject change went out');
    f.c.send(`<message type='groupchat' to='${room}' id='ok2'><body>hi dave</body></message>`);
    await next(d.c, /<message[^>]*id=["']ok2["'][\s\S]*?<\/message>/);
    // a subject that fits is set
    d.c.send(`<message type='groupchat' to='${room}' id='subj2'><subject>${'s'.repeat(32)}</subject></message>`);
    assertStanza(await next(f.c, /<message[^>]*id=["']subj2["'][\s\S]*?<\/message>/), { name: 'message', has: [{ name: 'subject', text: 's'.repeat(32) }] });
    d.c.close(); f.c.close();
  });

  test('a message larger than max_history_message_size is broadcast but not replayed to a newcomer; smaller ones are', async () => {
    const e = await login('erin');
    const room = `hist@${svc}`;
    await enter(e.c, `${room}/Erin`);
    const big = 'b'.repeat(700);
    e.c.send(`<message type='groupchat' to='${room}' id='big'><body>${big}</body></message>`);
    assertStanza(await next(e.c, messageFrom(`${room}/Erin`)), { name: 'message', has: [{ name: 'body', text: big }] });
    e.c.send(`<message type='groupchat' to='${room}' id='small'><body>small</body></message>`);
    await next(e.c, messageFrom(`${room}/Erin`));
    const f = await login('frank', 'hist');
    const got = await join(f.c, `${room}/Frank`);
    const bodies = got.filter((m) => m.name === 'message' && m.getChild('body')).map((m) => m.getChildText('body'));
    assert.deepEqual(bodies, ['small']);
    e.c.close(); f.c.close();
  });

  test('a muc#admin query with more than 3 items is policy-violation and changes nothing; 3 are applied; a room keeps at most 4 affiliations', async () => {
    const a = await login('judy');
    const room = `items@${svc}`;
    await enter(a.c, `${room}/A`);
    const items = (n: number) => Array.from({ length: n }, (_, i) => `<item affiliation='member' jid='m${i}@${host}'/>`).join('');
    const r = await a.c.iq('ai1', `<iq type='set' id='ai1' to='${room}'><query xmlns='${NS_MUC_ADMIN}'>${items(4)}</query></iq>`);
    assertStanza(r, stanzaError('policy-violation'));
    const list = () => a.c.iq('ai2', `<iq type='get' id='ai2' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='member'/></query></iq>`);
    assertStanza(await list(), iqResult({ name: 'query', children: [] }));
    assertStanza(await a.c.iq('ai3', `<iq type='set' id='ai3' to='${room}'><query xmlns='${NS_MUC_ADMIN}'>${items(3)}</query></iq>`), iqResult());
    assert.match(await list(), /m2@/);
    // judy (owner) and 3 members: the room is at max_affiliations (4)
    const e = await login('erin', 'reg');
    const register = (id: string, nick: string) => e.c.iq(id, `<iq type='set' id='${id}' to='${room}'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>${nick}</value></field></x></query></iq>`);
    assertStanza(await register('rg1', 'n'.repeat(13)), stanzaError('not-acceptable'));
    assertStanza(await register('rg2', 'Erin'), stanzaError('resource-constraint'));
    assertStanza(await a.c.iq('ai4', `<iq type='set' id='ai4' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='outcast' jid='spam@${host}'/></query></iq>`), stanzaError('resource-constraint'));
    // changing one of the 4 is no new affiliation; freeing one makes room for erin
    assertStanza(await a.c.iq('ai5', `<iq type='set' id='ai5' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='outcast' jid='m0@${host}'/><item affiliation='none' jid='m1@${host}'/></query></iq>`), iqResult());
    assertStanza(await register('rg3', 'Erin'), iqResult());
    a.c.close(); e.c.close();
  });

  test('a reserved room left locked is destroyed after lock_timeout; a room configured in time stays', async () => {
    const c = await login('kim');
    const left = `locked@${svc}`;
    const kept = `configured@${svc}`;
    const got = await join(c.c, `${left}/Kim`, X_MUC);
    assert.ok(codes(got.find((e) => e.attrs.from === `${left}/Kim`)!).includes(201));
    await join(c.c, `${kept}/Kim`, X_MUC);
    assertStanza(await c.c.iq('cf', `<iq type='set' id='cf' to='${kept}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`), iqResult());
    const gone = await next(c.c, presenceFrom(`${left}/Kim`), 10_000);
    assert.equal(gone.attrs.type, 'unavailable');
    assert.ok(gone.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('destroy'), 'told the room is destroyed');
    const info = (id: string, to: string) => c.c.iq(id, `<iq type='get' id='${id}' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assertStanza(await info('li1', left), stanzaError('item-not-found'));
    // the kept room's timer (set a moment later) has fired too by now
    await new Promise((r) => setTimeout(r, 1200));
    assertStanza(await info('li2', kept), iqResult());
    assert.ok(!(await sync(c.c)).some((e) => e.attrs.from === `${kept}/Kim`), 'nobody left the configured room');
    c.c.close();
  });
});

test('max_rooms_per_service: the third room of a service is not-allowed, whoever asks, and counted; each host counts its own service', async () => {
  const s = await startTestServer({ modules: { ...MUC_MODULES, muc: { max_rooms_per_service: 2 } } });
  try {
    for (const host of HOSTS) {
      await s.addUser('alice', 'pw', host);
      await s.addUser('admin', 'pw', host);
      const a = await RawClient.login(s.c2sPort, 'alice', 'pw', 'r', { host });
      const adm = await RawClient.login(s.c2sPort, 'admin', 'pw', 'r', { host });
      await enter(a.c, `one@conference.${host}/A`);
      await enter(a.c, `two@conference.${host}/A`);
      for (const c of [a.c, adm.c]) {
        const refused = await joinError(c, `three@conference.${host}/X`, '');
        assertStanza(refused, stanzaError('not-allowed', 'presence'));
        assert.match(errorText(refused), /limit of 2 rooms/);
      }
      a.c.close(); adm.c.close();
      // each refusal is counted by host and limit
      const counted = await s.server.core.metrics.registry.getSingleMetricAsString('xmppd_muc_refusals_total');
      assert.match(counted, new RegExp(`xmppd_muc_refusals_total\\{host="${escapeRe(host)}",limit="max_rooms_per_service"\\} 2`));
    }
  } finally {
    await s.stop();
  }
});

test('a bad muc limit option stops the boot with its YAML path', async () => {
  await assert.rejects(startTestServer({ modules: { ...MUC_MODULES, muc: { max_rooms_per_user: -1 } } }), /modules\.muc\.max_rooms_per_user: must be at least 0/);
  await assert.rejects(startTestServer({ modules: { ...MUC_MODULES, muc: { lock_timeout: 'soon' } } }), /modules\.muc\.lock_timeout: must be a number/);
  await assert.rejects(startTestServer({ modules: { ...MUC_MODULES, muc: { max_nick_length: 2000 } } }), /modules\.muc\.max_nick_length: must be at most 1023/);
});
