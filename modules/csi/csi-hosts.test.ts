// XEP-0352 on two virtual hosts: each host's instance holds for its own sessions, and the counters and
// the inactive-sessions gauge carry the host whose client was inactive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../../test/support/harness.js';
import { roundTrip, session } from '../carbons/test-support.js';
import { counted, goInactive, label, upTo } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ ...TWO_HOSTS, modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, csi: {} } });
  await t.addUser('alice', 'pw-alice', 'example.test');
  for (const u of ['bob', 'carol']) await t.addUser(u, `pw-${u}`, 'localhost');
});
after(() => t.stop());

const chatState = (id: string, to: string) => `<message to='${to}' type='chat' id='${id}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`;

test('held and flushed stanzas are counted for the host of the inactive client', async () => {
  const base = async () => Promise.all(['example.test', 'localhost'].flatMap((h) => ['held', 'flushed'].map((e) => counted(t, e, h))));
  const [heldEx0, flushedEx0, heldLo0, flushedLo0] = await base();
  const alice = await session(t.c2sPort, 'alice', 'phone', { host: 'example.test' });
  const carol = await session(t.c2sPort, 'carol', 'phone');
  const bob = await session(t.c2sPort, 'bob', 'b');
  await goInactive(alice);
  await goInactive(carol);
  const gauge = await t.server.core.metrics.registry.getSingleMetricAsString('xmppd_csi_inactive_sessions');
  assert.match(gauge, /\{host="example\.test"\} 1(\n|$)/);
  assert.match(gauge, /\{host="localhost"\} 1(\n|$)/);

  // bob@localhost -> alice@example.test: held by example.test's instance.
  bob.send(chatState('h1', 'alice@example.test/phone'));
  bob.send(chatState('h2', 'alice@example.test/phone'));
  bob.send(chatState('h3', 'carol@localhost/phone'));
  await roundTrip(bob);
  assert.equal(alice.buffer + carol.buffer, '');
  bob.send("<message to='alice@example.test/phone' type='chat' id='u1'><body>across hosts</body></message>");
  assert.deepEqual((await upTo(alice, 'u1')).map(label), ['chatstate:bob@localhost/b:composing', 'chatstate:bob@localhost/b:composing', 'body:bob@localhost/b:across hosts']);

  const [heldEx, flushedEx, heldLo, flushedLo] = await base();
  assert.deepEqual([heldEx! - heldEx0!, flushedEx! - flushedEx0!], [2, 2], 'example.test held and flushed two');
  assert.deepEqual([heldLo! - heldLo0!, flushedLo! - flushedLo0!], [1, 0], 'localhost holds carol\'s one');
  for (const c of [alice, carol, bob]) c.close();
});
