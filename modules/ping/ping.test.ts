// XEP-0199 over real sockets: the server answers pings, and pings quiet sessions itself (§4.2): a client
// that answers keeps its session, one that stops answering (or stops reading) loses it with
// connection-timeout and the account's messages go offline; a busy client is not pinged; timeout_action.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { Jid } from '../../src/core/jid.js';

const PING = /<iq[^>]*type=["']get["'][^>]*>\s*<ping xmlns=["']urn:xmpp:ping["']\/>\s*<\/iq>/;
const MODULES = { disco: {}, roster: {}, presence: {}, offline: {} };

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { ...MODULES, ping: { ping_interval: 1, ping_timeout: 1 } } });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = async (user: string, resource: string, server: TestServer = t) => (await RawClient.login(server.c2sPort, user, `pw-${user}`, resource)).c;
const bound = (user: string, server: TestServer = t) => server.server.core.sessions.resources(Jid.of(user, 'localhost')).map((s) => s.jid.resource);

/** Wait for the server's next ping and answer it (as every XMPP client does); returns the ping. */
async function answerPing(c: RawClient, timeoutMs = 5000): Promise<string> {
  const [ping] = await c.expect(PING, timeoutMs);
  const id = /id=["']([^"']+)["']/.exec(ping!)![1];
  c.send(`<iq type='result' id='${id}' to='localhost'/>`);
  return ping!;
}

test('the server answers pings to itself and to the account', async () => {
  const c = await login('alice', 'answers-pings');
  assertStanza(await c.iq('p1', "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"), { name: 'iq', attrs: { type: 'result', from: 'localhost' } });
  assertStanza(await c.iq('p2', "<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>"), { name: 'iq', attrs: { type: 'result' } });
  c.close();
});

test('a quiet client that answers the server\'s pings keeps its session; one that stops answering is closed with connection-timeout', async () => {
  const live = await login('alice', 'live');
  const dead = await login('bob', 'dead');
  // alice answers every ping until the end of the test, as a client does.
  let answered = 0;
  let stop = false;
  const responder = (async () => {
    while (!stop) {
      const ping = await answerPing(live, 60_000).catch(() => null);
      if (ping === null) return; // the connection ended (the test is over, or failed)
      assertStanza(ping, { name: 'iq', attrs: { type: 'get', from: 'localhost', to: 'alice@localhost/live', id: /^xmppd-/ }, children: [{ name: 'ping', ns: 'urn:xmpp:ping' }] });
      answered++;
    }
  })();
  // bob got a ping too and left it unanswered: the stream ends with connection-timeout.
  await dead.expect(PING);
  await dead.expect(/<stream:error><connection-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/, 5000);
  await dead.waitClosed();
  await until(() => bound('bob').length === 0, 'bob\'s session is gone');
  await until(() => answered >= 3, 'alice answered three pings');
  assert.deepEqual(bound('alice'), ['live'], 'the answering client is still bound');
  const pings = () => t.server.core.metrics.registry.getSingleMetricAsString('xmppd_c2s_pings_total');
  await until(async () => /\{host="localhost",outcome="answered"\} [3-9]\n/.test(await pings()), 'the answers are counted');
  assert.match(await pings(), /\{host="localhost",outcome="timeout"\} 1(\n|$)/, 'only bob\'s ping timed out');
  stop = true;
  live.close();
  await responder;
});

test('a client that stops reading loses its session, and the account\'s messages then go to the offline store', async () => {
  const stuck = await login('carol', 'stuck');
  stuck.socket.pause(); // a half-dead connection: nothing it is sent is read or answered
  await until(() => bound('carol').length === 0, 'the server ends the session', 10_000);
  const dave = await login('dave', 'd');
  dave.send("<message to='carol@localhost' type='chat' id='after'><body>are you there?</body></message>");
  const again = await login('carol', 'back');
  const [m] = await again.expect(/<message[^>]*id=["']after["'][\s\S]*?<\/message>/);
  assertStanza(m!, { name: 'message', attrs: { from: 'dave@localhost/d' }, has: [{ name: 'body', text: 'are you there?' }, { name: 'delay', ns: 'urn:xmpp:delay' }] });
  stuck.close(); dave.close(); again.close();
});

test('a client that keeps sending stanzas is not pinged', async () => {
  const busy = await login('dave', 'busy');
  // 2.5 intervals of traffic, every 200 ms; a ping would be the only stanza the server sends it unasked.
  const end = Date.now() + 2500;
  let n = 0;
  while (Date.now() < end) {
    await busy.iq(`b${++n}`, `<iq type='get' id='b${n}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.doesNotMatch(busy.buffer, PING);
  assert.ok(n >= 5);
  busy.close();
});

test('timeout_action none: an unanswered ping is counted, the session stays, and it is pinged again', async () => {
  const s = await startTestServer({ modules: { ...MODULES, ping: { ping_interval: 1, ping_timeout: 1, timeout_action: 'none' } } });
  try {
    await s.addUser('alice', 'pw-alice');
    const c = await login('alice', 'silent', s);
    await c.expect(PING);
    await c.expect(PING, 6000); // the first timed out (1 s), another interval passed, a second ping came
    assert.deepEqual(bound('alice', s), ['silent']);
    assert.match(await s.server.core.metrics.registry.getSingleMetricAsString('xmppd_c2s_pings_total'), /\{host="localhost",outcome="timeout"\} [1-9]/);
    c.close();
  } finally {
    await s.stop();
  }
});

test('ping options are validated with their YAML path', async () => {
  await assert.rejects(startTestServer({ modules: { ping: { ping_interval: -1 } } }), /modules\.ping\.ping_interval: must be at least 0/);
  await assert.rejects(startTestServer({ modules: { ping: { timeout_action: 'kill' } } }), /modules\.ping\.timeout_action: must be one of close, none/);
});
