// XEP-0280 on a second virtual host: copies come from the account on that host, the archive's stanza-id
// inside a copy names that account, a message between the two hosts is copied on each side, and the
// copy counters carry the host whose users got them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../../test/support/harness.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { messagesBefore, roundTrip, session } from './test-support.js';

const NS = 'urn:xmpp:carbons:2';
let t: TestServer;
before(async () => {
  t = await startTestServer({ ...TWO_HOSTS, modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, mam: {}, carbons: {} } });
  await t.addUser('alice', 'pw-alice', 'example.test');
  await t.addUser('bob', 'pw-bob', 'localhost');
});
after(() => t.stop());

test('carbons on example.test: copies from alice@example.test, stanza-ids by alice@example.test, counted for example.test', async () => {
  const host = 'example.test';
  const a1 = await session(t.c2sPort, 'alice', 'a1', { host, priority: 1, carbons: true });
  const a2 = await session(t.c2sPort, 'alice', 'a2', { host, priority: 0, carbons: true });
  const b1 = await session(t.c2sPort, 'bob', 'b1', { carbons: true });
  const b2 = await session(t.c2sPort, 'bob', 'b2', { carbons: true });
  for (const c of [a1, a2, b1, b2]) await messagesBefore(c);
  // Carbons are a matter between a client and its own server host: not another host of this server.
  assert.match(await b1.iq('xh', "<iq type='set' id='xh' to='example.test'><enable xmlns='urn:xmpp:carbons:2'/></iq>"), /<not-allowed xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);

  // bob@localhost -> alice@example.test (bare): a1 (priority 1) gets it, a2 a <received/> copy; bob's b2 a <sent/> copy.
  b1.send("<message to='alice@example.test' type='chat' id='x1'><body>across hosts</body></message>");
  await roundTrip(b1);
  const [g1, g2, gb2] = await Promise.all([a1, a2, b2].map(messagesBefore));
  assert.equal(g1!.length, 1);
  const stampedFor = (owner: string) => ({ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: owner, id: /.+/ } });
  assertStanza(g1![0]!, { name: 'message', attrs: { from: 'bob@localhost/b1', to: 'alice@example.test', id: 'x1' }, has: [stampedFor('alice@example.test')] });
  assert.equal(g2!.length, 1);
  assertStanza(g2![0]!, {
    name: 'message', attrs: { from: 'alice@example.test', to: 'alice@example.test/a2', type: 'chat' },
    children: [{ name: 'received', ns: NS, children: [{ name: 'forwarded', ns: 'urn:xmpp:forward:0', children: [
      { name: 'message', ns: 'jabber:client', attrs: { from: 'bob@localhost/b1', id: 'x1' }, has: [stampedFor('alice@example.test')], without: [stampedFor('bob@localhost')] },
    ] }] }],
  });
  assert.equal(gb2!.length, 1);
  assertStanza(gb2![0]!, { name: 'message', attrs: { from: 'bob@localhost', to: 'bob@localhost/b2' }, has: [{ name: 'sent', ns: NS }] });

  // alice@example.test/a2 -> bob/b1: a1 gets a <sent/> copy from alice@example.test, b2 a <received/> copy from bob@localhost.
  a2.send("<message to='bob@localhost/b1' type='chat' id='x2'><body>back</body></message>");
  await roundTrip(a2);
  const [h1, hb2] = await Promise.all([a1, b2].map(messagesBefore));
  assert.equal(h1!.length, 1);
  assertStanza(h1![0]!, { name: 'message', attrs: { from: 'alice@example.test', to: 'alice@example.test/a1' }, has: [{ name: 'sent', ns: NS }] });
  assert.equal(hb2!.length, 1);
  assertStanza(hb2![0]!, { name: 'message', attrs: { from: 'bob@localhost', to: 'bob@localhost/b2' }, has: [{ name: 'received', ns: NS }] });

  const counted = await t.server.core.metrics.registry.getSingleMetricAsString('xmppd_carbons_copies_total');
  assert.match(counted, /\{host="example\.test",direction="received"\} 1\n/);
  assert.match(counted, /\{host="example\.test",direction="sent"\} 1(\n|$)/);
  assert.match(counted, /\{host="localhost",direction="sent"\} 1(\n|$)/, 'bob\'s copies count for localhost');
  assert.match(counted, /\{host="localhost",direction="received"\} 1(\n|$)/);
  for (const c of [a1, a2, b1, b2]) c.close();
});
