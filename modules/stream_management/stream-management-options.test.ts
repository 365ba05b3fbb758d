// stream_management options that change behaviour: resume: false (acks only, a dropped connection ends
// the session at once) and max_unacked (past it the stream is closed; the messages go to offline storage).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { sync } from '../roster/test-support.js';
import { SM, bodies, enable, sessionOf, storedOffline } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { ping: {}, roster: {}, presence: {}, offline: {}, stream_management: { resume: false, max_unacked: 2, ack_after: 10 } } });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

test('resume: false — <enabled/> without an id, and a cut connection ends the session at once', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'noresume', { presence: false });
  assertStanza(await enable(c), { name: 'enabled', ns: SM, attrs: { id: null, resume: null, max: null } });
  c.close();
  await until(() => sessionOf(t, 'alice@localhost/noresume') === undefined, 'the session ended');
});

test('max_unacked: one stanza past it closes the stream; what was never acknowledged is stored offline', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'slow');
  await sync(c);
  await enable(c, '');
  const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'pc', { presence: false });
  for (const b of ['q1', 'q2', 'q3']) bob.send(`<message to='alice@localhost/slow' type='chat'><body>${b}</body></message>`);
  const rest = await c.waitClosed();
  assert.match(rest, /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  await until(() => sessionOf(t, 'alice@localhost/slow') === undefined, 'the session ended');
  await storedOffline(t, 'alice@localhost', 3);
  const { c: back } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'back');
  assert.deepEqual(bodies(await sync(back)), ['q1', 'q2', 'q3']);
  bob.close();
  back.close();
});

test('hand-back (XEP-0198 §5): an IQ the session never acknowledged is answered with service-unavailable; an error is never answered', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'iq', { presence: false });
  await enable(c, '');
  const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'asker', { presence: false });
  bob.send("<iq type='get' id='v1' to='alice@localhost/iq'><query xmlns='jabber:iq:version'/></iq>");
  bob.send("<message type='error' id='e1' to='alice@localhost/iq'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
  await c.expect(/id=["']e1["']/);
  c.close(); // resume: false here, so the session ends now
  const answer = (await bob.expect(/<iq[^>]*id=["']v1["'][\s\S]*?<\/iq>/))[0];
  assertStanza(answer, { name: 'iq', attrs: { type: 'error', from: 'alice@localhost/iq' }, has: [{ name: 'error', has: [{ name: 'service-unavailable', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }] });
  assert.doesNotMatch(await sync(bob), /<message/, 'no answer to the error message');
  bob.close();
});
