// Two xmppd servers configured with `cluster` on one JetStream cluster (DESIGN.md "Data layer"): the same account
// registered on both at once exists exactly once on both, and each server reports replication status,
// readiness and metrics. Without `cluster` a server never touches NATS (every other e2e test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { until } from '../support/until.js';
import { Jid } from '../../src/core/jid.js';
import { clusterStatus } from '../../src/core/cluster/cluster-runtime.js';

describe('xmppd servers sharing the replicated data layer', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  const servers: TestServer[] = [];
  before(async () => {
    nats = await NatsCluster.start(3);
    for (const node of ['x1', 'x2']) {
      servers.push(await startTestServer({ cluster: { node, nats: nats.urls, name: 'e2e', heartbeat_interval: 0.5, node_timeout: 5 } }));
    }
  });
  after(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await nats?.stop();
  });

  test('an account registered on both servers at once exists once, on both', async () => {
    const [s1, s2] = servers as [TestServer, TestServer];
    const jid = Jid.of('alice', s1.domain);
    const results = await Promise.allSettled([s1.server.core.accounts.create(jid, 'secret1'), s2.server.core.accounts.create(jid, 'secret2')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one registration succeeds');
    assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /already exists/);
    await s1.server.core.store.barrier();
    await s2.server.core.store.barrier();
    const c1 = await s1.server.core.accounts.credentials(jid);
    const c2 = await s2.server.core.accounts.credentials(jid);
    assert.ok(c1 !== null);
    assert.deepEqual(c2, c1, 'both servers hold the winning registration');
  });

  test('each server reports replication status, readiness and metrics', async () => {
    for (const s of servers) {
      const core = s.server.core;
      assert.ok(core.cluster, 'core.cluster is set');
      await until(() => core.readiness!.state().ready, 'the replica is ready', 30_000);
      const st = await clusterStatus(core.cluster);
      const rep = st.replication as Record<string, unknown>;
      assert.equal(rep.lag, 0);
      assert.equal(rep.lastApplied, rep.streamLastSeq);
      assert.ok(nats.indexOf(String(rep.leader)) >= 0);
      const text = await core.metrics.registry.metrics();
      assert.match(text, /xmppd_cluster_apply_lag 0/);
      assert.match(text, /xmppd_cluster_applied_total [1-9]/);
    }
  });
});
