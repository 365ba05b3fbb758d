// XEP-0313 §5 in the MUC service over real sockets (muc + mam modules): an archived room stamps each broadcast
// with the XEP-0359 stanza-id of its archive row, a late joiner pages through the room's archive (max, after,
// before), access follows who may enter, disco lists the features, what is and is not archived, destruction
// removes the archive, archive_default; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { assertStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { bodies, form, query, rsm, stanzaIds } from '../mam/test-support.js';
import { MUC_MODULES, NS_MUC_ADMIN, NS_MUC_OWNER, configure, createInstant, join, messageFrom, next, rc, sync } from './test-support.js';

const NS_MAM = 'urn:xmpp:mam:2';
const NS_SID = 'urn:xmpp:sid:0';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { ...MUC_MODULES, mam: { max_results: 50 } } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const fin = (attrs: Record<string, string>, set: StanzaShape[] = []): StanzaShape =>
  ({ name: 'iq', attrs: { type: 'result' }, children: [{ name: 'fin', ns: NS_MAM, attrs, has: [{ name: 'set', ns: 'http://jabber.org/protocol/rsm', has: set }] }] });
const feature = (f: string): StanzaShape => ({ name: 'query', ns: NS_DISCO_INFO, has: [{ name: 'feature', attrs: { var: f } }] });
/** A disco#info answer without the feature `f`. */
const lacks = (f: string): StanzaShape =>
  ({ name: 'iq', attrs: { type: 'result' }, children: [{ name: 'query', ns: NS_DISCO_INFO, without: [{ name: 'feature', attrs: { var: f } }] }] });
/** A message without a XEP-0359 stanza-id. */
const noSid: StanzaShape = { name: 'message', without: [{ name: 'stanza-id', ns: NS_SID }] };

