// XEP-0357 on two virtual hosts: a registration belongs to its host's account, the notification comes from the
// account on that host, and the counters carry the host whose account was notified.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { Jid } from '../../src/sdk.js';
import { APP_SECRET, AppServer, enable, pushIq, summaryOf } from './test-support.js';

const APP = 'push.localhost';
let t: TestServer;
let app: AppServer;
before(async () => {
  t = await startTestServer({
    ...TWO_HOSTS,
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'component' }],
    components: { [APP]: { secret: APP_SECRET } },
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, push: { min_interval: 0 } },
  });
  await t.addUser('alice', 'pw-alice', 'example.test');
  await t.addUser('alice', 'pw-alice', 'localhost');
  await t.addUser('bob', 'pw-bob', 'localhost');
  app = await AppServer.connect(t.server.listeners.bound.find((l) => l.type === 'component')!.port, APP);
});
after(async () => {
  app.c.close();
  await t.stop();
});

test('alice@example.test is notified from alice@example.test; counted for example.test; alice@localhost has no registration', async () => {
  const a = (await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'r', { host: 'example.test' })).c;
  assert.match(await pushIq(a, enable(APP, 'et')), /type=["']result["']/);
  a.close();
  await until(() => t.server.core.sessions.resources(Jid.parse('alice@example.test')).length === 0, 'alice@example.test offline');
  const bob = (await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'b')).c;
  bob.send("<message to='alice@localhost' type='chat'><body>same name, other host</body></message>");
  bob.send("<message to='alice@example.test' type='chat'><body>across hosts</body></message>");
  const iq = await app.nextPublish();
  assert.equal(iq.attrs.from, 'alice@example.test');
  assert.equal(summaryOf(iq).node, 'et');
  assert.equal(summaryOf(iq).fields['last-message-sender'], 'bob@localhost/b');
  await app.nothingWithin(300); // alice@localhost enabled nothing
  const counted = await until(async () => {
    const m = await t.server.core.metrics.registry.getSingleMetricAsString('xmppd_push_notifications_total');
    return /\{host="example\.test",result="sent"\} 1(\n|$)/.test(m) ? m : '';
  }, 'the notification counted for example.test');
  assert.doesNotMatch(counted, /host="localhost"/);
  // Host-separated rows: example.test's registration is under its own host.
  assert.equal((await t.server.core.store.table('push_registrations').range({ prefix: 'example.test/alice\u0000' })).length, 1);
  assert.deepEqual(await t.server.core.store.table('push_registrations').range({ prefix: 'localhost/' }), []);
  bob.close();
});
