// A MUC room whose node dies (kill -9 of its process; issue 13): the next stanza to the room finds no responder
// and another node takes the room over, loading its persistent state (configuration, affiliations) from the
// replicated tables; the occupants rejoin through their own nodes and chat again. A node that stops gracefully
// lets its rooms go at once: their occupants are told (status 332) and rejoin on another node. On both hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, sees, clusterName, CLUSTER_MODULES, startProcessNode, type ProcessNode } from '../support/cluster-nodes.js';
import { clusterAccounts } from '../support/cluster-accounts.js';
import { HOSTS, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { assertStanza, stanzaError } from '../support/stanza-match.js';
import { session } from '../../modules/carbons/test-support.js';
import { MUC_SERVICE, type MucApi } from '../../modules/muc/api.js';
import { NS_MUC_ADMIN, codes, configure, createInstant, item, join, messageFrom, next, presenceFrom, rc } from '../../modules/muc/test-support.js';

const USERS = ['alice', 'bob', 'carol'];
const MODULES = { ...CLUSTER_MODULES, muc: {} };



describe('a MUC room whose node dies', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  let child: ProcessNode | null = null;
  const clients: RawClient[] = [];
  const holders = (host: string, room: string) => n.filter((t) => t.server.core.services.get<MucApi>(host, MUC_SERVICE.name)?.room(room));

  before(async () => {
    nats = await NatsCluster.start(3);
    const name = clusterName();
    n = await startNodes(nats, 2, name, MODULES);
    await clusterAccounts(n, USERS);
    // The rooms' node x3 runs in its own process (kill -9 is a real crash); it gets the accounts from the stream.
    child = await startProcessNode(nats, name, 'x3', MODULES, n);
  });
  after(async () => {
    for (const c of clients) c.close();
    await child?.dispose(); // first, as before: the other nodes then stop without waiting on it
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  test('another node takes the room over with its persistent configuration; occupants rejoin and chat', async () => {
    const bobs = new Map<string, RawClient>();
    const carols = new Map<string, RawClient>();
    for (const host of HOSTS) {
      const room = `keep@conference.${host}`;
      // alice makes a persistent, members-only room through x3, which holds it.
      const { c: alice } = await RawClient.login(child!.port, 'alice', 'pw-alice', 'a', { host });
      clients.push(alice);
      await createInstant(alice, room, 'Alice');
      assert.match(await configure(alice, room, { [rc('persistentroom')]: '1', [rc('roomname')]: 'Kept', [rc('membersonly')]: '1' }), /type=["']result/);
      assert.match(await alice.iq('m', `<iq type='set' id='m' to='${room}'><query xmlns='${NS_MUC_ADMIN}'><item jid='bob@${host}' affiliation='member'/><item jid='carol@${host}' affiliation='member'/></query></iq>`), /type=["']result/);
      const bob = await session(n[0]!.c2sPort, 'bob', 'b', { host });
      const carol = await session(n[1]!.c2sPort, 'carol', 'c', { host });
      clients.push(bob, carol);
      bobs.set(host, bob);
      carols.set(host, carol);
      for (const t of n) for (const u of ['bob@' + host + '/b', 'carol@' + host + '/c']) await sees(t, u);
      await join(bob, `${room}/Bob`);
      await join(carol, `${room}/Carol`);
      bob.send(`<message to='${room}' type='groupchat' id='before'><body>before the crash</body></message>`);
      assert.match((await next(carol, messageFrom(`${room}/Bob`))).toString(), /before the crash/);
      assert.equal(holders(host, 'keep').length, 0, 'x1 and x2 never had the room');
    }

    child!.proc.kill('SIGKILL');
    await child!.exited;

    for (const host of HOSTS) {
      const room = `keep@conference.${host}`;
      const bob = bobs.get(host)!;
      const carol = carols.get(host)!;
      // bob's next message finds no node behind the room: x1 takes it over, fresh from the tables, where bob is
      // no occupant (the occupants were in x3's memory): not-acceptable tells his client to rejoin (XEP-0410 §3).
      bob.send(`<message to='${room}' type='groupchat' id='lost'><body>anyone?</body></message>`);
      assertStanza((await next(bob, /<message[^>]*id=["']lost["'][\s\S]*?<\/message>/, 15_000)).toString(), stanzaError('not-acceptable', 'message'));
      assert.deepEqual(holders(host, 'keep').map((t) => t.server.core.cluster!.node), ['x1']);
      const api = n[0]!.server.core.services.get<MucApi>(host, MUC_SERVICE.name)!;
      const kept = api.room('keep')!;
      assert.equal(kept.config.persistent, true);
      assert.equal(kept.config.name, 'Kept');
      assert.equal(kept.config.membersOnly, true);
      assert.equal(kept.affiliation(`alice@${host}`), 'owner');
      assert.equal(kept.affiliation(`bob@${host}`), 'member');

      // Both rejoin (carol through x2, forwarded to x1): a members-only room lets them in, they chat again.
      const got = await join(bob, `${room}/Bob`);
      assert.ok(codes(got.find((e) => e.attrs.from === `${room}/Bob`)!).includes(110));
      await join(carol, `${room}/Carol`);
      assert.equal(item(await next(bob, presenceFrom(`${room}/Carol`))).affiliation, 'member');
      carol.send(`<message to='${room}' type='groupchat' id='after'><body>back again</body></message>`);
      for (const c of [bob, carol]) assert.match((await next(c, messageFrom(`${room}/Carol`))).toString(), /back again/);
      assert.equal(holders(host, 'keep').length, 1);
    }
  });

  test('a node that stops gracefully lets its rooms go: occupants elsewhere are told (332) and rejoin on another node', async () => {
    const bobs = new Map<string, RawClient>();
    for (const host of HOSTS) {
      const room = `moving@conference.${host}`;
      const dave = await session(n[0]!.c2sPort, 'carol', 'mv', { host });
      clients.push(dave);
      for (const t of n) await sees(t, `carol@${host}/mv`);
      await createInstant(dave, room, 'Carol'); // held by x1
      assert.match(await configure(dave, room, { [rc('persistentroom')]: '1', [rc('roomname')]: 'Moving' }), /type=["']result/);
      const bob = await session(n[1]!.c2sPort, 'bob', 'mv', { host });
      clients.push(bob);
      for (const t of n) await sees(t, `bob@${host}/mv`);
      await join(bob, `${room}/Bob`);
      bobs.set(host, bob);
    }
    await n[0]!.server.stop();
    for (const host of HOSTS) {
      const room = `moving@conference.${host}`;
      const bob = bobs.get(host)!;
      const gone = await next(bob, presenceFrom(`${room}/Bob`), 15_000);
      assert.equal(gone.attrs.type, 'unavailable');
      assert.ok(codes(gone).includes(332), 'the room went away with the node (332)');
      // bob rejoins through x2, which now holds the room with its stored configuration.
      const got = await join(bob, `${room}/Bob`);
      assert.ok(codes(got.find((e) => e.attrs.from === `${room}/Bob`)!).includes(110));
      assert.equal(n[1]!.server.core.services.get<MucApi>(host, MUC_SERVICE.name)!.room('moving')?.config.name, 'Moving');
    }
  });
});
