// The embedded default answers on loopback: its http listener serves /metrics on 127.0.0.1, so an operator
// sees that the server is alive. Ports are 0 here (tests run side by side); address and type are the default's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildConfig } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';
import { startServer } from '../../src/main.js';
import { testCertificateFile } from '../support/harness.js';

test('the default config serves /metrics on 127.0.0.1 (its http listener), and nothing else there but loopback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-default-'));
  const cert = await testCertificateFile();
  const defaults = buildConfig({});
  const http = defaults.listen.filter((l) => l.type === 'http');
  assert.deepEqual(http.map((l) => [l.ip, l.port]), [['127.0.0.1', 5280]]);
  // Only the ports change: clients' listeners move to loopback too, so the test opens nothing to the network.
  const listen = defaults.listen.map((l) => ({ type: l.type, port: 0, ip: l.type === 'http' ? l.ip : '127.0.0.1' }));
  const config = buildConfig({ listen, data_dir: dir, log_level: 'silent', tls: { cert, key: join(dirname(cert), 'self-signed.key') } });
  const server = await startServer(config, { log: new Logger('silent'), controlSocket: false });
  try {
    const bound = server.listeners.bound.find((b) => b.type === 'http');
    assert.ok(bound, 'an http listener is bound');
    assert.equal(bound.ip, '127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${bound.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^# HELP xmppd_/m);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
