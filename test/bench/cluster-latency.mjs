#!/usr/bin/env node
// Cross-node message latency in a cluster (issue 13): 3 NATS JetStream servers and 2 xmppd nodes (in this
// process, real sockets); alice on x1 sends bob chat messages one at a time, each timed from the write to
// alice's socket to its arrival on bob's socket: p50/p99 with bob on x2 (cross-node, one NATS request/reply)
// and with bob on x1 (same node), then P messages pipelined to bob on x2 and on x1 (messages/s).
// Build first (npx tsc -p tsconfig.json); `node test/bench/cluster-latency.mjs [N=1000] [P=N pipelined]`. A shared machine
// makes the figures indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { NatsCluster } = await import(new URL('test/support/nats-cluster.js', dist));
const { startNodes, seedUsers, sees } = await import(new URL('test/support/cluster-nodes.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));

const N = Number(process.argv[2] ?? 1000);
const P = Number(process.argv[3] ?? N); // pipelined count
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const nats = await NatsCluster.start(3);
// The c2s shaper (100 kB/s by default) would bound the pipelined figure: it is off, as in run-bench.js.
const nodes = await startNodes(nats, 2, undefined, undefined, {}, { limits: { c2s: { bytes_per_second: 0, stanzas_per_second: 0 } } });
try {
  await seedUsers(nodes, ['alice', 'bob'], [['alice', 'bob']], ['localhost']);
  const login = async (t, user, r) => {
    const { c } = await RawClient.login(t.c2sPort, user, `pw-${user}`, r);
    for (const o of nodes) await sees(o, `${user}@localhost/${r}`);
    return c;
  };
  const alice = await login(nodes[0], 'alice', 'a');
  const far = await login(nodes[1], 'bob', 'far');
  const near = await login(nodes[0], 'bob', 'near');

  const timed = async (bob, to, label) => {
    const lat = [];
    for (let i = 0; i < N + 50; i++) {
      const id = `${label}${i}`;
      const t0 = process.hrtime.bigint();
      alice.send(`<message to='${to}' type='chat' id='${id}'><body>ping ${i}</body></message>`);
      await bob.expect(new RegExp(`id=["']${id}["']`), 30_000);
      if (i >= 50) lat.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first 50 warm up
    }
    lat.sort((a, b) => a - b);
    console.log(`${label.padEnd(10)} ${N} messages one at a time: p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  max ${lat.at(-1).toFixed(2)} ms`);
  };
  await timed(far, 'bob@localhost/far', 'cross');
  await timed(near, 'bob@localhost/near', 'same');

  const pipelined = async (bob, to, label) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < P; i++) alice.send(`<message to='${to}' type='chat' id='${label}${i}'><body>burst ${i}</body></message>`);
    await bob.expect(new RegExp(`id=["']${label}${P - 1}["']`), 120_000);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`pipelined  ${P} messages ${label}: ${ms.toFixed(0)} ms, ${(P / (ms / 1000)).toFixed(0)} msg/s`);
  };
  await pipelined(far, 'bob@localhost/far', 'cross-node');
  await pipelined(near, 'bob@localhost/near', 'same-node');
  for (const c of [alice, far, near]) c.close();
} finally {
  for (const t of nodes) await t.stop();
  await nats.stop();
}
