// A server that stops while a session waits to be resumed: the session ends with the server and its
// unacknowledged messages are in offline storage after the restart (never dropped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { sync } from '../roster/test-support.js';
import { bodies, cut, enable } from './test-support.js';

const MODULES = { modules: { roster: {}, presence: {}, offline: {}, ping: {}, stream_management: {} } };

test('stopped while a session waits to be resumed: its unacknowledged messages are offline after the restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-sm-restart-'));
  try {
    const t = await startTestServer(MODULES, { dir });
    await t.addUser('alice', 'pw-alice');
    await t.addUser('bob', 'pw-bob');
    const { c: phone } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'phone');
    await sync(phone);
    await enable(phone);
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'pc', { presence: false });
    bob.send("<message to='alice@localhost/phone' type='chat'><body>kept-1</body></message>");
    await phone.expect(/kept-1<\/body>/);
    await cut(t, phone, 'alice@localhost/phone');
    bob.send("<message to='alice@localhost/phone' type='chat'><body>kept-2</body></message>");
    await sync(bob);
    bob.close();
    await t.stop();

    const again = await startTestServer(MODULES, { dir });
    try {
      const { c } = await RawClient.login(again.c2sPort, 'alice', 'pw-alice', 'back');
      assert.deepEqual(bodies(await sync(c)), ['kept-1', 'kept-2']);
      c.close();
    } finally {
      await again.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
