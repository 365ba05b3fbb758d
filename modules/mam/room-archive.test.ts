// XEP-0313 §5 room archives (the room_archive service) over real sockets, through a minimal room service
// (test-modules/room-probe.ts) that appends and queries with ctx.service(ROOM_ARCHIVE_SERVICE): stanza-ids,
// XEP-0059 paging from the room JID, with/start/end, the room quota, removal, expiry, hosts and accounts
// never mixing, and archives surviving a restart; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import { xml } from '../../src/sdk.js';
import type { RoomArchiveApi } from '../../src/sdk.js';
import { MAM_COUNT_TABLE, MAM_TABLE, msPrefix, type ArchiveCount, type ArchivedMessage } from './archive.js';
import type { MamApi } from './api.js';
import { bodies, form, query, rsm, stanzaIds, sync } from './test-support.js';

const NS_MAM = 'urn:xmpp:mam:2';
const PROBE_DIR = fileURLToPath(new URL('./test-modules', import.meta.url));
const CONFIG = { module_paths: [PROBE_DIR], modules: { disco: {}, ping: {}, mam: { max_results: 50, room_max_messages: 4 }, 'room-probe': {} } };
const USERS = ['alice', 'bob', 'carol'];

let dir: string;
let t: TestServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-room-archive-'));
  t = await startTestServer(CONFIG, { dir });
  for (const host of HOSTS) for (const u of USERS) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const login = async (user: string, host: string, resource = 'r') => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host })).c;
const roomApi = (host: string): RoomArchiveApi => {
  const api = t.server.core.services.get<RoomArchiveApi>(host, 'room_archive');
  assert.ok(api, 'the mam module provides the room_archive service');
  return api;
};
const fin = (attrs: Record<string, string>, set: StanzaShape[] = []): StanzaShape =>
  ({ name: 'iq', attrs: { type: 'result' }, children: [{ name: 'fin', ns: NS_MAM, attrs, has: [{ name: 'set', ns: 'http://jabber.org/protocol/rsm', has: set }] }] });
const setOf = (finXml: string) => {
  const set = assertStanza(finXml, fin({})).getChild('fin')!.getChild('set')!;
  return { first: set.getChildText('first'), index: set.getChild('first')?.attrs.index, last: set.getChildText('last'), count: set.getChildText('count') };
};

/** Rows a year and more old in a room's archive (as written then: stamped by the writer's clock). */
async function putOldRows(host: string, room: string, n: number): Promise<void> {
  const ms = Date.now() - 400 * 86_400_000;
  const jid = `${room}@rooms.${host}`;
  await t.server.core.store.transact(Array.from({ length: n }, (_, i) => {
    const id = `${msPrefix(ms + i)}-0000`;
    const value: ArchivedMessage = {
      id, stamp: new Date(ms + i).toISOString(), with: jid, peer: `${jid}/old`,
      xml: `<message xmlns='jabber:client' from='${jid}/old' type='groupchat'><body>old ${i}</body></message>`,
    };
    return { type: 'put' as const, table: MAM_TABLE, key: `rooms.${host}/${room}\u0000${id}`, value: { ...value } };
  }));
}
const expireNow = (host: string) => t.server.core.services.get<MamApi>(host, 'mam')!.expireNow();

let seq = 0;
/** `c` says `body` in `room` and gets the room's echo: returns the archive id its <stanza-id/> carries. */
async function say(c: RawClient, room: string, body: string): Promise<string> {
  const id = `g${++seq}`;
  c.send(`<message to='${room}' type='groupchat' id='${id}'><body>${body}</body></message>`);
  const echo = (await c.expect(new RegExp(`<message[^>]*id=["']${id}["'][\\s\\S]*?</message>`)))[0];
  const ids = stanzaIds(echo, room);
  assert.equal(ids.length, 1, 'the echo carries one stanza-id by the room');
  return ids[0]!;
}

