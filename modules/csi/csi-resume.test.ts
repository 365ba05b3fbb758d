// XEP-0352 with XEP-0198: a session that went inactive, lost its connection and was resumed starts active
// again (XEP-0352 §5.2): what the hold kept comes out after the stanzas resumption sends again, in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { login, sync } from '../roster/test-support.js';
import { Tally, cut, enable, resume, sessionOf } from '../stream_management/test-support.js';
import { goInactive } from './test-support.js';

const CHATSTATES = 'http://jabber.org/protocol/chatstates';
let t: TestServer;
before(async () => {
  t = await startTestServer({
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, csi: {}, stream_management: { max_resume_timeout: 60 } },
  });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

test('resumption releases the hold of an inactive session: unacknowledged stanzas first, then what was held', async () => {
  const bob = await login(t, 'bob', 'pc');
  const phone = await login(t, 'alice', 'phone');
  const tally = new Tally(phone.c);
  const previd = (await enable(phone.c)).attrs.id as string;
  await goInactive(phone.c);
  bob.c.send("<message to='alice@localhost/phone' type='chat' id='b1'><body>sent before the cut</body></message>");
  await phone.c.expect(/id=["']b1["']/);
  const h = tally.h;
  bob.c.send(`<message to='alice@localhost/phone' type='chat' id='cs1'><composing xmlns='${CHATSTATES}'/></message>`);
  await sync(bob.c);
  await cut(t, phone.c, 'alice@localhost/phone');
  assert.equal(sessionOf(t, 'alice@localhost/phone')?.detached, true);

  // The client acknowledges nothing of b1: it comes again, then the chat state the hold kept.
  const r = await resume(t.c2sPort, 'alice', previd, h - 1);
  assert.equal(r.answer.name, 'resumed');
  const got = await sync(r.c);
  const ids = [...got.matchAll(/<message\b[^>]*\bid=["']([^"']+)["']/g)].map((m) => m[1]);
  assert.deepEqual(ids, ['b1', 'cs1'], 'the unacknowledged message, then the held chat state, once each');

  // Active again: a new chat state is not held.
  bob.c.send(`<message to='alice@localhost/phone' type='chat' id='cs2'><paused xmlns='${CHATSTATES}'/></message>`);
  await r.c.expect(/id=["']cs2["']/);
  for (const c of [r.c, bob.c]) c.close();
});
