// Room persistence and the smaller XEPs over real sockets, on every host: persistent rooms (configuration,
// affiliations, subject) survive a restart, temporary rooms vanish with their last occupant, account removal
// drops affiliations, hosts keep their rooms apart; XEP-0421 occupant ids, XEP-0410 self-ping, admin commands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { Jid } from '../../src/core/jid.js';
import { MUC_MODULES, NS_MUC_ADMIN, configure, createInstant, item, join, joinError, next, presenceFrom, rc } from './test-support.js';
import type { Element } from '../../src/sdk.js';

let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(joinPath(tmpdir(), 'xmppd-muc-'));
  t = await startTestServer({ modules: MUC_MODULES }, { dir });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const info = (c: RawClient, id: string, to: string) => c.iq(id, `<iq type='get' id='${id}' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
const occupantIdOf = (el: Element) => el.getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attrs.id as string | undefined;
const cmd = (name: string, args: Record<string, unknown>) => runCommand({ core: t.server.core, modules: t.server.modules }, name, args);

forEachHost((host) => {
  const svc = `conference.${host}`;
  const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('a persistent room keeps its configuration, affiliations and subject across a restart; a temporary one vanishes', async () => {
    const a = await login('alice');
    const name = `lasting-${host.replace(/\./g, '-')}`; // one name per host: the other service must not know it
    const room = `${name}@${svc}`;
    await createInstant(a.c, room, 'Alice');
    await configure(a.c, room, { [rc('persistentroom')]: '1', [rc('roomname')]: 'Lasting', [rc('membersonly')]: '1' });
    assert.match(await a.c.iq('m', `<iq type='set' id='m' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item jid='bob@${host}' affiliation='member'/><item jid='carol@${host}' affiliation='outcast'/></query></iq>`), /type=["']result/);
    a.c.send(`<message to='${room}' type='groupchat' id='subj'><subject>Kept</subject></message>`);
    await next(a.c, /<message[^>]*id=["']subj["'][\s\S]*?<\/message>/);
    const temp = `fleeting@${svc}`;
    await createInstant(a.c, temp, 'Alice');
    // the persistent room stays when everyone left; the temporary one goes
    a.c.send(`<presence to='${room}/Alice' type='unavailable'/>`);
    a.c.send(`<presence to='${temp}/Alice' type='unavailable'/>`);
    await next(a.c, presenceFrom(`${temp}/Alice`));
    assertStanza(await info(a.c, 'i1', room), iqResult());
    assertStanza(await info(a.c, 'i2', temp), stanzaError('item-not-found'));
    a.c.close();

    await t.stop();
    t = await startTestServer({ modules: MUC_MODULES }, { dir });
    const b = await login('bob');
    const got = await join(b.c, `${room}/Bob`);
    assert.equal(item(got.find((e) => e.attrs.from === `${room}/Bob`)!).affiliation, 'member');
    assertStanza(got[got.length - 1]!, { name: 'message', attrs: { from: `${room}/Alice` }, children: [{ name: 'subject', text: 'Kept' }] });
    const ri = parseStanza(await info(b.c, 'i3', room));
    assert.equal(ri.getChild('query')!.getChild('identity')!.attrs.name, 'Lasting');
    const c = await login('carol');
    assertStanza(await joinError(c.c, `${room}/Carol`), stanzaError('forbidden', 'presence'));
    assertStanza(await info(b.c, 'i4', temp), stanzaError('item-not-found'));
    // the other host's service does not have this host's room
    const other = `conference.${HOSTS.find((h) => h !== host)!}`;
    assertStanza(await info(b.c, 'i5', `${name}@${other}`), stanzaError('item-not-found'));
    // removing bob's account takes his membership with it
    b.c.close();
    c.c.close();
    const affRows = () => t.server.core.store.table('muc_affiliations').count({ prefix: `${host}/${svc}\u0000${name}\u0000` });
    assert.equal(await affRows(), 3);
    await t.server.core.accounts.remove(Jid.of('bob', host));
    assert.equal(await affRows(), 2);
    await t.addUser('bob', 'pw-bob', host);
    const b2 = await login('bob');
    assertStanza(await joinError(b2.c, `${room}/Bob`), stanzaError('registration-required', 'presence'));
    b2.c.close();
  });

  test('occupant ids (XEP-0421) are stable per room and user, and differ between users and rooms', async () => {
    const a = await login('alice');
    const b = await login('bob');
    const room = `ids@${svc}`;
    const first = await createInstant(a.c, room, 'Alice');
    const aliceId = occupantIdOf(first.find((e) => e.attrs.from === `${room}/Alice`)!)!;
    assert.ok(aliceId);
    const bj = await join(b.c, `${room}/Bob`);
    const bobId = occupantIdOf(bj.find((e) => e.attrs.from === `${room}/Bob`)!)!;
    assert.equal(occupantIdOf(bj.find((e) => e.attrs.from === `${room}/Alice`)!), aliceId, 'bob sees the id alice saw');
    assert.notEqual(bobId, aliceId);
    // bob leaves and comes back under another nick from another client: same id
    b.c.send(`<presence to='${room}/Bob' type='unavailable'/>`);
    await next(b.c, presenceFrom(`${room}/Bob`));
    const b2 = await login('bob', 'other');
    const again = await join(b2.c, `${room}/Robert`);
    assert.equal(occupantIdOf(again.find((e) => e.attrs.from === `${room}/Robert`)!), bobId);
    b2.c.send(`<message to='${room}' type='groupchat' id='oid'><body>me again</body></message>`);
    assert.equal(occupantIdOf(await next(a.c, /<message[^>]*id=["']oid["'][\s\S]*?<\/message>/)), bobId);
    // another room: another id
    const other = await createInstant(b.c, `ids2@${svc}`, 'Bob');
    assert.notEqual(occupantIdOf(other.find((e) => e.attrs.from === `ids2@${svc}/Bob`)!), bobId);
    a.c.close(); b.c.close(); b2.c.close();
  });

  test('self-ping (XEP-0410): a result for the occupant itself, not-acceptable for anyone else', async () => {
    const a = await login('alice');
    const b = await login('bob');
    const room = `ping@${svc}`;
    await createInstant(a.c, room, 'Alice');
    const ping = (c: RawClient, id: string, to: string) => c.iq(id, `<iq type='get' id='${id}' to='${to}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assertStanza(await ping(a.c, 'p1', `${room}/Alice`), { ...iqResult(), attrs: { type: 'result', from: `${room}/Alice` } });
    assertStanza(await ping(b.c, 'p2', `${room}/Alice`), stanzaError('not-acceptable'));
    assertStanza(await ping(b.c, 'p3', `${room}/Bob`), stanzaError('not-acceptable'));
    await join(b.c, `${room}/Bob`);
    assertStanza(await ping(b.c, 'p4', `${room}/Bob`), iqResult());
    assertStanza(await ping(b.c, 'p5', `${room}/Alice`), stanzaError('not-acceptable'));
    // after a restart of the module (a dropped room, say), the client learns it is no longer joined
    await t.server.modules.reload('muc', {});
    assertStanza(await ping(b.c, 'p6', `${room}/Bob`), stanzaError('not-acceptable'));
    a.c.close(); b.c.close();
  });

  test('admin commands: muc.create, muc.rooms, muc.occupants, muc.destroy', async () => {
    const created = await cmd('muc.create', { room: 'hall', owner: `alice@${host}`, name: 'The Hall', host }) as { jid: string; persistent: boolean };
    assert.deepEqual([created.jid, created.persistent], [`hall@${svc}`, true]);
    await assert.rejects(cmd('muc.create', { room: 'hall', host }), /exists/);
    const b = await login('bob');
    await join(b.c, `hall@${svc}/Bob`);
    const rooms = await cmd('muc.rooms', { host }) as { service: string; rooms: Array<{ jid: string; name: string }> };
    assert.equal(rooms.service, svc);
    assert.ok(rooms.rooms.some((r) => r.jid === `hall@${svc}` && r.name === 'The Hall'));
    const occ = await cmd('muc.occupants', { room: `hall@${svc}`, host }) as { occupants: Array<{ nick: string; jid: string; role: string }> };
    assert.deepEqual(occ.occupants.map((o) => [o.nick, o.jid, o.role]), [['Bob', `bob@${host}`, 'participant']]);
    await cmd('muc.destroy', { room: 'hall', reason: 'closing', host });
    const p = await next(b.c, presenceFrom(`hall@${svc}/Bob`));
    assert.equal(p.attrs.type, 'unavailable');
    assert.ok(!((await cmd('muc.rooms', { host })) as { rooms: Array<{ jid: string }> }).rooms.some((r) => r.jid === `hall@${svc}`));
    await assert.rejects(cmd('muc.occupants', { room: 'hall', host }), /no room/);
    b.c.close();
  });
});
