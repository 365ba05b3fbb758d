// Offline storage across cluster nodes (XEP-0160 §2, issue 13): a message another node stored for a user who,
// by the time the row arrives here, is online on THIS node (that node had not seen the new session yet, and this
// node's delivery at login ran before the row came) is handed over at once, not kept until the next login.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, seedUsers, clusterName } from '../support/cluster-nodes.js';
import { HOSTS, type TestServer } from '../support/harness.js';
import { until } from '../support/until.js';
import { session } from '../../modules/carbons/test-support.js';
import type { RawClient } from '../support/raw-client.js';

describe('offline messages stored by another node', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  const clients: RawClient[] = [];

  before(async () => {
    nats = await NatsCluster.start(3);
    n = await startNodes(nats, 2, clusterName());
    await seedUsers(n, ['mia', 'ned'], []);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  for (const host of HOSTS) {
    test(`${host}: a row stored on x1 for mia, online on x2, reaches her on x2 at once and leaves the store`, async () => {
      const mia = await session(n[1]!.c2sPort, 'mia', 'phone', { host });
      clients.push(mia);
      // What x1's offline module writes when it decides mia is offline (it has not seen her session yet).
      const key = `${host}/mia\u0000${String(Date.now()).padStart(12, '0')}`;
      const xml = `<message xmlns='jabber:client' from='ned@${host}/desk' to='mia@${host}' type='chat' id='late-1'><body>stored on x1</body><delay xmlns='urn:xmpp:delay' from='${host}' stamp='2026-12-02T00:00:00Z'>Offline Storage</delay></message>`;
      const r = await n[0]!.server.core.store.transact([{ type: 'put', table: 'offline_messages', key, value: { xml, stamp: '2026-12-02T00:00:00Z', from: `ned@${host}/desk` } }]);
      assert.equal(r.ok, true);
      await mia.expect(/id=['"]late-1['"][\s\S]*stored on x1/, 10_000);
      await until(async () => (await n[0]!.server.core.store.table('offline_messages').count({ prefix: `${host}/mia\u0000` })) === 0, 'the delivered row is removed everywhere');
    });
  }
});
