// Sessions and routing across cluster nodes (DESIGN.md "Data layer"; issue 13): three xmppd nodes on a
// three-server NATS JetStream cluster, users on different nodes: messages to full and bare JIDs (RFC 6121
// §8.5), presence broadcast and probes (§4), roster pushes (§2.1.6), carbons (XEP-0280), a resource bound on
// two nodes (RFC 6120 §7.7.2.2 override), XEP-0198 resumption on another node, on both virtual hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, seedUsers, sees } from '../support/cluster-nodes.js';
import { forEachHost, escapeRe } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import type { TestServer } from '../support/harness.js';
import { Jid } from '../../src/core/jid.js';
import { session, roundTrip, setCarbons } from '../../modules/carbons/test-support.js';
import { iq, presence, push } from '../../modules/roster/test-support.js';
import { enable, resume, cut, Tally } from '../../modules/stream_management/test-support.js';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'henry', 'ivan', 'mia', 'nina', 'olga'];

describe('sessions across cluster nodes', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  const clients: RawClient[] = [];
  const open = async (t: TestServer, user: string, resource: string, host: string, opts: { priority?: number; carbons?: boolean } = {}) => {
    const c = await session(t.c2sPort, user, resource, { host, ...opts });
    clients.push(c);
    // Every node routes to it before the test goes on (the registry is mirrored by watch).
    for (const other of n) await sees(other, `${user}@${host}/${resource}`);
    return c;
  };
  const msg = (c: RawClient, id: string) => c.expect(new RegExp(`<message\\b[^>]*\\bid=["']${id}["'][^>]*>[\\s\\S]*?</message>`));

  before(async () => {
    nats = await NatsCluster.start(3);
    n = await startNodes(nats, 3);
    await seedUsers(n, USERS, [['carol', 'dave'], ['alice', 'bob'], ['mia', 'nina']]);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  forEachHost((host) => {
    const h = escapeRe(host);

    test('a message to a full JID, to a bare JID and an IQ reach a user on another node', async () => {
      const alice = await open(n[0]!, 'alice', 'a1', host);
      const bob = await open(n[1]!, 'bob', 'b1', host);
      alice.send(`<message to='bob@${host}/b1' type='chat' id='full1'><body>to the resource</body></message>`);
      const [m1] = await msg(bob, 'full1');
      assert.match(m1, new RegExp(`from=["']alice@${h}/a1["']`));
      assert.match(m1, /to the resource/);
      alice.send(`<message to='bob@${host}' type='chat' id='bare1'><body>to the account</body></message>`);
      assert.match((await msg(bob, 'bare1'))[0], /to the account/);
      bob.send(`<message to='alice@${host}' type='chat' id='back1'><body>answer</body></message>`);
      assert.match((await msg(alice, 'back1'))[0], new RegExp(`from=["']bob@${h}/b1["']`));
      // An IQ between clients on two nodes, and its answer back.
      alice.send(`<iq to='bob@${host}/b1' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
      const [q] = await bob.expect(/<iq\b[^>]*id=["']v1["'][^>]*>[\s\S]*?<\/iq>/);
      assert.match(q, new RegExp(`from=["']alice@${h}/a1["']`));
      bob.send(`<iq to='alice@${host}/a1' type='result' id='v1'><query xmlns='jabber:iq:version'><name>b</name></query></iq>`);
      assert.match((await alice.expect(/<iq\b[^>]*id=["']v1["'][^>]*>[\s\S]*?<\/iq>/))[0], /type=["']result["']/);
      alice.close();
      bob.close();
    });

    test('presence: a contact on another node is probed, sees the user come and go', async () => {
      const carol = await open(n[0]!, 'carol', 'c1', host);
      // dave's initial presence probes carol (answered by the node that knows carol's session through the registry).
      const { c: dave } = await RawClient.login(n[2]!.c2sPort, 'dave', 'pw-dave', 'd1', { host });
      clients.push(dave);
      await presence(dave, new RegExp(`from=["']carol@${h}/c1["']`));
      await presence(carol, new RegExp(`from=["']dave@${h}/d1["']`));
      dave.send("<presence type='unavailable'/>");
      await presence(carol, new RegExp(`from=["']dave@${h}/d1["']`), /type=["']unavailable["']/);
      dave.send('<presence/>');
      await presence(carol, new RegExp(`from=["']dave@${h}/d1["']`));
      // The session ends (its stream closes): carol on another node hears it go.
      dave.send('</stream:stream>');
      await presence(carol, new RegExp(`from=["']dave@${h}/d1["']`), /type=["']unavailable["']/);
      await until(() => !n[0]!.server.core.sessions.get(Jid.parse(`dave@${host}/d1`)), 'the session left every node');
      carol.close();
    });

    test('a roster change is pushed to the account\'s resource on another node', async () => {
      const e1 = await open(n[0]!, 'erin', 'e1', host);
      const e2 = await open(n[1]!, 'erin', 'e2', host);
      await iq(e1, "<query xmlns='jabber:iq:roster'/>");
      await iq(e2, "<query xmlns='jabber:iq:roster'/>");
      await until(() => n[0]!.server.core.sessions.get(Jid.parse(`erin@${host}/e2`))?.marks.has('jabber:iq:roster'), 'node 1 knows e2 asked for the roster');
      const r = await iq(e1, `<query xmlns='jabber:iq:roster'><item jid='zed@${host}' name='Zed'/></query>`, 'set');
      assert.match(r, /type=["']result["']/);
      const p = await push(e2, `zed@${host}`);
      assert.match(p, /name=["']Zed["']/);
      e1.close();
      e2.close();
    });

    test('carbons: sent and received copies reach the account\'s resource on another node', async () => {
      const f1 = await open(n[0]!, 'frank', 'f1', host, { carbons: true });
      const f2 = await open(n[1]!, 'frank', 'f2', host, { carbons: true });
      const grace = await open(n[2]!, 'grace', 'g1', host);
      await until(() => n[0]!.server.core.sessions.get(Jid.parse(`frank@${host}/f2`))?.marks.has('urn:xmpp:carbons:2'), 'node 1 knows f2 enabled carbons');
      await until(() => n[2]!.server.core.sessions.get(Jid.parse(`frank@${host}/f2`))?.marks.has('urn:xmpp:carbons:2'), 'node 3 knows f2 enabled carbons');
      f1.send(`<message to='grace@${host}/g1' type='chat' id='cs1'><body>sent copy</body></message>`);
      await msg(grace, 'cs1');
      const [sent] = await f2.expect(/<message\b[^>]*>\s*<sent xmlns=["']urn:xmpp:carbons:2["'][\s\S]*?<\/message>/);
      assert.match(sent, /id=["']cs1["']/);
      grace.send(`<message to='frank@${host}/f1' type='chat' id='cr1'><body>received copy</body></message>`);
      await msg(f1, 'cr1');
      const [received] = await f2.expect(/<message\b[^>]*>\s*<received xmlns=["']urn:xmpp:carbons:2["'][\s\S]*?<\/message>/);
      assert.match(received, /id=["']cr1["']/);
      // Disabled on f2's node: no more copies to it.
      assert.match(await setCarbons(f2, false), /type=["']result["']/);
      await until(() => !n[2]!.server.core.sessions.get(Jid.parse(`frank@${host}/f2`))?.marks.has('urn:xmpp:carbons:2'), 'node 3 knows f2 disabled carbons');
      grace.send(`<message to='frank@${host}/f1' type='chat' id='cr2'><body>no copy</body></message>`);
      await msg(f1, 'cr2');
      f1.send(`<message to='frank@${host}/f2' type='chat' id='mark2'><body>after</body></message>`);
      const [before] = await f2.expect(/^[\s\S]*?<message\b[^>]*id=["']mark2["']/);
      assert.doesNotMatch(before, /cr2/, 'no carbon after disabling');
      for (const c of [f1, f2, grace]) c.close();
    });

    test('a resource bound on another node replaces the older session (conflict)', async () => {
      const old = await open(n[0]!, 'henry', 'same', host);
      const ivan = await open(n[2]!, 'ivan', 'i1', host);
      const { c: fresh } = await RawClient.login(n[1]!.c2sPort, 'henry', 'pw-henry', 'same', { host });
      clients.push(fresh);
      await old.expect(/<stream:error>\s*<conflict xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
      await until(() => n[0]!.server.core.sessions.get(Jid.parse(`henry@${host}/same`))?.remote === 'x2', 'node 1 routes henry/same to node 2');
      await until(() => n[2]!.server.core.sessions.get(Jid.parse(`henry@${host}/same`))?.remote === 'x2', 'node 3 routes henry/same to node 2');
      ivan.send(`<message to='henry@${host}/same' type='chat' id='cf1'><body>to the new one</body></message>`);
      assert.match((await msg(fresh, 'cf1'))[0], /to the new one/);
      assert.equal(n[0]!.server.core.sessions.resources(Jid.parse(`henry@${host}`)).length, 1);
      await roundTrip(fresh);
      fresh.close();
      ivan.close();
    });

    test('a detached session resumes on another node (XEP-0198): unacknowledged stanzas follow, contacts see no change', async () => {
      const { c: m1 } = await RawClient.login(n[0]!.c2sPort, 'mia', 'pw-mia', 'm1', { host, presence: false });
      clients.push(m1);
      const tally = new Tally(m1);
      const enabled = await enable(m1);
      assert.equal(enabled.name, 'enabled');
      m1.send('<presence/>');
      await roundTrip(m1);
      const nina = await open(n[2]!, 'nina', 'n1', host);
      const olga = await open(n[1]!, 'olga', 'o1', host);
      await sees(n[1]!, `mia@${host}/m1`);
      await until(() => n[1]!.server.core.sessions.get(Jid.parse(`mia@${host}/m1`))?.marks.has(`urn:xmpp:sm:3#${enabled.attrs.id}`), 'node 2 knows the resumption id');
      olga.send(`<message to='mia@${host}/m1' type='chat' id='sm1'><body>before the cut</body></message>`);
      await msg(m1, 'sm1');
      const h = tally.h;
      await cut(n[0]!, m1, `mia@${host}/m1`);
      // Written while detached: waits on node 1 for an acknowledgement.
      olga.send(`<message to='mia@${host}/m1' type='chat' id='sm2'><body>while away</body></message>`);
      await until(() => (n[0]!.server.core.sessions.get(Jid.parse(`mia@${host}/m1`)) as unknown as { detached: boolean })?.detached, 'the session waits on node 1');
      await roundTrip(olga);
      const r = await resume(n[1]!.c2sPort, 'mia', enabled.attrs.id!, h, host);
      clients.push(r.c);
      assert.equal(r.answer.name, 'resumed', r.answer.toString());
      assert.match((await msg(r.c, 'sm2'))[0], /while away/);
      // Every node now routes the resource to node 2; node 1 let it go without an unavailable presence.
      for (const t of n) {
        await until(() => {
          const s = t.server.core.sessions.get(Jid.parse(`mia@${host}/m1`));
          return t === n[1] ? s && s.remote === undefined : s?.remote === 'x2';
        }, `${t.server.core.cluster!.node} routes mia/m1 to x2`);
      }
      olga.send(`<message to='mia@${host}/m1' type='chat' id='sm3'><body>after</body></message>`);
      await msg(r.c, 'sm3');
      const ninaGot = await roundTrip(nina);
      assert.doesNotMatch(ninaGot + nina.buffer, /type=["']unavailable["']/, 'nina saw no unavailable presence');
      r.c.send(`<r xmlns='urn:xmpp:sm:3'/>`);
      assert.match((await r.c.expect(/<a xmlns=["']urn:xmpp:sm:3["'][^>]*\/>/))[0], /h=/);
      for (const c of [r.c, nina, olga]) c.close();
    });
  });
});