forEachHost((host) => {
  const lobby = `lobby@rooms.${host}`;
  const rows = (room: string) => t.server.core.store.table<ArchivedMessage>(MAM_TABLE).range({ prefix: `rooms.${host}/${room}\u0000` });

  test('alice and bob talk in a room; carol pages through its archive from the room JID (max, after, before, count, complete)', async () => {
    const a = await login('alice', host);
    const b = await login('bob', host);
    const c = await login('carol', host, 'reader');
    const sids = [await say(a, lobby, 'one'), await say(b, lobby, 'two'), await say(a, lobby, 'three'), await say(b, lobby, 'four')];
    const all = await query(c, '', lobby);
    assert.deepEqual(bodies(all), ['one', 'two', 'three', 'four']);
    assert.deepEqual(all.results.map((r) => r.id), sids, 'the result ids are the stanza-ids the room stamped');
    assertStanza(all.results[1]!.xml, {
      name: 'message', attrs: { from: lobby, to: `carol@${host}/reader` },
      children: [{ name: 'result', ns: NS_MAM, attrs: { id: sids[1]! }, children: [{ name: 'forwarded', ns: 'urn:xmpp:forward:0', children: [
        { name: 'delay', ns: 'urn:xmpp:delay', attrs: { stamp: /^\d{4}-\d\d-\d\dT[\d:.]+Z$/ } },
        { name: 'message', attrs: { from: `${lobby}/bob`, type: 'groupchat', to: null }, has: [{ name: 'body', text: 'two' }], without: [{ name: 'stanza-id' }] },
      ] }] }],
    });
    assertStanza(all.fin, { ...fin({ complete: 'true' }, [{ name: 'count', text: '4' }]), attrs: { type: 'result', from: lobby } });

    const p1 = await query(c, rsm('<max>2</max>'), lobby);
    assert.deepEqual(bodies(p1), ['one', 'two']);
    assertStanza(p1.fin, fin({ complete: 'false' }));
    assert.deepEqual(setOf(p1.fin), { first: sids[0], index: '0', last: sids[1], count: '4' });
    const p2 = await query(c, rsm(`<max>2</max><after>${sids[1]}</after>`), lobby);
    assert.deepEqual(bodies(p2), ['three', 'four']);
    assertStanza(p2.fin, fin({ complete: 'true' }));
    assert.equal(setOf(p2.fin).index, '2');
    const last = await query(c, rsm('<max>2</max><before/>'), lobby);
    assert.deepEqual(bodies(last), ['three', 'four']);
    assertStanza(last.fin, fin({ complete: 'false' }));
    const prev = await query(c, rsm(`<max>2</max><before>${sids[2]}</before>`), lobby);
    assert.deepEqual(bodies(prev), ['one', 'two']);
    assertStanza(prev.fin, fin({ complete: 'true' }));
    const gone = await query(c, rsm('<max>2</max><after>000000000000001-0000</after>'), lobby);
    assertStanza(gone.fin, stanzaError('item-not-found'));

    c.send(`<iq type='get' id='form1' to='${lobby}'><query xmlns='${NS_MAM}'/></iq>`);
    assertStanza((await c.expect(/<iq[^>]*id=["']form1["'][\s\S]*?<\/iq>/))[0], {
      name: 'iq', attrs: { type: 'result', from: lobby },
      children: [{ name: 'query', ns: NS_MAM, has: [{ name: 'x', ns: 'jabber:x:data', has: ['FORM_TYPE', 'with', 'start', 'end'].map((v) => ({ name: 'field', attrs: { var: v } })) }] }],
    });
    a.close(); b.close(); c.close();
  });

  test('with filters by the occupant JID (room@service/nick); start and end bound the time; a bad date is bad-request', async () => {
    const c = await login('carol', host, 'filters');
    assert.deepEqual(bodies(await query(c, form({ with: `${lobby}/bob` }), lobby)), ['two', 'four']);
    assert.deepEqual(bodies(await query(c, form({ with: `${lobby}/alice` }) + rsm('<max>1</max><before/>'), lobby)), ['three']);
    assert.deepEqual(bodies(await query(c, form({ with: lobby }), lobby)), ['one', 'two', 'three', 'four'], 'the room JID itself matches every message');
    assert.deepEqual(bodies(await query(c, form({ with: `bob@${host}` }), lobby)), [], 'a real JID is not an occupant JID');
    assert.equal((await query(c, form({ start: '2999-01-01T00:00:00Z' }), lobby)).results.length, 0);
    assert.equal((await query(c, form({ end: '2000-01-01T00:00:00Z' }), lobby)).results.length, 0);
    const ranged = await query(c, form({ start: '2000-01-01T00:00:00Z', end: '2999-01-01T00:00:00Z' }), lobby);
    assert.deepEqual(bodies(ranged), ['one', 'two', 'three', 'four']);
    assertStanza((await query(c, form({ start: 'yesterday' }), lobby)).fin, stanzaError('bad-request'));
    c.close();
  });

  test('room_max_messages 4: the fifth and sixth messages remove the oldest; the count row follows', async () => {
    const a = await login('alice', host, 'quota');
    const busy = `busy@rooms.${host}`;
    const sids: string[] = [];
    for (let i = 1; i <= 6; i++) sids.push(await say(a, busy, `busy ${i}`));
    const r = await query(a, '', busy);
    assert.deepEqual(bodies(r), ['busy 3', 'busy 4', 'busy 5', 'busy 6']);
    assert.deepEqual(r.results.map((x) => x.id), sids.slice(2));
    assertStanza(r.fin, fin({ complete: 'true' }, [{ name: 'count', text: '4' }]));
    assert.equal((await rows('busy')).length, 4);
    assert.equal((await t.server.core.store.table<ArchiveCount>(MAM_COUNT_TABLE).get(`rooms.${host}/busy`))?.value.n, 4);
    a.close();
  });

  test('removing a room\'s archive deletes its rows and count; other rooms keep theirs', async () => {
    const a = await login('alice', host, 'remove');
    const doomed = `doomed@rooms.${host}`;
    await say(a, doomed, 'soon gone');
    assert.equal((await rows('doomed')).length, 1);
    a.send(`<iq type='set' id='x1' to='${doomed}'><destroy xmlns='urn:example:room-probe'/></iq>`);
    assertStanza((await a.expect(/<iq[^>]*id=["']x1["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/))[0], { name: 'iq', attrs: { type: 'result' } });
    assert.equal((await rows('doomed')).length, 0);
    assert.equal(await t.server.core.store.table(MAM_COUNT_TABLE).get(`rooms.${host}/doomed`), undefined);
    const r = await query(a, '', doomed);
    assert.equal(r.results.length, 0);
    assertStanza(r.fin, fin({ complete: 'true' }, [{ name: 'count', text: '0' }]));
    assert.equal((await query(a, '', lobby)).results.length, 4, 'the lobby keeps its archive');
    a.close();
  });

  test('the expiry sweep removes a room\'s messages older than expire_after and keeps the rest', async () => {
    const a = await login('alice', host, 'expiry');
    const ancient = `ancient@rooms.${host}`;
    await putOldRows(host, 'ancient', 2); // written before the room's count row existed: counted by the next write
    await say(a, ancient, 'fresh');
    assert.equal((await rows('ancient')).length, 3);
    assert.equal(await expireNow(host), 2);
    assert.deepEqual(bodies(await query(a, '', ancient)), ['fresh'], 'only the old rows went');
    assert.equal((await t.server.core.store.table<ArchiveCount>(MAM_COUNT_TABLE).get(`rooms.${host}/ancient`))?.value.n, 1);
    a.close();
  });

  test('a room and an account of the same name keep separate archives; the service refuses a non-room JID', async () => {
    const a = await login('alice', host, 'mix');
    const b = await login('bob', host, 'mix');
    await sync(b);
    a.send(`<message to='bob@${host}' type='chat' id='dm1'><body>direct</body></message>`);
    await b.expect(/id=["']dm1["']/);
    await say(b, `alice@rooms.${host}`, 'in the room named alice');
    assert.deepEqual(bodies(await query(a)), ['direct'], "alice's own archive has no room message");
    assert.deepEqual(bodies(await query(a, '', `alice@rooms.${host}`)), ['in the room named alice']);
    const msg = xml('message', { type: 'groupchat', from: `alice@${host}/x` }, xml('body', {}, 'no'));
    await assert.rejects(roomApi(host).append(Jid.parse(`alice@${host}`), msg, Jid.parse(`bob@${host}`)), /not a room JID/);
    await assert.rejects(roomApi(host).append(Jid.parse(`rooms.${host}`), msg, Jid.parse(`bob@${host}`)), /not a room JID/);
    await assert.rejects(roomApi(host).query(Jid.parse(`alice@${host}`), Jid.parse(`bob@${host}/mix`), xml('query', { xmlns: NS_MAM })), /not a room JID/);
    await assert.rejects(roomApi(host).remove(Jid.parse(`alice@${host}`)), /not a room JID/);
    assert.deepEqual(bodies(await query(a)), ['direct'], 'alice\'s archive is still there');
    a.close(); b.close();
  });
});

test('rooms of both hosts never mix: the same room name on each MUC domain has its own archive and quota', async () => {
  const [h1, h2] = HOSTS as [string, string];
  const a1 = await login('alice', h1, 'both');
  const a2 = await login('alice', h2, 'both');
  for (let i = 1; i <= 3; i++) await say(a1, `same@rooms.${h1}`, `${h1} ${i}`);
  await say(a2, `same@rooms.${h2}`, `${h2} 1`);
  assert.deepEqual(bodies(await query(a1, '', `same@rooms.${h1}`)), [`${h1} 1`, `${h1} 2`, `${h1} 3`]);
  assert.deepEqual(bodies(await query(a2, '', `same@rooms.${h2}`)), [`${h2} 1`]);
  // A user of one host reads the other host's room there: still only that room's messages.
  assert.deepEqual(bodies(await query(a1, '', `same@rooms.${h2}`)), [`${h2} 1`]);
  a1.close(); a2.close();
});

test('room archives survive a restart: same ids and pages, new ids after them, the quota still counted', async () => {
  const host = HOSTS[0]!;
  const lobby = `lobby@rooms.${host}`;
  const c = await login('carol', host, 'before');
  const before = await query(c, '', lobby);
  c.close();
  assert.equal(before.results.length, 4);
  await t.stop();
  t = await startTestServer(CONFIG, { dir });
  const c2 = await login('carol', host, 'after');
  const after = await query(c2, '', lobby);
  assert.deepEqual(after.results.map((r) => r.id), before.results.map((r) => r.id));
  assert.deepEqual(bodies(after), bodies(before));
  const id = await say(c2, lobby, 'after the restart');
  assert.ok(id > before.results.at(-1)!.id, 'new ids sort after the old ones');
  const now = await query(c2, '', lobby);
  assert.deepEqual(bodies(now), [...bodies(before).slice(1), 'after the restart'], 'room_max_messages still holds');
  assertStanza(now.fin, fin({}, [{ name: 'count', text: '4' }]));
  // The room's domain is still known to this host's expiry sweep (recorded, not remembered in memory only).
  await putOldRows(host, 'relic', 1);
  assert.equal(await expireNow(host), 1);
  c2.close();
});
