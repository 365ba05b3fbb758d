// XEP-0198 on the second of two virtual hosts (metrics labelled with the host), and a connection the
// server times out (c2s_idle_timeout, connection-timeout): the session waits to be resumed, as on a drop;
// <r/> on the request_interval timer while fewer than ack_after stanzas wait.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { SM, cut, enable, resume, sessionOf } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ ...TWO_HOSTS, c2s_idle_timeout: 2, modules: { roster: {}, presence: {}, offline: {}, stream_management: { request_interval: 1 } } });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`, 'example.test');
  await t.addUser('carol', 'pw-carol');
});
after(() => t.stop());

/** Events of xmppd_sm_events_total for one host, as { event: count }. */
async function events(host: string): Promise<Record<string, number>> {
  const m = await t.server.core.metrics.registry.getSingleMetric('xmppd_sm_events_total')!.get();
  return Object.fromEntries(m.values.filter((v) => v.labels.host === host).map((v) => [v.labels.event as string, v.value]));
}

test('on example.test: enable, a cut connection resumed, metrics labelled with the host', async () => {
  const host = 'example.test';
  const { c: phone } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'phone', { host });
  const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'pc', { host });
  const id = (await enable(phone)).attrs.id as string;
  await cut(t, phone, 'alice@example.test/phone');
  bob.send("<message to='alice@example.test/phone' type='chat'><body>while away</body></message>");
  const r = await resume(t.c2sPort, 'alice', id, 0, host);
  assertStanza(r.answer, { name: 'resumed', ns: SM, attrs: { previd: id, h: '0' } });
  await r.c.expect(/while away<\/body>/);
  const ping = await r.c.iq('p', "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
  assertStanza(ping, { name: 'iq', attrs: { type: 'error', to: 'alice@example.test/phone' } }); // no ping module: service-unavailable, but to the same JID
  const mine = await events(host);
  assert.equal(mine.enabled, 1);
  assert.equal(mine.detached, 1);
  assert.equal(mine.resumed, 1);
  assert.equal((await events('localhost')).resumed ?? 0, 0, 'nothing counted for the other host');
  r.c.send('</stream:stream>');
  await until(() => sessionOf(t, 'alice@example.test/phone') === undefined, 'session ended');
  for (const c of [bob, r.c]) c.close();
});

test('a connection the server times out (connection-timeout) keeps its session for resumption', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'carol', 'pw-carol', 'idle');
  const id = (await enable(c)).attrs.id as string;
  assert.match(await c.waitClosed(5000), /<connection-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  await until(() => sessionOf(t, 'carol@localhost/idle')?.detached === true, 'the session is detached');
  const r = await resume(t.c2sPort, 'carol', id, 0);
  assertStanza(r.answer, { name: 'resumed', ns: SM, attrs: { previd: id } });
  assert.equal(sessionOf(t, 'carol@localhost/idle')?.detached, false);
  // Idle again on the new stream: detached again, not ended.
  await r.c.waitClosed(5000);
  await until(() => sessionOf(t, 'carol@localhost/idle')?.detached === true, 'detached again');
});

test('request_interval: one unacknowledged stanza (below ack_after) gets an <r/> on the timer; none once acknowledged', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'timer', { host: 'example.test', presence: false });
  await enable(c, '');
  await c.iq('p1', "<iq type='get' id='p1' to='example.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  await c.expect(/<r xmlns=["']urn:xmpp:sm:3["']\/>/, 3000);
  c.send(`<a xmlns='${SM}' h='1'/>`);
  c.send(`<r xmlns='${SM}'/>`);
  assertStanza((await c.expect(/<a [^>]*\/>/))[0], { name: 'a', ns: SM, attrs: { h: '1' } });
  await new Promise((r) => setTimeout(r, 1500)); // more than one request_interval with nothing unacknowledged
  assert.doesNotMatch(c.buffer, /<r /, 'nothing waits: no request');
  c.close();
});
