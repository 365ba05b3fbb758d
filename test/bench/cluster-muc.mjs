#!/usr/bin/env node
// Groupchat latency through a room held by another cluster node (issue 13): 3 NATS JetStream servers and 3 xmppd
// nodes in this process (real sockets). The room is held by x1; a message sent on x2 is timed until it reaches
// the sender's own echo and carol on x3 (x2 -> x1 request/reply, then x1 -> x2/x3 deliveries), against the same
// with every occupant on x1. p50/p99 over N messages one at a time, and the takeover pause after the holder goes.
// Build first (npx tsc -p tsconfig.json); `node test/bench/cluster-muc.mjs [N=300]`. A shared machine makes the
// figures indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { NatsCluster } = await import(new URL('test/support/nats-cluster.js', dist));
const { startNodes, sees, CLUSTER_MODULES } = await import(new URL('test/support/cluster-nodes.js', dist));
const { clusterAccounts } = await import(new URL('test/support/cluster-accounts.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));
const { createInstant, join } = await import(new URL('modules/muc/test-support.js', dist));

const N = Number(process.argv[2] ?? 300);
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ROOM = 'bench@conference.localhost';

const nats = await NatsCluster.start(3);
const nodes = await startNodes(nats, 3, undefined, { ...CLUSTER_MODULES, muc: {} });
try {
  await clusterAccounts(nodes, ['alice', 'bob', 'carol', 'dave', 'erin'], ['localhost']);
  const login = async (t, user, r) => {
    const { c } = await RawClient.login(t.c2sPort, user, `pw-${user}`, r);
    for (const o of nodes) await sees(o, `${user}@localhost/${r}`);
    return c;
  };
  const alice = await login(nodes[0], 'alice', 'a');
  await createInstant(alice, ROOM, 'Alice'); // held by x1
  const bob = await login(nodes[1], 'bob', 'b');
  const carol = await login(nodes[2], 'carol', 'c');
  const dave = await login(nodes[0], 'dave', 'd');
  const erin = await login(nodes[0], 'erin', 'e');
  for (const [c, nick] of [[bob, 'Bob'], [carol, 'Carol'], [dave, 'Dave'], [erin, 'Erin']]) await join(c, `${ROOM}/${nick}`);

  const timed = async (sender, receiver, label) => {
    const lat = [];
    for (let i = 0; i < N + 30; i++) {
      const id = `${label}${i}`;
      const t0 = process.hrtime.bigint();
      sender.send(`<message to='${ROOM}' type='groupchat' id='${id}'><body>m ${i}</body></message>`);
      await Promise.all([sender.expect(new RegExp(`id=["']${id}["']`), 30_000), receiver.expect(new RegExp(`id=["']${id}["']`), 30_000)]);
      if (i >= 30) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    lat.sort((a, b) => a - b);
    console.log(`${label.padEnd(12)} ${N} groupchat messages one at a time: p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms`);
  };
  await timed(bob, carol, 'cross-node');
  await timed(dave, erin, 'same-node');

  // The holder goes away (its NATS connection closes as a killed process's would): the next message from x2
  // finds no responder, x2 takes the room over (it comes back empty: the occupants rejoin).
  await nodes[0].server.placement.stop();
  await nodes[0].server.core.cluster.nc.close();
  const t0 = process.hrtime.bigint();
  bob.send(`<message to='${ROOM}' type='groupchat' id='after'><body>anyone?</body></message>`);
  await bob.expect(/id=["']after["']/, 30_000);
  console.log(`takeover    first answer from the new holder after the old one went: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);
  for (const c of [alice, bob, carol, dave, erin]) c.close();
} finally {
  for (const t of nodes) await t.stop().catch(() => undefined);
  await nats.stop();
}
