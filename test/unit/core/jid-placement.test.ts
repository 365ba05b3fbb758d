// One node per bare JID of a sharded service domain (src/core/cluster/jid-placement.ts, issue 13) over a real
// 3-server NATS JetStream cluster: the first node to see a JID claims it, the others forward to it, a node
// gone from NATS or declared dead is taken over, and the node that lost a JID releases it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import xml, { type Element } from '@xmpp/xml';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { NatsCluster, natsSkip } from '../../support/nats-cluster.js';
import { until } from '../../support/until.js';
import { JidPlacement } from '../../../src/core/cluster/jid-placement.js';
import { Jid } from '../../../src/core/jid.js';
import { Logger } from '../../../src/core/log.js';
import type { ServiceEntry } from '../../../src/core/router.js';

const DOMAIN = 'conference.localhost';

/** One fake node: its placement and what its module saw. */
interface FakeNode {
  name: string;
  nc: NatsConnection;
  placement: JidPlacement;
  entry: ServiceEntry;
  handled: Array<{ from: string; to: string; body: string }>;
  acquired: string[];
  released: string[];
  rooms: Set<string>;
  dead: Set<string>;
  /** The module is not running on this node (unloaded). */
  unloaded: boolean;
  /** Nodes still heard from (heartbeats): a holder among them that does not answer is waited for. */
  heard: Set<string>;
}

async function node(cluster: NatsCluster, name: string, clusterName: string, recheckMs = 60_000): Promise<FakeNode> {
  const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const n = { name, nc, handled: [], acquired: [], released: [], rooms: new Set<string>(), dead: new Set<string>(), heard: new Set<string>() } as unknown as FakeNode;
  n.entry = {
    domain: DOMAIN, host: 'localhost', placement: 'one-node-per-jid',
    handle: async (el: Element, from: Jid, to: Jid) => {
      n.handled.push({ from: from.toString(), to: to.toString(), body: el.getChildText('body') ?? '' });
      if (el.attrs.type !== 'probe') n.rooms.add(to.local);
    },
    acquire: async (bare) => void n.acquired.push(bare.toString()),
    release: (bare) => {
      n.released.push(bare.toString());
      n.rooms.delete(bare.local);
    },
    holds: (bare) => n.rooms.has(bare.local),
  };
  n.placement = await JidPlacement.start({
    nc, cluster: clusterName, node: name, replicas: 3, recheckMs,
    entry: (d) => (d === DOMAIN && !n.unloaded ? n.entry : undefined), alive: (x) => !n.dead.has(x), mayWait: (x) => n.heard.has(x), log: new Logger('silent'),
  });
  return n;
}

const msg = (body: string, type = 'groupchat'): Element => xml('message', { type }, xml('body', {}, body));
const send = (n: FakeNode, room: string, body: string, type?: string) =>
  n.placement.route(n.entry, msg(body, type), Jid.parse(`alice@localhost/${n.name}`), Jid.parse(`${room}@${DOMAIN}/nick`));

