// A graceful shutdown (system-shutdown, RFC 6120 §4.9.3.19) lets the sessions it ends finish their
// end-of-session writes (here XEP-0012 last activity) before the modules stop and the store closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';

test('sessions ended by a shutdown still record their last activity, which alice reads after the restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-shutdown-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await startTestServer({}, { dir });
  await first.addUser('alice', 'pw-alice');
  const online = await Promise.all(['a', 'b', 'c'].map((r) => RawClient.login(first.c2sPort, 'alice', 'pw-alice', r)));
  await Promise.all(online.map(({ c }) => c.iq('ping', "<iq type='get' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>")));
  await first.stop();
  for (const { c } of online) c.close();

  const second = await startTestServer({}, { dir });
  t.after(() => second.stop());
  // no initial presence: with an available resource the answer would be 0 seconds, not the stored row
  const { c } = await RawClient.login(second.c2sPort, 'alice', 'pw-alice', 'after', { presence: false });
  const answer = await c.iq('last', "<iq type='get' id='last' to='alice@localhost'><query xmlns='jabber:iq:last'/></iq>");
  assert.match(answer, /type=["']result["']/, `last activity was not recorded at shutdown: ${answer}`);
  assert.match(answer, /<query xmlns=["']jabber:iq:last["'] seconds=["']\d+["']/);
  c.close();
});
