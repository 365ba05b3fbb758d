// MUC rooms across cluster nodes (XEP-0045; issue 13): three xmppd nodes on a three-server NATS JetStream cluster,
// each room held by one node (the first to see it), joined by users on every node: presence and groupchat
// messages flow both ways, private messages and IQs between occupants on other nodes go through the room, and
// a temporary room left by everyone may be hosted by another node next time; every node lists the persistent
// rooms. On both virtual hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, sees, CLUSTER_MODULES } from '../support/cluster-nodes.js';
import { clusterAccounts } from '../support/cluster-accounts.js';
import { forEachHost, escapeRe } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import type { TestServer } from '../support/harness.js';
import { session } from '../../modules/carbons/test-support.js';
import { MUC_SERVICE, type MucApi } from '../../modules/muc/api.js';
import { NS_MUC_ADMIN, codes, configure, createInstant, join, messageFrom, next, presenceFrom, rc } from '../../modules/muc/test-support.js';
import { Jid } from '../../src/core/jid.js';
import { runCommand } from '../../src/core/admin/commands.js';

const USERS = ['alice', 'bob', 'carol'];

describe('MUC rooms across cluster nodes', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  const clients: RawClient[] = [];
  const open = async (t: TestServer, user: string, resource: string, host: string) => {
    const c = await session(t.c2sPort, user, resource, { host });
    clients.push(c);
    for (const other of n) await sees(other, `${user}@${host}/${resource}`);
    return c;
  };
  /** The nodes whose MUC service holds `room` in memory. */
  const holders = (host: string, room: string) => n.filter((t) => t.server.core.services.get<MucApi>(host, MUC_SERVICE.name)?.room(room));

  before(async () => {
    nats = await NatsCluster.start(3);
    n = await startNodes(nats, 3, undefined, { ...CLUSTER_MODULES, muc: {} });
    await clusterAccounts(n, USERS);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  forEachHost((host) => {
    const svc = `conference.${host}`;

    test('users on three nodes share a room held by one node: presence and messages flow every way', async () => {
      const alice = await open(n[0]!, 'alice', 'a', host);
      const bob = await open(n[1]!, 'bob', 'b', host);
      const carol = await open(n[2]!, 'carol', 'c', host);
      const room = `lounge@${svc}`;
      await createInstant(alice, room, 'Alice');
      assert.deepEqual(holders(host, 'lounge').map((t) => t.server.core.cluster!.node), ['x1'], 'the first node to see the room holds it');
      // `xmppd cluster status` shows it: x1 holds a room.
      assert.ok(((await n[0]!.server.core.cluster!.statusParts.get('placement')!()) as { held: number }).held >= 1);

      // bob joins through node x2: he gets alice's presence, then his own (110), then the subject.
      const got = await join(bob, `${room}/Bob`);
      const pres = got.filter((e) => e.name === 'presence');
      assert.equal(pres[0]!.attrs.from, `${room}/Alice`);
      assert.equal(pres.at(-1)!.attrs.from, `${room}/Bob`);
      assert.ok(codes(pres.at(-1)!).includes(110));
      await next(alice, presenceFrom(`${room}/Bob`));
      await join(carol, `${room}/Carol`);
      await next(alice, presenceFrom(`${room}/Carol`));
      await next(bob, presenceFrom(`${room}/Carol`));

      // A groupchat message from each node reaches everyone (the sender's echo included).
      bob.send(`<message to='${room}' type='groupchat' id='g1'><body>hello from x2</body></message>`);
      for (const c of [alice, bob, carol]) assert.match((await next(c, messageFrom(`${room}/Bob`))).toString(), /hello from x2/);
      alice.send(`<message to='${room}' type='groupchat' id='g2'><body>hello from x1</body></message>`);
      for (const c of [alice, bob, carol]) assert.match((await next(c, messageFrom(`${room}/Alice`))).toString(), /hello from x1/);

      // A private message between occupants on x3 and x2, through the room held on x1 (§7.5).
      carol.send(`<message to='${room}/Bob' type='chat' id='pm1'><body>psst</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`);
      assert.match((await next(bob, messageFrom(`${room}/Carol`))).toString(), /psst/);
      // An IQ from x2 to an occupant on x3 and its answer (§7.9: the room relays it).
      bob.send(`<iq to='${room}/Carol' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
      const q = await next(carol, new RegExp(`<iq\\b[^>]*from=["']${escapeRe(room)}/Bob["'][\\s\\S]*?</iq>`));
      assert.equal(q.attrs.type, 'get'); // under an id of the room's
      carol.send(`<iq to='${room}/Bob' type='result' id='${q.attrs.id}'><query xmlns='jabber:iq:version'><name>c</name></query></iq>`);
      assert.match((await bob.expect(/<iq\b[^>]*id=["']v1["'][^>]*>[\s\S]*?<\/iq>/))[0], /type=["']result["']/);

      // bob leaves: the others hear it.
      bob.send(`<presence to='${room}/Bob' type='unavailable'/>`);
      for (const c of [alice, carol]) assert.match((await next(c, presenceFrom(`${room}/Bob`))).toString(), /type=["']unavailable["']/);
      assert.deepEqual(holders(host, 'lounge').map((t) => t.server.core.cluster!.node), ['x1'], 'only the holder ever had the room');
      for (const c of [alice, carol]) c.send(`<presence to='${room}/x' type='unavailable'/>`);
      await until(() => holders(host, 'lounge').length === 0, 'the temporary room goes with its last occupant');
      alice.close();
      bob.close();
      carol.close();
    });

    test('every node lists the persistent public rooms held by the others (disco#items of the service)', async () => {
      const alice = await open(n[0]!, 'alice', 'a3', host);
      const bob = await open(n[1]!, 'bob', 'b3', host);
      const room = `hall@${svc}`;
      await createInstant(alice, room, 'Alice');
      assert.match(await configure(alice, room, { [rc('persistentroom')]: '1', [rc('roomname')]: 'The Hall' }), /type=["']result/);
      // x2 answers for the service itself, from the replicated rows.
      const items = await bob.iq('it1', `<iq type='get' id='it1' to='${svc}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
      assert.match(items, new RegExp(`<item[^>]*jid=["']${escapeRe(room)}["'][^>]*name=["']The Hall["']`));
      // So does the admin command on x2 (held elsewhere), and on x1 (held here, with its occupant).
      const list = async (t: TestServer) => ((await runCommand({ core: t.server.core, modules: t.server.modules }, 'muc.rooms', { host })) as { rooms: Array<Record<string, unknown>> }).rooms.find((r) => r.jid === room);
      assert.deepEqual(await list(n[1]!), { jid: room, name: 'The Hall', occupants: 0, persistent: true, public: true, membersOnly: false, locked: false, here: false });
      assert.equal((await list(n[0]!))?.here, true);
      assert.equal((await list(n[0]!))?.occupants, 1);
      alice.close();
      bob.close();
    });

    test('an account removed through another node loses its affiliation in a room held elsewhere, for good', async () => {
      const alice = await open(n[0]!, 'alice', 'a4', host);
      const room = `club@${svc}`;
      await createInstant(alice, room, 'Alice');
      assert.match(await configure(alice, room, { [rc('persistentroom')]: '1' }), /type=["']result/);
      const gone = `gone-${host.replace(/\./g, '-')}`;
      await n[0]!.server.core.accounts.create(Jid.of(gone, host), 'pw');
      assert.match(await alice.iq('af1', `<iq type='set' id='af1' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item jid='${gone}@${host}' affiliation='member'/></query></iq>`), /type=["']result/);
      const kept = () => holders(host, 'club')[0]!.server.core.services.get<MucApi>(host, MUC_SERVICE.name)!.room('club')!;
      assert.equal(kept().affiliation(`${gone}@${host}`), 'member');
      await until(() => n[2]!.server.core.accounts.exists(Jid.of(gone, host)), 'the account reached x3');
      await n[2]!.server.core.accounts.remove(Jid.of(gone, host)); // through x3
      await until(() => kept().affiliation(`${gone}@${host}`) === 'none', 'the holder x1 drops the affiliation');
      // The room's next save does not bring it back.
      assert.match(await alice.iq('af2', `<iq type='set' id='af2' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item jid='bob@${host}' affiliation='member'/></query></iq>`), /type=["']result/);
      const rows = await n[0]!.server.core.store.table('muc_affiliations').range({});
      assert.ok(rows.some((r) => r.key.endsWith(`\u0000bob@${host}`) && r.key.includes('\u0000club\u0000')));
      assert.ok(!rows.some((r) => r.key.endsWith(`\u0000${gone}@${host}`)), 'no row for the removed account');
      assert.equal(kept().affiliation(`alice@${host}`), 'owner', "the others' affiliations stay");
      alice.close();
    });

    test('a room first seen on another node is held there; a temporary room emptied may move to another node', async () => {
      const alice = await open(n[0]!, 'alice', 'a2', host);
      const carol = await open(n[2]!, 'carol', 'c2', host);
      const room = `den@${svc}`;
      await createInstant(carol, room, 'Carol');
      assert.deepEqual(holders(host, 'den').map((t) => t.server.core.cluster!.node), ['x3']);
      await join(alice, `${room}/Alice`);
      await next(carol, presenceFrom(`${room}/Alice`));
      alice.send(`<message to='${room}' type='groupchat' id='d1'><body>from x1 to x3</body></message>`);
      assert.match((await next(carol, messageFrom(`${room}/Alice`))).toString(), /from x1 to x3/);
      // Everyone leaves: the room and its claim go; alice's join through x1 now makes it on x1.
      alice.send(`<presence to='${room}/Alice' type='unavailable'/>`);
      await next(alice, presenceFrom(`${room}/Alice`));
      carol.send(`<presence to='${room}/Carol' type='unavailable'/>`);
      await next(carol, presenceFrom(`${room}/Carol`));
      await until(() => holders(host, 'den').length === 0, 'the room is gone');
      await createInstant(alice, room, 'Alice');
      assert.deepEqual(holders(host, 'den').map((t) => t.server.core.cluster!.node), ['x1']);
      alice.close();
      carol.close();
    });
  });
});