describe('JidPlacement: one node per room over NATS', { skip: natsSkip() }, () => {
  let cluster: NatsCluster;
  const nodes: FakeNode[] = [];
  let n = 0;
  const fresh = () => `t${++n}`; // a cluster name per test: buckets and subjects never mix

  before(async () => {
    cluster = await NatsCluster.start(3);
  });
  after(async () => {
    for (const x of nodes) {
      await x.placement.stop().catch(() => undefined);
      await x.nc.close().catch(() => undefined);
    }
    await cluster?.stop();
  });
  const start = async (name: string, cn: string, recheckMs?: number) => {
    const x = await node(cluster, name, cn, recheckMs);
    nodes.push(x);
    return x;
  };

  it('the first node claims a room; stanzas sent on another node are handled there, in order, with from and to', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room1', 'one');
    await send(b, 'room1', 'two');
    await send(b, 'room1', 'three');
    assert.deepEqual(a.handled.map((h) => h.body), ['one', 'two', 'three']);
    assert.equal(b.handled.length, 0);
    assert.deepEqual(a.handled[1], { from: 'alice@localhost/b', to: `room1@${DOMAIN}/nick`, body: 'two' });
    assert.deepEqual(a.acquired, [`room1@${DOMAIN}`], 'the holder loads the room once');
    // Another room goes to whoever sees it first.
    await send(b, 'room2', 'x');
    assert.equal(b.handled.at(-1)?.body, 'x');
  });

  it('a holder gone from NATS (no responders) is taken over: the new holder loads the room fresh', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room', 'before');
    await a.placement.stop();
    await a.nc.close(); // as a killed process: its subscription is gone
    await send(b, 'room', 'after');
    assert.deepEqual(b.handled.map((h) => h.body), ['after']);
    assert.deepEqual(b.acquired, [`room@${DOMAIN}`]);
    // A third node sees b as the holder now.
    const c = await start('c', cn);
    await send(c, 'room', 'from c');
    assert.deepEqual(b.handled.map((h) => h.body), ['after', 'from c']);
    assert.equal(c.handled.length, 0);
  });

  it('a node restarted under the same name loads the rooms it still holds when their stanzas come', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room', 'before');
    await a.placement.stop(); // restarted quickly: the others have not taken anything over
    await a.nc.close();
    b.heard.add('a'); // its heartbeats go on: b waits for it while its subscription reaches every NATS server
    const again = await start('a', cn);
    await send(b, 'room', 'after');
    assert.deepEqual(again.handled.map((h) => h.body), ['after']);
    assert.deepEqual(again.acquired, [`room@${DOMAIN}`], 'loaded fresh, not served from nothing');
    assert.equal(b.handled.length, 0);
  });

  it('a holder that does not answer but is still heard from is waited for, not taken over (a NATS failover)', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room', 'before');
    b.heard.add('a');
    await a.placement.stop(); // its subscription is gone while it reconnects
    await a.nc.close();
    const sent = send(b, 'room', 'during');
    const back = await start('a', cn); // back on NATS, under its name
    await sent;
    assert.deepEqual(back.handled.map((h) => h.body), ['during']);
    assert.equal(b.handled.length, 0, 'b did not take the room');
    // Once its heartbeats stop, b takes over.
    await back.placement.stop();
    await back.nc.close();
    b.heard.delete('a');
    await send(b, 'room', 'after');
    assert.deepEqual(b.handled.map((h) => h.body), ['after']);
  });

  it('a holder declared dead by liveness is taken over while still connected, and releases the room', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room', 'on a');
    b.dead.add('a'); // its heartbeats stopped reaching b (a partition)
    await send(b, 'room', 'on b');
    assert.deepEqual(b.handled.map((h) => h.body), ['on b']);
    await until(() => a.released.length === 1, 'a releases the room it lost');
    assert.deepEqual(a.released, [`room@${DOMAIN}`]);
    // a serves it no more: what it receives now goes to b.
    await send(a, 'room', 'sent on a');
    assert.deepEqual(a.handled.map((h) => h.body), ['on a']);
    assert.deepEqual(b.handled.map((h) => h.body), ['on b', 'sent on a']);
  });

  it('a watch that stops delivering is recreated, and the room taken over meanwhile is released', async () => {
    const cn = fresh();
    const a = await start('a', cn, 200);
    const b = await start('b', cn);
    await send(a, 'room', 'on a');
    // As when the consumer behind a's watch dies with its NATS server: nothing reaches a's mirror any more.
    (a.placement as unknown as { stopWatch: () => void }).stopWatch();
    b.dead.add('a');
    await send(b, 'room', 'on b');
    await until(() => a.released.length === 1, 'a notices (its own beat is missing), watches again and releases the room');
    await send(a, 'room', 'sent on a');
    assert.deepEqual(b.handled.map((h) => h.body), ['on b', 'sent on a']);
  });

  it('a holder whose module no longer serves the domain is taken over', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'room', 'on a');
    a.unloaded = true;
    await send(b, 'room', 'on b');
    assert.deepEqual(b.handled.map((h) => h.body), ['on b']);
    assert.deepEqual(b.acquired, [`room@${DOMAIN}`]);
  });

  it('a room the module does not keep is not claimed any longer: the next node to see it hosts it', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await send(a, 'ghost', 'probe', 'probe'); // handled, but nothing kept (no such room)
    assert.equal(a.handled.length, 1);
    const kv = await new Kvm(a.nc).open(`${cn}_placement`);
    const key = Buffer.from(`ghost@${DOMAIN}`).toString('base64url');
    const e = await kv.get(key);
    assert.ok(!e || e.operation !== 'PUT', 'the claim is gone');
    await send(b, 'ghost', 'made');
    assert.deepEqual(b.handled.map((h) => h.body), ['made']);
    assert.equal(a.handled.length, 1);
  });

  it('two nodes claiming one room at once end with one holder', async () => {
    const cn = fresh();
    const a = await start('a', cn);
    const b = await start('b', cn);
    await Promise.all([send(a, 'race', 'a1'), send(b, 'race', 'b1'), send(a, 'race', 'a2'), send(b, 'race', 'b2')]);
    const holders = [a, b].filter((x) => x.handled.length > 0);
    assert.equal(holders.length, 1, 'every stanza handled by one node');
    assert.equal(holders[0]!.handled.length, 4);
    assert.equal(holders[0]!.acquired.length, 1);
  });
});
