// One step of a rolling restart on a real cluster (NATS JetStream, replicated tables): node x1 drains while alice,
// logged in there with stream management, has not acknowledged two messages bob sent from node x2. x1 turns not
// ready, sends alice to x2 (see-other-host), and her messages go to offline storage, which every node shares:
// she finds them on x2. Nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { CLUSTER_MODULES, clusterName } from '../support/cluster-nodes.js';
import { until } from '../support/until.js';
import { sync } from '../../modules/roster/test-support.js';
import { bodies, enable } from '../../modules/stream_management/test-support.js';
import { Jid } from '../../src/core/jid.js';

test('a node drained in a rolling restart sends its clients to another node, which delivers their unacknowledged messages', { skip: natsSkip() }, async (t) => {
  const nats = await NatsCluster.start(1);
  t.after(() => nats.stop());
  const name = clusterName();
  const section = (node: string, extra: Record<string, unknown> = {}) => ({ node, name, nats: nats.urls, replicas: 1, heartbeat_interval: 0.3, node_timeout: 2, ...extra });
  const x2 = await startTestServer({ modules: CLUSTER_MODULES, cluster: section('x2') });
  t.after(() => x2.stop());
  const x1 = await startTestServer({
    modules: CLUSTER_MODULES,
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'http' }],
    cluster: section('x1', { see_other_host: `127.0.0.1:${x2.c2sPort}` }),
  });
  let x1Stopped = false;
  t.after(() => (x1Stopped ? undefined : x1.stop()));
  const readyz = `http://127.0.0.1:${x1.server.port('http')}/readyz`;
  await until(async () => (await fetch(readyz)).status === 200, 'x1 is ready (caught up)');

  // Accounts are created once, on x1, and replicated to x2.
  await x1.addUser('alice', 'pw-alice');
  await x1.addUser('bob', 'pw-bob');
  await until(() => x2.server.core.accounts.exists(Jid.parse('bob@localhost')), 'the accounts reached x2');

  const { c: alice } = await RawClient.login(x1.c2sPort, 'alice', 'pw-alice', 'phone');
  await sync(alice);
  assert.match((await enable(alice)).toString(), /<enabled/);
  const { c: bob } = await RawClient.login(x2.c2sPort, 'bob', 'pw-bob', 'pc', { presence: false });
  await until(() => x2.server.core.sessions.get(Jid.parse('alice@localhost/phone')), 'x2 routes to alice on x1');
  bob.send("<message to='alice@localhost/phone' type='chat' id='r1'><body>rolling-1</body></message>");
  bob.send("<message to='alice@localhost' type='chat' id='r2'><body>rolling-2</body></message>");
  await alice.expect(/rolling-2<\/body>/); // received through x1, never acknowledged

  const stopping = x1.stop();
  x1Stopped = true;
  const error = (await alice.expect(/<stream:error>[\s\S]*?<\/stream:error>/))[0];
  assert.match(error, new RegExp(`<see-other-host xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']>127\\.0\\.0\\.1:${x2.c2sPort}</see-other-host>`));
  const r = await fetch(readyz);
  assert.equal(r.status, 503);
  assert.equal(((await r.json()) as { reasons: Record<string, string> }).reasons.drain, 'the node is shutting down');
  alice.close();
  await stopping;

  // alice follows see-other-host to x2: her unacknowledged messages are there.
  const port = Number(/:(\d+)<\/see-other-host>/.exec(error)![1]);
  const { c } = await RawClient.login(port, 'alice', 'pw-alice', 'back');
  const got = bodies(await sync(c));
  assert.deepEqual(got, ['rolling-1', 'rolling-2']);
  c.close();
  bob.close();
});
