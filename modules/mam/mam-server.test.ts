// XEP-0313 on the server JID, as ejabberd serves it: urn:xmpp:mam:2 in the server's disco#info (where
// Profanity 0.13 looks for it) and a query sent to the server searching the requester's own archive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { bodies, query } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, mam: {} } });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

test('the server’s disco#info lists urn:xmpp:mam:2; a query to the server returns alice’s own archive', async () => {
  const { c: a } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'laptop');
  const { c: b } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'phone');
  try {
    const info = await a.iq('d1', `<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(info, /<feature var=["']urn:xmpp:mam:2["']\/>/);
    a.send(`<message type='chat' to='bob@localhost' id='m1'><body>hello archive</body></message>`);
    await b.expect(/hello archive/);
    const toServer = await query(a, '', 'localhost');
    assert.deepEqual(bodies(toServer), ['hello archive']);
    assert.match(toServer.fin, /from=["']localhost["']/);
    assert.deepEqual(bodies(await query(b, '', 'localhost')), ['hello archive'], 'bob gets his own copy, not alice’s archive');
  } finally {
    a.close();
    b.close();
  }
});
