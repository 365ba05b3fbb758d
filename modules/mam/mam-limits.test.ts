// XEP-0313 archive limits over real sockets: the per-account quota (oldest removed first), expiry of old
// messages (on demand and by the periodic sweep), archiving for the recipient only what was delivered or
// stored (the XEP-0359 id it got is the archived one; a bounce carries none), and option validation; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { MAM_COUNT_TABLE, MAM_TABLE, msPrefix, type ArchiveCount, type ArchivedMessage } from './archive.js';
import type { MamApi } from './api.js';
import { parseDuration } from './duration.js';
import { bodies, form, query, rsm, stanzaIds, sync } from './test-support.js';

const MAM = { max_messages: 3 };
const MESSAGE = (id: string) => new RegExp(`<message[^>]*id=["']${id}["'][\\s\\S]*?</message>`);

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, offline: { max_messages: 1 }, mam: MAM } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivy', 'jack']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

/** The MAM <fin/> answer with these RSM children and attributes. */
const fin = (attrs: Record<string, string>, set: StanzaShape[] = []): StanzaShape =>
  ({ name: 'iq', attrs: { type: 'result' }, children: [{ name: 'fin', ns: 'urn:xmpp:mam:2', attrs, has: [{ name: 'set', ns: 'http://jabber.org/protocol/rsm', has: set }] }] });
