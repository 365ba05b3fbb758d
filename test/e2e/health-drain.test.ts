// Orchestrator support: /healthz and /readyz on the HTTP listener (no token, nothing secret), and the drain of a
// stopping node: /readyz says 503 while client streams get see-other-host (cluster.see_other_host) or
// system-shutdown (RFC 6120 §4.9.3.19), and messages a client never acknowledged (XEP-0198) are delivered
// from offline storage after the restart: none is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { sync } from '../../modules/roster/test-support.js';
import { bodies, enable } from '../../modules/stream_management/test-support.js';
import { shutdownError } from '../../src/interface/shutdown-error.js';
import { buildConfig } from '../../src/core/config/load-config.js';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';

const HTTP = [
  { port: 0, ip: '127.0.0.1', type: 'c2s' },
  { port: 0, ip: '127.0.0.1', type: 'http' },
];
const MODULES = { roster: {}, presence: {}, offline: {}, ping: {}, stream_management: {} };

test('/healthz answers 200 and /readyz follows the readiness checks, without a token', async (t) => {
  const s = await startTestServer({ listen: HTTP });
  t.after(() => s.stop());
  const base = `http://127.0.0.1:${s.server.port('http')}`;
  const live = await fetch(`${base}/healthz`);
  assert.equal(live.status, 200);
  assert.deepEqual(await live.json(), { alive: true });
  assert.equal(live.headers.get('cache-control'), 'no-store');
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true });

  // a part of the node that is not fit for clients (a replica catching up) makes the node not ready
  let behind = true;
  const remove = s.server.core.readiness!.add('replication', () => (behind ? { ready: false, reason: '1200 transactions behind' } : { ready: true }));
  const notReady = await fetch(`${base}/readyz`);
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, reasons: { replication: '1200 transactions behind' } });
  assert.equal((await fetch(`${base}/healthz`)).status, 200, 'not ready is still alive');
  behind = false;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  behind = true;
  remove();
  assert.equal((await fetch(`${base}/readyz`)).status, 200, 'a removed check counts no more');

  // a check that throws is a reason, not a crash
  const removeBroken = s.server.core.readiness!.add('broken', () => { throw new Error('no state yet'); });
  const broken = await fetch(`${base}/readyz`);
  assert.equal(broken.status, 503);
  assert.match(JSON.stringify(await broken.json()), /check failed: no state yet/);
  removeBroken();

  assert.equal((await fetch(`${base}/readyz`, { method: 'POST' })).status, 405);
  const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
  assert.equal(head.status, 200);
});

/**
 * alice (stream management on) receives two messages from bob and acknowledges neither; the server stops.
 * Returns the stream error alice got and the /readyz answer seen during the drain.
 */
async function drainWithUnacked(cluster?: Record<string, unknown>): Promise<{ error: string; readyz: { status: number; body: any } }> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-drain-'));
  try {
    const overrides = { listen: HTTP, modules: MODULES, ...(cluster ? { cluster } : {}) };
    const s = await startTestServer(overrides, { dir });
    await s.addUser('alice', 'pw-alice');
    await s.addUser('bob', 'pw-bob');
    const { c: alice } = await RawClient.login(s.c2sPort, 'alice', 'pw-alice', 'phone');
    await sync(alice);
    assert.match((await enable(alice)).toString(), /<enabled/);
    const { c: bob } = await RawClient.login(s.c2sPort, 'bob', 'pw-bob', 'pc', { presence: false });
    bob.send("<message to='alice@localhost/phone' type='chat' id='m1'><body>unacked-1</body></message>");
    bob.send("<message to='alice@localhost' type='chat' id='m2'><body>unacked-2</body></message>");
    await sync(bob);
    await alice.expect(/unacked-2<\/body>/); // received, never acknowledged with <a/>

    const base = `http://127.0.0.1:${s.server.port('http')}`;
    const stopped = s.server.stop();
    const error = (await alice.expect(/<stream:error>[\s\S]*?<\/stream:error>/))[0];
    // The streams linger until the clients close them: the HTTP listener still answers, not ready.
    const r = await fetch(`${base}/readyz`);
    const readyz = { status: r.status, body: await r.json() };
    alice.close();
    bob.close();
    await stopped;

    const again = await startTestServer(overrides, { dir });
    try {
      const { c } = await RawClient.login(again.c2sPort, 'alice', 'pw-alice', 'back');
      const got = bodies(await sync(c));
      assert.deepEqual(got, ['unacked-1', 'unacked-2'], 'the unacknowledged messages are delivered after the restart');
      c.close();
    } finally {
      await again.stop();
    }
    return { error, readyz };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a drain without see_other_host: system-shutdown, not ready meanwhile, unacknowledged messages kept offline', async () => {
  const { error, readyz } = await drainWithUnacked();
  assert.match(error, /<system-shutdown xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  assert.equal(readyz.status, 503);
  assert.deepEqual(readyz.body, { ready: false, reasons: { drain: 'the node is shutting down' } });
});

test('a cluster node drained with cluster.see_other_host: the client is sent to the other address, and nothing is lost', { skip: natsSkip() }, async (t) => {
  const nats = await NatsCluster.start(1);
  t.after(() => nats.stop());
  const { error, readyz } = await drainWithUnacked({ node: 'drained', nats: nats.urls, replicas: 1, see_other_host: 'xmpp.example.net:5222' });
  assert.match(error, /<see-other-host xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']>xmpp\.example\.net:5222<\/see-other-host>/);
  assert.equal(readyz.status, 503);
});

test('see-other-host goes to TCP clients only: WebSocket and BOSH clients get system-shutdown', () => {
  const config = buildConfig({ cluster: { node: 'n1', nats: ['nats://127.0.0.1:4222'], see_other_host: 'other.example:5222' } });
  assert.equal(shutdownError(config, 'c2s').condition, 'see-other-host');
  assert.equal(shutdownError(config, 'c2s_tls').content, 'other.example:5222');
  assert.equal(shutdownError(config, 'http_websocket').condition, 'system-shutdown');
  assert.equal(shutdownError(config, 'https_bosh').condition, 'system-shutdown');
  assert.equal(shutdownError(buildConfig({}), 'c2s').condition, 'system-shutdown');
});
