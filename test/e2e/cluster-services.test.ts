// PubSub, PEP and HTTP File Upload from any cluster node (issue 13): three xmppd nodes on a three-server NATS
// JetStream cluster. The pubsub service runs on every node over the replicated tables (XEP-0060): a node made
// through one node is subscribed to through another and its publications notify there; PEP (XEP-0163) notifies
// a contact on another node whose verified caps ask for it; a file PUT through one node is served by the others
// (XEP-0363, the files in a JetStream object store). On both virtual hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { clusterName, sees, startNodes, CLUSTER_MODULES } from '../support/cluster-nodes.js';
import { clusterAccounts } from '../support/cluster-accounts.js';
import type { TestServer } from '../support/harness.js';
import { forEachHost } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { assertStanza, iqResult } from '../support/stanza-match.js';
import { NS_PUBSUB, befriend, capsLogin, expectEvent, iq, publishXml, rosterOf } from '../../modules/pubsub/test-support.js';
import { Jid } from '../../src/core/jid.js';
import { put, requestSlot, slotUrls } from '../../modules/upload/test-support.js';

const USERS = ['alice', 'bob', 'carol'];
const MODULES = { ...CLUSTER_MODULES, caps: {}, pep: {}, pubsub: {}, upload: {} };

describe('pubsub, PEP and uploads across cluster nodes', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  const n: TestServer[] = [];
  const clients: RawClient[] = [];
  const login = async (t: TestServer, user: string, resource: string, host: string) => {
    const { c } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });
    clients.push(c);
    for (const other of n) await sees(other, `${user}@${host}/${resource}`);
    return c;
  };
  const httpPort = (t: TestServer) => t.server.listeners.bound.find((l) => l.type === 'http')!.port;

  before(async () => {
    nats = await NatsCluster.start(3);
    n.push(...(await startNodes(nats, 3, clusterName(), MODULES, {}, {
      listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'http' }],
    })));
    await clusterAccounts(n, USERS);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  forEachHost((host) => {
    const service = `pubsub.${host}`;

    test('a pubsub node made on x1 is subscribed to on x2; publications on x1 and x3 notify the subscriber on x2', async () => {
      const alice = await login(n[0]!, 'alice', 'ps', host);
      const bob = await login(n[1]!, 'bob', 'ps', host);
      const carol = await login(n[2]!, 'carol', 'ps', host);
      assertStanza(await iq(alice, `<pubsub xmlns='${NS_PUBSUB}'><create node='news'/></pubsub>`, 'set', service), iqResult());
      // bob's request is served by x2 over its replica of the tables.
      assertStanza(await iq(bob, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='news' jid='bob@${host}/ps'/></pubsub>`, 'set', service),
        iqResult({ name: 'pubsub', has: [{ name: 'subscription', attrs: { subscription: 'subscribed' } }] }));
      assertStanza(await iq(alice, publishXml('news', 'n1', "<entry xmlns='urn:example'>first</entry>"), 'set', service), iqResult());
      assert.match(await expectEvent(bob, 'news', /first/), new RegExp(`from=["']${service.replace(/\./g, '\\.')}["']`));
      // The owner makes carol a publisher (on x1); she publishes through x3.
      assertStanza(await iq(alice, `<pubsub xmlns='${NS_PUBSUB}#owner'><affiliations node='news'><affiliation jid='carol@${host}' affiliation='publisher'/></affiliations></pubsub>`, 'set', service), iqResult());
      assertStanza(await iq(carol, publishXml('news', 'n2', "<entry xmlns='urn:example'>second</entry>"), 'set', service), iqResult());
      await expectEvent(bob, 'news', /second/);
      // bob reads the items on x2: both, newest first.
      const items = await iq(bob, `<pubsub xmlns='${NS_PUBSUB}'><items node='news'/></pubsub>`, 'get', service);
      assert.match(items, /id=["']n2["'][\s\S]*id=["']n1["']/);
      for (const c of [alice, bob, carol]) c.close();
    });

    test('a PEP publication on x1 notifies a contact on x2 whose caps ask for it, and the owner\'s resource on x3', async () => {
      const node = 'urn:example:mood';
      await befriend(n[0]!, host, 'alice', 'bob');
      await until(() => rosterOf(n[1]!, host).get(Jid.parse(`bob@${host}`), Jid.parse(`alice@${host}`)), 'the rosters reached x2');
      const bob = await capsLogin(n[1]!, 'bob', host, 'pep', [node]);
      clients.push(bob.c);
      const alice2 = await capsLogin(n[2]!, 'alice', host, 'pep2', [node]);
      clients.push(alice2.c);
      for (const t of n) for (const j of [bob.jid, alice2.jid]) await sees(t, j);
      const alice = await login(n[0]!, 'alice', 'pep', host);
      assertStanza(await iq(alice, publishXml(node, 'm1', "<mood xmlns='urn:example:mood'>happy</mood>"), 'set'), iqResult());
      assert.match(await expectEvent(bob.c, node, /happy/), new RegExp(`from=["']alice@${host.replace(/\./g, '\\.')}["']`));
      await expectEvent(alice2.c, node, /happy/);
      for (const c of [alice, bob.c, alice2.c]) c.close();
    });

    test('a file PUT through x1 is served by x2 and x3, ranges included', async () => {
      const alice = await login(n[0]!, 'alice', 'up', host);
      const body = randomBytes(200_000);
      const urls = slotUrls(await requestSlot(alice, `upload.${host}`, 'photo.bin', body.length, 'application/octet-stream'));
      assert.equal(new URL(urls.put).port, String(httpPort(n[0]!)));
      const res = await put(urls.put, body, 'application/octet-stream');
      assert.equal(res.status, 201);
      for (const t of [n[1]!, n[2]!]) {
        const url = new URL(urls.get);
        url.port = String(httpPort(t)); // the same link through another node
        const got = await fetch(url);
        assert.equal(got.status, 200);
        assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), 'the same bytes');
        const part = await fetch(url, { headers: { range: 'bytes=150000-150009' } });
        assert.equal(part.status, 206);
        assert.ok(Buffer.from(await part.arrayBuffer()).equals(body.subarray(150_000, 150_010)));
      }
      alice.close();
    });
  });
});