/** A message bounce with a defined condition and no XEP-0359 stanza-id (it must not reveal an archive id). */
const bounce = (id: string, condition: string): StanzaShape => {
  const e = stanzaError(condition, 'message');
  return { ...e, attrs: { ...e.attrs, id }, without: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0' }] };
};

forEachHost((host) => {
  const login = async (user: string, resource: string) => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host })).c;
  const mam = (): MamApi => {
    const api = t.server.core.services.get<MamApi>(host, 'mam');
    assert.ok(api, 'the mam module provides its service');
    return api;
  };
  const rows = (user: string) => t.server.core.store.table<ArchivedMessage>(MAM_TABLE).range({ prefix: `${host}/${user}\u0000` });
  const countRow = async (user: string) => (await t.server.core.store.table<ArchiveCount>(MAM_COUNT_TABLE).get(`${host}/${user}`))?.value.n;

  /** Rows as an archive written `daysAgo` days ago holds them (before count rows were kept: none is written). */
  async function putOldRows(user: string, n: number, daysAgo: number): Promise<void> {
    const ms = Date.now() - daysAgo * 86_400_000;
    await t.server.core.store.transact(Array.from({ length: n }, (_, i) => {
      const id = `${msPrefix(ms + i)}-0000`;
      const value: ArchivedMessage = {
        id, stamp: new Date(ms + i).toISOString(), with: `alice@${host}`, peer: `alice@${host}/old`,
        xml: `<message xmlns='jabber:client' from='alice@${host}/old' to='${user}@${host}' type='chat'><body>old ${i + 1}</body></message>`,
      };
      return { type: 'put' as const, table: MAM_TABLE, key: `${host}/${user}\u0000${id}`, value: { ...value } };
    }));
  }

  test('max_messages 3: a fourth and fifth message remove the oldest; queries see the newest three with the ids bob got', async () => {
    const a = await login('alice', 'quota');
    const b = await login('bob', 'quota');
    await sync(a); await sync(b);
    for (let i = 1; i <= 5; i++) a.send(`<message to='bob@${host}' type='chat' id='q${i}'><body>quota ${i}</body></message>`);
    const sids: string[] = [];
    for (let i = 1; i <= 5; i++) sids.push(...stanzaIds((await b.expect(MESSAGE(`q${i}`)))[0], `bob@${host}`));
    assert.equal(sids.length, 5, 'each message bob got carries one stanza-id by his archive');
    const rb = await query(b);
    assert.deepEqual(bodies(rb), ['quota 3', 'quota 4', 'quota 5']);
    assert.deepEqual(rb.results.map((r) => r.id), sids.slice(2), 'the kept rows are the ones whose ids bob saw');
    assertStanza(rb.fin, fin({}, [{ name: 'count', text: '3' }]));
    assert.deepEqual(bodies(await query(a)), ['quota 3', 'quota 4', 'quota 5'], "alice's archive is bounded the same way");
    assert.equal((await rows('bob')).length, 3);
    assert.equal(await countRow('bob'), 3, 'the count row matches the rows');
    a.close(); b.close();
  });

  test('max_results caps the page whatever <max/> asks; a paging anchor not in the archive is item-not-found', async () => {
    await t.server.modules.reload('mam', { ...MAM, max_results: 2 });
    const b = await login('bob', 'pages');
    const p = await query(b, rsm('<max>100</max>'));
    assert.deepEqual(bodies(p), ['quota 3', 'quota 4']);
    assertStanza(p.fin, fin({ complete: 'false' }, [{ name: 'count', text: '3' }]));
    assert.deepEqual(bodies(await query(b)), ['quota 3', 'quota 4'], 'no <max/>: the cap');
    assert.deepEqual(bodies(await query(b, rsm(`<after>${p.results[1]!.id}</after>`))), ['quota 5']);
    const none = await query(b, rsm('<max>0</max>'));
    assert.equal(none.results.length, 0);
    assertStanza(none.fin, fin({}, [{ name: 'count', text: '3' }]));
    for (const bad of ['000000000000001-0000', 'nonsense\u00e9']) {
      assertStanza((await query(b, rsm(`<after>${bad}</after>`))).fin, stanzaError('item-not-found'));
      assertStanza((await query(b, rsm(`<before>${bad}</before>`))).fin, stanzaError('item-not-found'));
    }
    await t.server.modules.reload('mam', MAM);
    b.close();
  });

  test('a message delivered to two resources is archived once, with the stanza-id both got; a message to a full JID too', async () => {
    const d = await login('dave', 'x');
    const c1 = await login('carol', 'one');
    const c2 = await login('carol', 'two');
    await sync(c1); await sync(c2); await sync(d);
    d.send(`<message to='carol@${host}' type='chat' id='b1'><body>to both</body></message>`);
    const [sid1] = stanzaIds((await c1.expect(MESSAGE('b1')))[0], `carol@${host}`);
    assert.deepEqual(stanzaIds((await c2.expect(MESSAGE('b1')))[0], `carol@${host}`), [sid1!], 'the same id on both resources');
    d.send(`<message to='carol@${host}/two' type='chat' id='f1'><body>to two</body></message>`);
    const sid2 = stanzaIds((await c2.expect(MESSAGE('f1')))[0], `carol@${host}`);
    assert.equal(sid2.length, 1);
    const rc = await query(c1);
    assert.deepEqual(bodies(rc), ['to both', 'to two']);
    assert.deepEqual(rc.results.map((r) => r.id), [sid1, sid2[0]]);
    assert.equal(await countRow('carol'), 2);
    c1.close(); c2.close(); d.close();
  });

  test('offline queue full: the refused message is not archived for erin and its resource-constraint bounce carries no stanza-id', async () => {
    const f = await login('frank', 'x');
    await sync(f);
    f.send(`<message to='erin@${host}' type='chat' id='o1'><body>stored</body></message>`);
    f.send(`<message to='erin@${host}' type='chat' id='o2'><body>refused</body></message>`);
    assertStanza((await f.expect(/<message[^>]*type=["']error["'][\s\S]*?<\/message>/))[0], bounce('o2', 'resource-constraint'));
    f.send(`<message to='nobody@${host}' type='chat' id='n1'><body>to no one</body></message>`);
    assertStanza((await f.expect(/<message[^>]*type=["']error["'][\s\S]*?<\/message>/))[0], bounce('n1', 'service-unavailable'));
    assert.deepEqual((await rows('erin')).map((r) => r.value.xml.match(/<body>([^<]*)/)![1]), ['stored'], 'only the stored message is in erin\'s archive');

    const e = await login('erin', 'x'); // initial presence: the stored message is delivered
    const got = (await e.expect(MESSAGE('o1')))[0];
    const sid = stanzaIds(got, `erin@${host}`);
    assert.equal(sid.length, 1, `the stored copy carries erin's archive id: ${got}`);
    const re = await query(e);
    assert.deepEqual(bodies(re), ['stored']);
    assert.deepEqual(re.results.map((r) => r.id), sid, 'the id erin got is the archived id');
    assert.deepEqual(bodies(await query(f, form({ with: `erin@${host}` }))), ['stored', 'refused'], "frank's own copies are kept as sent");
    e.close(); f.close();
  });

  test('a note to self is archived once, as received, with the id the other resource got', async () => {
    const i1 = await login('ivy', 'one');
    const i2 = await login('ivy', 'two');
    await sync(i1); await sync(i2);
    i1.send(`<message to='ivy@${host}/two' type='chat' id='self1'><body>note</body></message>`);
    const sid = stanzaIds((await i2.expect(MESSAGE('self1')))[0], `ivy@${host}`);
    const r = await query(i1);
    assert.deepEqual(bodies(r), ['note']);
    assert.deepEqual(r.results.map((x) => x.id), sid);
    i1.close(); i2.close();
  });

  test('expire_after: an expiry pass removes messages older than a year (default) and keeps the new ones; the count follows', async () => {
    await putOldRows('gina', 2, 400);
    const a = await login('alice', 'exp');
    const g = await login('gina', 'exp');
    await sync(g);
    a.send(`<message to='gina@${host}' type='chat' id='new1'><body>recent</body></message>`);
    await g.expect(MESSAGE('new1'));
    assert.deepEqual(bodies(await query(g)), ['old 1', 'old 2', 'recent'], 'an archive from before count rows is counted once');
    assert.equal(await countRow('gina'), 3);
    assert.equal(await mam().expireNow(), 2);
    assert.deepEqual(bodies(await query(g)), ['recent']);
    assert.equal(await countRow('gina'), 1);
    assert.equal(await mam().expireNow(), 0, 'nothing left to expire');
    a.close(); g.close();
  });

  test('options are validated with their YAML path; bad ones change nothing', async () => {
    const reject = (opts: Record<string, unknown>, re: RegExp) => assert.rejects(t.server.modules.reload('mam', { ...MAM, ...opts }), re);
    await reject({ max_messages: 0 }, /modules\.mam\.max_messages: must be at least 1/);
    await reject({ max_messages: 2.5 }, /modules\.mam\.max_messages: must be a whole number/);
    await reject({ expire_after: 'soon' }, /modules\.mam\.expire_after: must be a duration/);
    await reject({ expire_after: -1 }, /modules\.mam\.expire_after: must be a duration/);
    await reject({ expire_after: 0 }, /modules\.mam\.expire_after: must be at least 1 seconds/);
    await reject({ expire_interval: 'never' }, /modules\.mam\.expire_interval: must be a duration/);
    await reject({ expire_interval: '30d' }, /modules\.mam\.expire_interval: must be at most/);
    assert.equal(parseDuration('1w'), 604_800);
    assert.equal(parseDuration('12h'), 43_200);
    assert.equal(parseDuration(90), 90);
    assert.equal(parseDuration('never'), null);
    assert.equal(parseDuration('1.5d'), undefined);
    // Still running with the old options: the quota of 3 holds.
    const a = await login('alice', 'opts');
    for (let i = 1; i <= 4; i++) a.send(`<message to='hank@${host}' type='chat' id='v${i}'><body>v ${i}</body></message>`);
    await sync(a);
    assert.deepEqual(bodies(await query(a, form({ with: `hank@${host}` }))), ['v 2', 'v 3', 'v 4']);
    a.close();
  });

  test('expire_after "never" keeps old messages; expire_interval runs the sweep by itself', async () => {
    await t.server.modules.reload('mam', { ...MAM, expire_after: 'never' });
    await putOldRows('jack', 2, 4000);
    assert.equal(await mam().expireNow(), 0);
    assert.equal((await rows('jack')).length, 2);
    await t.server.modules.reload('mam', { ...MAM, expire_after: '30d', expire_interval: 1 });
    await until(async () => (await rows('jack')).length === 0, 'the periodic sweep removed the old rows');
    assert.equal(await countRow('jack'), 0);
    await t.server.modules.reload('mam', MAM);
  });
});