forEachHost((host) => {
  const login = async (user: string, resource = 'r') => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host })).c;
  let n = 0;
  /** A persistent room created by `c` as `nick` (archived: archive_default), with extra configuration. */
  async function persistentRoom(c: RawClient, name: string, nick: string, extra: Record<string, string> = {}): Promise<string> {
    const room = `${name}@conference.${host}`;
    await createInstant(c, room, nick);
    assert.match(await configure(c, room, { [rc('persistentroom')]: '1', ...extra }, `cfg${++n}`), /type=["']result["']/);
    return room;
  }
  /** `c`, in the room as `nick`, sends `inner` as a groupchat message and gets its reflected copy. */
  async function send(c: RawClient, room: string, nick: string, inner: string) {
    const id = `m${++n}`;
    c.send(`<message to='${room}' type='groupchat' id='${id}'>${inner}</message>`);
    const echo = await next(c, new RegExp(`<message[^>]*id=["']${id}["'][\\s\\S]*?</message>`));
    assert.equal(echo.attrs.from, `${room}/${nick}`);
    return echo;
  }
  /** `c` says `body`; returns the stanza-id by the room on its reflected copy (there must be exactly one). */
  async function say(c: RawClient, room: string, nick: string, body: string): Promise<string> {
    const echo = await send(c, room, nick, `<body>${body}</body>`);
    assert.equal(echo.getChildText('body'), body);
    const ids = stanzaIds(echo.toString(), room);
    assert.equal(ids.length, 1, 'the broadcast carries one stanza-id by the room');
    return ids[0]!;
  }
  async function disco(c: RawClient, room: string): Promise<string> {
    const id = `d${++n}`;
    return c.iq(id, `<iq type='get' id='${id}' to='${room}'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
  }

  test('alice talks in her persistent room; every copy carries the archive id; bob joins late and pages (max 2, after, before)', async () => {
    const a = await login('alice');
    const room = await persistentRoom(a, 'archived', 'alice');
    const b0 = await login('bob', 'early');
    await join(b0, `${room}/early-bob`);
    const sids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      sids.push(await say(a, room, 'alice', `line ${i}`));
      const seen = await next(b0, messageFrom(`${room}/alice`));
      assert.deepEqual(stanzaIds(seen.toString(), room), [sids.at(-1)], 'the other occupant\'s copy has the same stanza-id');
    }
    b0.close();
    const b = await login('bob');
    const joined = await join(b, `${room}/bob`);
    const history = joined.filter((el) => el.is('message') && el.getChild('body'));
    assert.deepEqual(history.map((el) => stanzaIds(el.toString(), room)[0]), sids, 'the discussion history keeps the stanza-ids');

    const p1 = await query(b, rsm('<max>2</max>'), room);
    assert.deepEqual(bodies(p1), ['line 1', 'line 2']);
    assert.deepEqual(p1.results.map((r) => r.id), sids.slice(0, 2), 'the archive ids are the stanza-ids occupants got');
    assertStanza(p1.results[0]!.xml, {
      name: 'message', attrs: { from: room, to: `bob@${host}/r` },
      children: [{ name: 'result', ns: NS_MAM, attrs: { id: sids[0]! }, children: [{ name: 'forwarded', ns: 'urn:xmpp:forward:0', children: [
        { name: 'delay', ns: 'urn:xmpp:delay', attrs: { stamp: /^\d{4}-\d\d-\d\dT[\d:.]+Z$/ } },
        { name: 'message', attrs: { from: `${room}/alice`, type: 'groupchat', to: null }, has: [{ name: 'body', text: 'line 1' }, { name: 'occupant-id', ns: 'urn:xmpp:occupant-id:0' }], without: [{ name: 'stanza-id', ns: NS_SID }] },
      ] }] }],
    });
    assertStanza(p1.fin, { ...fin({ complete: 'false' }, [{ name: 'count', text: '5' }, { name: 'first', attrs: { index: '0' } }]), attrs: { type: 'result', from: room } });
    const p2 = await query(b, rsm(`<max>2</max><after>${sids[1]}</after>`), room);
    assert.deepEqual(bodies(p2), ['line 3', 'line 4']);
    assertStanza(p2.fin, fin({ complete: 'false' }, [{ name: 'first', attrs: { index: '2' } }]));
    const p3 = await query(b, rsm(`<max>2</max><after>${sids[3]}</after>`), room);
    assert.deepEqual(bodies(p3), ['line 5']);
    assertStanza(p3.fin, fin({ complete: 'true' }));
    const last = await query(b, rsm('<max>2</max><before/>'), room);
    assert.deepEqual(bodies(last), ['line 4', 'line 5']);
    assertStanza(last.fin, fin({ complete: 'false' }));
    const prev = await query(b, rsm(`<max>2</max><before>${sids[1]}</before>`), room);
    assert.deepEqual(bodies(prev), ['line 1']);
    assertStanza(prev.fin, fin({ complete: 'true' }));
    assert.deepEqual(bodies(await query(b, form({ with: `${room}/alice` }) + rsm('<max>1</max><before/>'), room)), ['line 5']);

    // A public open room: anyone who may enter may read, without entering.
    const c = await login('carol');
    assert.deepEqual(bodies(await query(c, rsm('<max>1</max><before/>'), room)), ['line 5']);
    const formIq = await c.iq('form1', `<iq type='get' id='form1' to='${room}'><query xmlns='${NS_MAM}'/></iq>`);
    assertStanza(formIq, { name: 'iq', attrs: { type: 'result', from: room }, children: [{ name: 'query', ns: NS_MAM, has: [{ name: 'x', ns: 'jabber:x:data' }] }] });
    assertStanza(await disco(c, room), { name: 'iq', attrs: { type: 'result' }, children: [feature(NS_MAM)] });
    assertStanza(await disco(c, room), { name: 'iq', attrs: { type: 'result' }, children: [feature(NS_SID)] });
    a.close(); b.close(); c.close();
  });

  test('a members-only room: a non-member is forbidden, a member reads without entering, an outcast is forbidden', async () => {
    const d = await login('dave');
    const room = await persistentRoom(d, 'club', 'dave', { [rc('membersonly')]: '1' });
    await say(d, room, 'dave', 'members only');
    const c = await login('carol');
    assertStanza((await query(c, '', room)).fin, stanzaError('forbidden'));
    assertStanza(await d.iq('aff1', `<iq type='set' id='aff1' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='member' jid='bob@${host}'/><item affiliation='outcast' jid='carol@${host}'/></query></iq>`),
      { name: 'iq', attrs: { type: 'result' } });
    const b = await login('bob');
    assert.deepEqual(bodies(await query(b, '', room)), ['members only']);
    assertStanza((await query(c, '', room)).fin, stanzaError('forbidden'));
    // An outcast of a public open room may not read it either.
    const a = await login('alice');
    const open = await persistentRoom(a, 'open-but-banned', 'alice');
    await say(a, open, 'alice', 'hello');
    await a.iq('aff2', `<iq type='set' id='aff2' to='${open}'><query xmlns='${NS_MUC_ADMIN}'><item affiliation='outcast' jid='carol@${host}'/></query></iq>`);
    assertStanza((await query(c, '', open)).fin, stanzaError('forbidden'));
    a.close(); b.close(); c.close(); d.close();
  });

  test('not archived: temporary rooms, rooms with mam off, messages without body or subject; a forged stanza-id is removed; subjects are archived', async () => {
    const a = await login('alice');
    const temp = `temp@conference.${host}`;
    await createInstant(a, temp, 'alice');
    const plain = await send(a, temp, 'alice', `<body>not kept</body><stanza-id xmlns='${NS_SID}' by='${temp}' id='forged'/>`);
    assertStanza(plain, noSid, { what: 'a temporary room stamps nothing and drops the forged id' });
    assertStanza(await disco(a, temp), lacks(NS_MAM));
    assertStanza((await query(a, '', temp)).fin, stanzaError('service-unavailable'));

    const off = await persistentRoom(a, 'unarchived', 'alice', { mam: '0' });
    assertStanza(await send(a, off, 'alice', '<body>off the record</body>'), noSid);
    assertStanza(await disco(a, off), lacks(NS_SID));
    assertStanza((await query(a, '', off)).fin, stanzaError('service-unavailable'));

    // Prosody's field name turns it on.
    assert.match(await configure(a, off, { [rc('enablearchiving')]: '1' }, 'cfg-on'), /type=["']result["']/);
    const on = await send(a, off, 'alice', `<body>on the record</body><stanza-id xmlns='${NS_SID}' by='${off}' id='forged'/>`);
    const ids = stanzaIds(on.toString(), off);
    assert.equal(ids.length, 1);
    assert.notEqual(ids[0], 'forged');
    assertStanza(await send(a, off, 'alice', "<active xmlns='http://jabber.org/protocol/chatstates'/>"), noSid);
    const subj = await send(a, off, 'alice', '<subject>archived topic</subject>');
    assert.equal(stanzaIds(subj.toString(), off).length, 1, 'a subject change is archived');
    const r = await query(a, '', off);
    assert.deepEqual(r.results.map((x) => x.id), [ids[0], stanzaIds(subj.toString(), off)[0]]);
    assert.deepEqual(bodies(r), ['on the record', undefined]);
    await sync(a);
    a.close();
  });

  test('destroying a room removes its archive: a new room of the same name starts empty', async () => {
    const a = await login('alice');
    const room = await persistentRoom(a, 'doomed', 'alice');
    await say(a, room, 'alice', 'last words');
    assertStanza(await a.iq('destroy1', `<iq type='set' id='destroy1' to='${room}'><query xmlns='${NS_MUC_OWNER}'><destroy><reason>done</reason></destroy></query></iq>`),
      { name: 'iq', attrs: { type: 'result' } });
    assert.equal(await t.server.core.store.table('mam_messages').count({ prefix: `conference.${host}/doomed\u0000` }), 0);
    await persistentRoom(a, 'doomed', 'alice2');
    const r = await query(a, '', room);
    assert.equal(r.results.length, 0);
    assertStanza(r.fin, fin({ complete: 'true' }, [{ name: 'count', text: '0' }]));
    a.close();
  });

  test('a room made temporary loses its archive when its last occupant leaves and it vanishes', async () => {
    const a = await login('alice', 'fading');
    const room = await persistentRoom(a, 'fading', 'alice');
    await say(a, room, 'alice', 'soon forgotten');
    const rows = () => t.server.core.store.table('mam_messages').count({ prefix: `conference.${host}/fading\u0000` });
    assert.equal(await rows(), 1);
    assert.match(await configure(a, room, { [rc('persistentroom')]: '0' }, 'cfg-temp'), /type=["']result["']/);
    assert.equal(await rows(), 1, 'still there while the room is');
    a.send(`<presence type='unavailable' to='${room}/alice'/>`);
    await until(async () => (await rows()) === 0, 'the archive of the vanished room is removed');
    a.close();
  });
});

test('archive_default false: a new persistent room is not archived until its owner turns mam on', async () => {
  const host = HOSTS[0]!;
  await t.server.modules.reload('muc', { archive_default: false });
  try {
    const { c: a } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'def', { host });
    const room = `quiet@conference.${host}`;
    await createInstant(a, room, 'alice');
    await configure(a, room, { [rc('persistentroom')]: '1' }, 'cfg-q');
    a.send(`<message to='${room}' type='groupchat' id='q1'><body>quiet</body></message>`);
    assertStanza(await next(a, /<message[^>]*id=["']q1["'][\s\S]*?<\/message>/), noSid);
    await configure(a, room, { mam: '1' }, 'cfg-q2');
    a.send(`<message to='${room}' type='groupchat' id='q2'><body>loud</body></message>`);
    assert.equal(stanzaIds((await next(a, /<message[^>]*id=["']q2["'][\s\S]*?<\/message>/)).toString(), room).length, 1);
    assert.deepEqual(bodies(await query(a, '', room)), ['loud']);
    a.close();
  } finally {
    await t.server.modules.reload('muc', {});
  }
});
