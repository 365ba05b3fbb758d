// A cluster node on a NATS server that wants TLS and a password (cluster.tls, cluster.user/password): it connects
// and replicates with the right settings; a wrong password or an unverifiable certificate stops the start with
// an error that says so (the operator sees why, no silent retry for ever).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_SERVER, natsSkip } from '../support/nats-cluster.js';
import { startTestServer } from '../support/harness.js';
import { makeCert } from '../support/test-certs.js';
import { freePorts } from './interop/net-util.js';
import { Jid } from '../../src/core/jid.js';
import { clusterStatus } from '../../src/core/cluster/cluster-runtime.js';

describe('a cluster node on a NATS server with TLS and a password', { skip: natsSkip() }, () => {
  let dir = '';
  let nats: ChildProcess | null = null;
  let url = '';
  const ca = () => join(dir, 'nats.crt');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xmppd-nats-auth-'));
    const [port] = await freePorts(1);
    // By name: the NATS client checks the name of the URL (an IP URL is checked as "localhost" after its TLS upgrade).
    const cert = makeCert(['localhost']);
    await writeFile(ca(), cert.certPem);
    await writeFile(join(dir, 'nats.key'), cert.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'nats.conf'), [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      `tls { cert_file: "${ca()}", key_file: "${join(dir, 'nats.key')}" }`,
      'authorization { user: xmppd, password: "a long nats password" }',
    ].join('\n'));
    nats = spawn(NATS_SERVER, ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
    url = `tls://localhost:${port}`;
    for (let i = 0; i < 200; i++) {
      if (await new Promise<boolean>((r) => { const s = connect(port!, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); })) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    nats?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const section = (more: Record<string, unknown>) => ({ node: 'x1', name: 'auth', nats: [url], replicas: 1, ...more });

  test('the right password and CA: the node starts, writes through the replicated log and reports its status', async () => {
    const t = await startTestServer({ cluster: section({ user: 'xmppd', password: 'a long nats password', tls: { ca_file: ca() } }) });
    try {
      await t.server.core.accounts.create(Jid.of('ana', 'localhost'), 'ana-password');
      assert.ok(t.server.core.store.lastApplied() > 0, 'the account went through the stream');
      const status = await clusterStatus(t.server.core.cluster!) as { replication: { lastApplied: number } };
      assert.equal(status.replication.lastApplied, t.server.core.store.lastApplied());
    } finally {
      await t.stop();
    }
  });

  test('a wrong password stops the start with an authorization error', async () => {
    await assert.rejects(startTestServer({ cluster: section({ user: 'xmppd', password: 'not the password', tls: { ca_file: ca() } }) }), /authoriz/i);
  });

  test('a server certificate the node cannot verify (no ca_file) stops the start with a certificate error', async () => {
    await assert.rejects(startTestServer({ cluster: section({ user: 'xmppd', password: 'a long nats password' }) }), /certificate|self[- ]signed/i);
  });
});
