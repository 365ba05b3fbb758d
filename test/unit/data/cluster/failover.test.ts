// Replicas under NATS server failures (DESIGN.md "Data layer"): kill -9 the stream leader, a follower and the
// server holding a node's consumer while two nodes write; every acknowledged transaction is on both nodes
// afterwards and apply resumes (the consumer is recreated). Also reports latency, lag and the failover stall.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsCluster, natsSkip } from '../../../support/nats-cluster.js';
import { until } from '../../../support/until.js';
import { Nodes, type TestNode } from './replica-support.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

describe('replicas through NATS server failures', { skip: natsSkip() }, () => {
  let nats: NatsCluster;
  before(async () => { nats = await NatsCluster.start(3); });
  after(async () => { await nats?.stop(); });

  test('every acknowledged transact() survives killing the leader, a follower and the consumer host', async (t) => {
    const nodes = new Nodes(nats, 'fail');
    const cleanups: Array<() => Promise<unknown>> = [];
    try {
      const a = await nodes.open('a');
      const b = await nodes.open('b');
      const jsm = a.replica.jsm;
      const stream = a.replica.names.stream;
      // The test watches the stream through one connection per server, asking whichever answers: a restarted
      // server answers JetStream requests only once it has rejoined.
      const monitors = await Promise.all(nats.urls.map((url) => connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 })));
      cleanups.push(() => Promise.all(monitors.map((m) => m.close())));
      const info = async () => {
        let last: unknown;
        for (const m of monitors) {
          try {
            return await (await jetstreamManager(m, { timeout: 2000 })).streams.info(stream);
          } catch (err) { last = err; }
        }
        throw last;
      };
      let lastSeen = '';
      const healthy = async () => {
        const si = await info().catch((err: Error) => { lastSeen = err.message; return null; });
        if (si !== null) lastSeen = JSON.stringify(si.cluster);
        return si !== null && si.cluster?.leader !== undefined && (si.cluster.replicas ?? []).length === 2 && si.cluster.replicas!.every((r) => r.current);
      };
      const backToThree = () => until(healthy, 'the stream has its three replicas again', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; last seen: ${lastSeen}`);
      });

      // Sequential latency of one writer with 3 replicas.
      const seqLat: number[] = [];
      for (let i = 0; i < 150; i++) {
        const t0 = performance.now();
        await a.store.transact([{ type: 'put', table: 'kv', key: `seq${i}`, value: i }]);
        seqLat.push(performance.now() - t0);
      }
      t.diagnostic(`transact latency, 1 writer, R3: p50 ${ms(pct(seqLat, 50))}, p99 ${ms(pct(seqLat, 99))}`);

      const acked = new Set<string>();
      const errors: string[] = [];
      const lat: number[] = [];
      let ackTimes: number[] = [];
      let maxSeq = 0;
      let running = true;
      const writer = async (n: TestNode, w: number) => {
        for (let i = 0; running; i++) {
          const key = `${n.name}-${w}-${i}`;
          const t0 = performance.now();
          try {
            const r = await n.store.transact([{ type: 'put', table: 'kv', key, value: i }]);
            if (r.ok) acked.add(key);
            if (r.seq > maxSeq) maxSeq = r.seq;
            lat.push(performance.now() - t0);
            ackTimes.push(Date.now());
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      };
      const writers = [a, a, b, b].map((n, i) => writer(n, i));
      const lags: number[] = [];
      const sampler = setInterval(() => { for (const n of [a, b]) lags.push(Math.max(0, maxSeq - n.store.lastApplied())); }, 20);
      const progress = async (what: string, more = 30) => {
        if (process.env.XMPPD_TEST_CLUSTER_LOG) console.error(new Date().toISOString(), 'phase', what, acked.size, a.store.lastApplied(), b.store.lastApplied());
        const target = acked.size + more;
        await until(() => acked.size >= target, what, 60_000);
      };
      try {
        await progress('steady load', 200);
        t.diagnostic(`transact latency, 4 concurrent writers on 2 nodes, R3: p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}`);
        t.diagnostic(`apply lag under that load (entries behind the highest acknowledged seq): p50 ${pct(lags, 50)}, p99 ${pct(lags, 99)}, max ${Math.max(...lags)}`);

        // 1. The stream leader.
        const leader = (await info()).cluster!.leader!;
        ackTimes = [];
        const killedAt = Date.now();
        await nats.kill(nats.indexOf(leader));
        await progress('writes after the leader was killed');
        const firstAfter = ackTimes.find((x) => x > killedAt) ?? NaN;
        let stall = 0;
        for (let i = 1; i < ackTimes.length; i++) stall = Math.max(stall, ackTimes[i]! - ackTimes[i - 1]!);
        t.diagnostic(`leader ${leader} killed: first ack after ${firstAfter - killedAt} ms, longest gap between acks ${stall} ms`);
        await nats.startServer(nats.indexOf(leader));
        await backToThree();

        // 2. A follower.
        const follower = (await info()).cluster!.replicas![0]!.name;
        await nats.kill(nats.indexOf(follower));
        await progress('writes after a follower was killed');
        await nats.startServer(nats.indexOf(follower));
        await backToThree();

        // 3. The server holding b's consumer: b must get a new consumer and go on applying.
        // How long b may be without a consumer: it notices a lost one within 2 s (two missed 1 s consumer
        // heartbeats, or the watchdog: stallMs 2 s + tickMs); if the killed server led the JetStream meta group,
        // no consumer is created before its election (4-9 s on 2.9), and each create attempt is abandoned after
        // 5 s and retried within 2 s: seen up to ~30 s on a loaded 2-core machine.
        const NEW_CONSUMER_MS = 60_000;
        // (b may be between two consumers, and its previous one may still answer: ask until b has one, and
        // it is still the same once its server is known.)
        const { host, recreated } = (await until(async () => {
          const name = b.replica.log.consumerName();
          const before = b.replica.log.recreatedTotal;
          if (name === undefined) return null;
          const ci = await jsm.consumers.info(stream, name).catch(() => null);
          const leader = ci?.cluster?.leader;
          const same = b.replica.log.consumerName() === name && b.replica.log.recreatedTotal === before;
          return leader !== undefined && same ? { host: leader, recreated: before } : null;
        }, 'b\'s consumer and its server', NEW_CONSUMER_MS))!;
        await nats.kill(nats.indexOf(host));
        const seqAtKill = maxSeq;
        // recreatedTotal counts any replacement consumer, whichever path ended the old one.
        await until(() => b.replica.log.recreatedTotal > recreated && b.store.lastApplied() > seqAtKill + 20, 'b applies again on a new consumer', NEW_CONSUMER_MS);
        t.diagnostic(`consumer host ${host} killed: b recreated its consumer ${b.replica.log.recreatedTotal - recreated} time(s)`);

        await nats.startServer(nats.indexOf(host));
        await backToThree();
        await progress('writes after the consumer host came back');
      } finally {
        for (const l of b.logs.filter((x) => !/tick failed/.test(x.msg))) t.diagnostic(`b ${l.level}: ${l.msg} ${JSON.stringify(l.fields)}`);
        running = false;
        clearInterval(sampler);
        await Promise.all(writers);
      }
      await a.store.barrier();
      await b.store.barrier();
      assert.equal(a.store.lastApplied(), b.store.lastApplied());
      const keys = [...acked];
      for (const n of [a, b]) {
        const rows = await n.store.table('kv').getMany(keys);
        const missing = keys.filter((_, i) => rows[i] === undefined);
        assert.deepEqual(missing, [], `every acknowledged write is on ${n.name}`);
      }
      t.diagnostic(`${acked.size} acknowledged writes, ${errors.length} failed: ${[...new Set(errors)].slice(0, 3).join(' | ')}`);
    } finally {
      await nodes.cleanup();
      for (const c of cleanups) await c();
    }
  });
});
