// A cluster node that dies (kill -9 of its process; issue 13): the lowest-named live node purges its sessions
// through the end-of-session path, so its users' contacts on other nodes get unavailable presence (RFC 6121
// §4.5.2); messages to its users (full or bare JID) go to offline storage (§8.5.3.2, §8.5.2.2) and are
// delivered when they log in on another node (the offline store is replicated). A node that stops gracefully ends its sessions itself and
// leaves at once. On both virtual hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, seedUsers, sees, clusterName, clusterSection, CLUSTER_MODULES, startProcessNode, type ProcessNode } from '../support/cluster-nodes.js';
import { startTestServer, HOSTS, type TestServer } from '../support/harness.js';
import { escapeRe } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { Jid } from '../../src/core/jid.js';
import { session } from '../../modules/carbons/test-support.js';
import { presence } from '../../modules/roster/test-support.js';
import { storedOffline } from '../../modules/stream_management/test-support.js';

const USERS = ['judy', 'kate', 'leo'];
const FRIENDS: Array<[string, string]> = [['judy', 'kate']];



describe('a cluster node that dies', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  let child: ProcessNode | null = null;
  let name = '';
  const clients: RawClient[] = [];

  before(async () => {
    nats = await NatsCluster.start(3);
    name = clusterName();
    n = await startNodes(nats, 2, name);
    await seedUsers(n, USERS, FRIENDS);
    // Node x3 runs in its own process (kill -9 is a real crash); the accounts reach it through the replicated tables.
    child = await startProcessNode(nats, name, 'x3', CLUSTER_MODULES, n);
  });
  after(async () => {
    for (const c of clients) c.close();
    await child?.dispose(); // first, as before: the other nodes then stop without waiting on it
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  test('its sessions are purged, contacts see them unavailable, messages to them go offline and arrive at login elsewhere', async () => {
    const kates = new Map<string, RawClient>();
    const leos = new Map<string, RawClient>();
    for (const host of HOSTS) {
      const { c: judy } = await RawClient.login(child!.port, 'judy', 'pw-judy', 'j1', { host });
      clients.push(judy);
      for (const t of n) await sees(t, `judy@${host}/j1`);
      const kate = await session(n[0]!.c2sPort, 'kate', 'k1', { host });
      clients.push(kate);
      kates.set(host, kate);
      const leo = await session(n[1]!.c2sPort, 'leo', 'l1', { host });
      clients.push(leo);
      leos.set(host, leo);
      for (const t of n) await sees(t, `leo@${host}/l1`);
    }

    child!.proc.kill('SIGKILL');
    await child!.exited;
    // Right away: x2 forwards, finds no responder, waits while x3's heartbeat is fresh, then (x3 dead) takes
    // the missing-resource path: offline storage.
    for (const host of HOSTS) {
      leos.get(host)!.send(`<message to='judy@${host}/j1' type='chat' id='full-${host}'><body>to the gone resource</body></message>`);
    }

    for (const host of HOSTS) {
      const h = escapeRe(host);
      // kate (x1) hears judy go, from the purge by the lowest-named live node.
      await presence(kates.get(host)!, new RegExp(`from=["']judy@${h}/j1["']`), /type=["']unavailable["']/);
      for (const t of n) await until(() => !t.server.core.sessions.get(Jid.parse(`judy@${host}/j1`)), `judy@${host}/j1 left ${t.server.core.cluster!.node}`);
    }
    await until(() => n.every((t) => !t.server.clusterSessions!.liveness.nodes.has('x3')), 'x3 is forgotten by every node');
    for (const host of HOSTS) {
      await storedOffline(n[1]!, `judy@${host}`, 1);
      leos.get(host)!.send(`<message to='judy@${host}' type='chat' id='bare-${host}'><body>to the account</body></message>`);
      await storedOffline(n[1]!, `judy@${host}`, 2);
      await n[0]!.server.core.store.barrier();
      // Both stored by x2 (no error back to leo): judy logs in on x1 and gets them.
      const { c: judy } = await RawClient.login(n[0]!.c2sPort, 'judy', 'pw-judy', 'j2', { host });
      clients.push(judy);
      const [m1] = await judy.expect(new RegExp(`<message\\b[^>]*id=["']full-${escapeRe(host)}["'][\\s\\S]*?</message>`));
      assert.match(m1, /to the gone resource/);
      const [m2] = await judy.expect(new RegExp(`<message\\b[^>]*id=["']bare-${escapeRe(host)}["'][\\s\\S]*?</message>`));
      assert.match(m2, /to the account/);
      assert.doesNotMatch(leos.get(host)!.buffer, /type=["']error["']/, 'nothing bounced to the sender');
    }
    const status = await n[0]!.server.core.cluster!.statusParts.get('nodes')!();
    assert.deepEqual(Object.keys(status as object).sort(), ['x1', 'x2']);
  });

  test('a node that stops gracefully: its users go unavailable at once and the others forget it', async () => {
    const x4 = await startTestServer({ modules: CLUSTER_MODULES, cluster: clusterSection(nats, name, 'x4') });
    let stopped = false;
    try {
      await x4.server.core.store.barrier();
      await until(() => n.every((t) => t.server.clusterSessions!.liveness.isReachable('x4')), 'x1 and x2 hear x4');
      const kates = new Map<string, RawClient>();
      for (const host of HOSTS) {
        const kate = await session(n[0]!.c2sPort, 'kate', 'k2', { host });
        clients.push(kate);
        kates.set(host, kate);
        const { c: judy } = await RawClient.login(x4.c2sPort, 'judy', 'pw-judy', 'j3', { host });
        clients.push(judy);
        await presence(kate, new RegExp(`from=["']judy@${escapeRe(host)}/j3["']`));
      }
      await x4.stop();
      stopped = true;
      for (const host of HOSTS) {
        await presence(kates.get(host)!, new RegExp(`from=["']judy@${escapeRe(host)}/j3["']`), /type=["']unavailable["']/);
        for (const t of n) await until(() => !t.server.core.sessions.get(Jid.parse(`judy@${host}/j3`)), `judy@${host}/j3 left ${t.server.core.cluster!.node}`);
      }
      await until(() => n.every((t) => !t.server.clusterSessions!.liveness.nodes.has('x4')), 'x4 left the nodes bucket');
    } finally {
      if (!stopped) await x4.stop();
    }
  });
});
