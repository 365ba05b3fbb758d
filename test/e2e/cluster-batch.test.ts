// Stanzas between cluster nodes go in batches (node-link.ts, link-batch.ts; issue 13): per-session order holds
// across batches with two senders interleaving (RFC 6120 §10.1), and a node killed while batches to it are in
// flight loses none of them: what did not reach its session goes to offline storage (RFC 6121 §8.5.3.2.1) and
// arrives at the next login on another node. On both virtual hosts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { startNodes, seedUsers, sees, clusterName, CLUSTER_MODULES, startProcessNode, type ProcessNode } from '../support/cluster-nodes.js';
import { HOSTS, type TestServer } from '../support/harness.js';
import { escapeRe } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { connect } from '@nats-io/transport-node';
import { Jid } from '../../src/core/jid.js';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The ids of the messages in `text` with the prefix `p`, in arrival order. */
function ids(text: string, p: string): number[] {
  const re = new RegExp(`<message\\b[^>]*\\bid=["']${escapeRe(p)}(\\d+)["']`, 'g');
  return [...text.matchAll(re)].map((m) => Number(m[1]));
}


describe('batched stanzas between cluster nodes', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  let n: TestServer[] = [];
  let name = '';
  let child: ProcessNode | null = null;
  const clients: RawClient[] = [];

  before(async () => {
    nats = await NatsCluster.start(3);
    name = clusterName();
    n = await startNodes(nats, 2, name);
    await seedUsers(n, USERS, [['alice', 'bob'], ['carol', 'bob'], ['dave', 'erin']]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await child?.dispose(); // first, as before: the other nodes then stop without waiting on it
    for (const t of n) await t.stop();
    await nats?.stop();
  });

  test('500 messages from each of two interleaving senders on one node arrive in order on another node', async () => {
    const COUNT = 500;
    for (const host of HOSTS) {
      const login = async (port: number, user: string, r: string): Promise<RawClient> => {
        const { c } = await RawClient.login(port, user, `pw-${user}`, r, { host });
        clients.push(c);
        for (const t of n) await sees(t, `${user}@${host}/${r}`);
        return c;
      };
      const bob = await login(n[1]!.c2sPort, 'bob', 'b1');
      const alice = await login(n[0]!.c2sPort, 'alice', 'a1');
      const carol = await login(n[0]!.c2sPort, 'carol', 'c1');
      const msg = (p: string, i: number) => `<message to='bob@${host}/b1' type='chat' id='${p}${i}'><body>${p} ${i}</body></message>`;
      // Chunks of different sizes from both senders, with event-loop turns between: many batches, both mixed.
      for (let a = 0, c = 0; a < COUNT || c < COUNT; await turn()) {
        for (const end = Math.min(COUNT, a + 37); a < end; a++) alice.send(msg('a-', a));
        for (const end = Math.min(COUNT, c + 23); c < end; c++) carol.send(msg('c-', c));
      }
      await until(() => ids(bob.buffer, 'a-').length === COUNT && ids(bob.buffer, 'c-').length === COUNT, `bob@${host} got every message`);
      const want = Array.from({ length: COUNT }, (_, i) => i);
      assert.deepEqual(ids(bob.buffer, 'a-'), want, "alice's messages in the order sent");
      assert.deepEqual(ids(bob.buffer, 'c-'), want, "carol's messages in the order sent");
      for (const c of [alice, carol]) assert.doesNotMatch(c.buffer, /type=["']error["']/);
    }
  });

  test('to a node of an earlier version (no batches in its heartbeat) each entry goes as its own request', async () => {
    const host = HOSTS[0];
    const link = n[0]!.server.clusterSessions!.link;
    const asked: string[] = [];
    link.batches = (node) => {
      asked.push(node);
      return false;
    };
    try {
      const { c: bob } = await RawClient.login(n[1]!.c2sPort, 'bob', 'pw-bob', 'old', { host });
      clients.push(bob);
      for (const t of n) await sees(t, `bob@${host}/old`);
      const { c: alice } = await RawClient.login(n[0]!.c2sPort, 'alice', 'pw-alice', 'a2', { host });
      clients.push(alice);
      for (let i = 0; i < 100; i++) alice.send(`<message to='bob@${host}/old' type='chat' id='o-${i}'><body>old ${i}</body></message>`);
      await until(() => ids(bob.buffer, 'o-').length === 100, `bob@${host}/old got every message`);
      assert.deepEqual(ids(bob.buffer, 'o-'), Array.from({ length: 100 }, (_, i) => i));
      assert.ok(asked.includes('x2'), 'the sender asked whether x2 takes batches');
    } finally {
      link.batches = () => true;
    }
  });

  test('a batch is answered only once its stanzas went through user_receive_packet on the receiving node', async () => {
    // The sender forgets a batch when it is answered: an answer sent before the delivery ran would lose
    // the stanzas if the receiving node died in between.
    for (const host of HOSTS) {
      const { c: bob } = await RawClient.login(n[1]!.c2sPort, 'bob', 'pw-bob', 'slow', { host });
      clients.push(bob);
      for (const t of n) await sees(t, `bob@${host}/slow`);
      const { c: alice } = await RawClient.login(n[0]!.c2sPort, 'alice', 'pw-alice', 'a3', { host });
      clients.push(alice);
      let delivered = 0;
      const off = n[1]!.server.core.hooks.on('user_receive_packet', async (el) => {
        if (el.attrs.id === 'slow-1') {
          await new Promise((r) => setTimeout(r, 300));
          delivered = Date.now();
        }
        return el;
      }, 50, 'test', host);
      // The answers to x1's requests, seen on the wire (a batch with no gone entry is answered {"ok":true}).
      const watch = await connect({ servers: nats.urls });
      const answers: number[] = [];
      watch.subscribe('_INBOX.>', { callback: (_e, m) => { if (m.string() === '{"ok":true}') answers.push(Date.now()); } });
      await watch.flush();
      try {
        // Alice's presence went to bob through x2 first: only the message's batch is answered from here on.
        await until(() => bob.buffer.includes(`from='alice@${host}/a3'`) || bob.buffer.includes(`from="alice@${host}/a3"`), `bob@${host} saw alice's presence`);
        await new Promise((r) => setTimeout(r, 100));
        answers.length = 0;
        alice.send(`<message to='bob@${host}/slow' type='chat' id='slow-1'><body>slow</body></message>`);
        await until(() => ids(bob.buffer, 'slow-').length === 1, `bob@${host}/slow got the message`);
        await until(() => answers.length > 0, 'x2 answered the batch');
        assert.ok(delivered > 0, 'the hook ran');
        assert.ok(answers[0]! >= delivered, `answered ${delivered - answers[0]!} ms before the hook let the stanza through`);
      } finally {
        off();
        await watch.close();
      }
    }
  });

  test('a user_receive_packet handler that never returns holds its own session, not the stanzas behind it to the node', async () => {
    const host = HOSTS[1];
    const { c: stuck } = await RawClient.login(n[1]!.c2sPort, 'bob', 'pw-bob', 'stuck', { host });
    const { c: fine } = await RawClient.login(n[1]!.c2sPort, 'bob', 'pw-bob', 'fine', { host });
    clients.push(stuck, fine);
    for (const t of n) for (const r of ['stuck', 'fine']) await sees(t, `bob@${host}/${r}`);
    const { c: alice } = await RawClient.login(n[0]!.c2sPort, 'alice', 'pw-alice', 'a4', { host });
    clients.push(alice);
    const off = n[1]!.server.core.hooks.on('user_receive_packet', (el) => (el.attrs.id === 'hang-1' ? new Promise<never>(() => {}) : el), 50, 'test', host);
    try {
      alice.send(`<message to='bob@${host}/stuck' type='chat' id='hang-1'><body>never</body></message>`);
      await new Promise((r) => setTimeout(r, 50)); // its own batch, in flight when the next message comes
      alice.send(`<message to='bob@${host}/fine' type='chat' id='after-1'><body>after</body></message>`);
      await until(() => ids(fine.buffer, 'after-').length === 1, `bob@${host}/fine got the message sent after the stuck one`, 15_000);
      assert.equal(ids(stuck.buffer, 'hang-').length, 0, 'the stuck stanza is still in its handler');
    } finally {
      off();
    }
  });

  test('a node killed while batches to it are in flight: every message reaches the session or offline storage', async () => {
    const COUNT = 300;
    child = await startProcessNode(nats, name, 'x3', CLUSTER_MODULES, n);
    await n[0]!.server.core.store.barrier();

    const erins = new Map<string, RawClient>();
    const daves = new Map<string, RawClient>();
    for (const host of HOSTS) {
      const { c: erin } = await RawClient.login(child.port, 'erin', 'pw-erin', 'e3', { host });
      clients.push(erin);
      erins.set(host, erin);
      for (const t of n) await sees(t, `erin@${host}/e3`);
      const { c: dave } = await RawClient.login(n[0]!.c2sPort, 'dave', 'pw-dave', 'd1', { host });
      clients.push(dave);
      daves.set(host, dave);
    }
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        for (const host of HOSTS) daves.get(host)!.send(`<message to='erin@${host}/e3' type='chat' id='k-${i}'><body>kill ${i}</body></message>`);
        if (i % 20 === 19) await turn();
      }
    };
    // Half are written, and x1 has begun sending them to x3, when x3 is killed; the rest follow at once.
    await send(0, COUNT / 2);
    await until(() => HOSTS.some((h) => ids(erins.get(h)!.buffer, 'k-').length > 0), 'the first messages reached x3');
    child.proc.kill('SIGKILL');
    await child.exited;
    await send(COUNT / 2, COUNT);

    for (const host of HOSTS) {
      const erin = erins.get(host)!;
      await until(() => erin.closed, `erin@${host}/e3 lost its node`);
      const before = new Set(ids(erin.buffer, 'k-'));
      // After x3 is found dead, erin logs in on x2: what did not reach e3 comes from offline storage.
      for (const t of n) await until(() => !t.server.core.sessions.get(Jid.parse(`erin@${host}/e3`)), `erin@${host}/e3 left ${t.server.core.cluster!.node}`, 30_000);
      const { c: again } = await RawClient.login(n[1]!.c2sPort, 'erin', 'pw-erin', 'e4', { host });
      clients.push(again);
      const missing = (): number[] => {
        const got = new Set([...before, ...ids(again.buffer, 'k-')]);
        return Array.from({ length: COUNT }, (_, i) => i).filter((i) => !got.has(i));
      };
      await until(() => missing().length === 0, `every message reached erin@${host}`, 30_000).catch(() => {
        assert.deepEqual(missing(), [], `messages lost for erin@${host} (${before.size} reached e3 before the kill)`);
      });
      assert.ok(before.size < COUNT, 'some messages were still on their way when x3 died');
      assert.doesNotMatch(daves.get(host)!.buffer, /type=["']error["']/, 'nothing bounced to the sender');
    }
  });
});
