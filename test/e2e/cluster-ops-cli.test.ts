// Operating a cluster from the command line: `xmppd start --workers N` refuses without the cluster section, forks N
// node processes sharing the listening ports (each its own node name, data dir and control socket) and drains them
// all on SIGTERM; `xmppd cluster status` on a single node and on a node whose cluster parts report their sections.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { startTestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { until } from '../support/until.js';
import { callServer } from '../../src/cli/control-client.js';
import type { ClusterRuntime } from '../../src/core/cluster/cluster-runtime.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'xmppd-cops-'));
  dirs.push(d);
  return d;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('--workers N and workers: N refuse to start without the cluster section, with a clear message', async () => {
  const dir = await tempDir();
  const cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, `hosts: [localhost]\ndata_dir: ${dir}/data\nlisten: [{ port: 0, ip: 127.0.0.1, type: c2s }]\n`);
  const flag = await cli(['start', '-c', cfg, '--workers', '2']);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /--workers 2: 2 workers need the cluster section: each worker is a cluster node/);
  assert.equal(existsSync(join(dir, 'data')), false, 'nothing started');
  const zero = await cli(['start', '-c', cfg, '--workers', '0']);
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /--workers must be an integer from 1 to 64/);
  const inFile = await cli(['check-config', '-c', cfg], { XMPPD_WORKERS: '3' });
  assert.equal(inFile.code, 1);
  assert.match(inFile.stderr, /workers: 3 workers need the cluster section.*\(set by the environment variable XMPPD_WORKERS\)/);
  const one = await cli(['check-config', '-c', cfg], { XMPPD_WORKERS: '1' });
  assert.equal(one.code, 0, one.stderr);
});

async function cliConfigFor(socket: string): Promise<string> {
  const dir = await tempDir();
  const cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, `hosts: [localhost]\ndata_dir: ${dir}\ncontrol_socket: ${socket}\n`);
  return cfg;
}

test('cluster status on a single node says so, in both output modes', async (t) => {
  const s = await startTestServer();
  t.after(() => s.stop());
  const cfg = await cliConfigFor(join(s.dir, 'ctl.sock'));
  const human = await cli(['cluster', 'status', '-c', cfg]);
  assert.equal(human.code, 0, human.stderr);
  assert.equal(human.stdout, 'this server runs as a single node (no cluster section in its configuration)\n');
  const json = await cli(['cluster', 'status', '--json', '-c', cfg]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { clustered: false, message: 'this server runs as a single node (no cluster section in its configuration)' });
});

test('cluster status prints each section the cluster parts report: values, and lists as tables with a header', async (t) => {
  const s = await startTestServer();
  t.after(() => s.stop());
  // The sections as the replication and session parts register them (core.cluster.statusParts).
  const runtime = {
    node: 'xmppd-1',
    config: { name: 'prod' },
    nc: { close: async () => {} }, // no NATS here: the server closes this at stop
    statusParts: new Map<string, () => unknown>([
      ['replication', () => ({ last_applied: 1042, stream_last: 1045, lag: 3, stream_leader: 'nats-2', consumers: [{ node: 'xmppd-0', ack_floor: 1045, pending: 0 }, { node: 'xmppd-1', ack_floor: 1042, pending: 3 }] })],
      ['nodes', () => [{ node: 'xmppd-0', alive: true, sessions: 12 }, { node: 'xmppd-1', alive: true, sessions: 9 }]],
      ['consumers', () => ({ 'xmppd-0': { pending: 0, ack_floor: 1045 }, 'xmppd-1': { pending: 3, ack_floor: 1042 } })],
      ['broken', () => { throw new Error('bucket unavailable'); }],
    ]),
  } as unknown as ClusterRuntime;
  s.server.core.cluster = runtime;
  const cfg = await cliConfigFor(join(s.dir, 'ctl.sock'));
  const human = await cli(['cluster', 'status', '-c', cfg]);
  assert.equal(human.code, 0, human.stderr);
  const out = human.stdout;
  assert.match(out, /^node: xmppd-1\ncluster: prod\n/);
  assert.match(out, /replication:\n  last_applied: 1042\n  stream_last: 1045\n  lag: 3\n  stream_leader: nats-2\n  consumers:\n    NODE +ACK_FLOOR +PENDING\n    xmppd-0 +1045 +0\n    xmppd-1 +1042 +3\n/);
  assert.match(out, /nodes:\n  NODE +ALIVE +SESSIONS\n  xmppd-0 +true +12\n  xmppd-1 +true +9\n/);
  assert.match(out, /consumers:\n  NAME +PENDING +ACK_FLOOR\n  xmppd-0 +0 +1045\n  xmppd-1 +3 +1042\n/);
  assert.match(out, /broken:\n  error: bucket unavailable/);
  const json = JSON.parse((await cli(['cluster', 'status', '--json', '-c', cfg])).stdout);
  assert.equal(json.clustered, true);
  assert.equal(json.replication.lag, 3);
  assert.equal(json.nodes.length, 2);
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

test('start --workers 2: two nodes share the c2s port, each with its data dir and control socket; SIGTERM drains both', { skip: natsSkip() }, async (t) => {
  const nats = await NatsCluster.start(1);
  t.after(() => nats.stop());
  const dir = await tempDir();
  const cfg = join(dir, 'xmppd.yaml');
  const port = await freePort();
  await writeFile(cfg, [
    'hosts: [localhost]',
    `data_dir: ${dir}/data`,
    'log_level: info',
    `listen: [{ port: ${port}, ip: 127.0.0.1, type: c2s, starttls_required: false }]`,
    'modules: { ping: {}, roster: {}, presence: {} }',
    `cluster: { node: box, nats: [${nats.urls.join(', ')}], replicas: 1 }`,
  ].join('\n'));
  const proc = spawn(process.execPath, [BIN, 'start', '-c', cfg, '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => { log += d; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.after(() => proc.kill('SIGKILL'));
  const sockets = [0, 1].map((i) => join(dir, 'data', `box-${i}`, 'xmppd.sock'));
  await until(() => (log.match(/"msg":"xmppd started"/g)?.length ?? 0) === 2, `both workers started; log: ${log}`, 60_000);
  assert.match(log, /"node":"box-0"/);
  assert.match(log, /"node":"box-1"/);
  for (const s of sockets) assert.ok(existsSync(s), `${s} exists`);

  // Connections on the one port land on both workers (the primary hands them out in turn).
  const connectAll = () => Promise.all([0, 1, 2, 3].map(async () => {
    const c = await RawClient.connect(port);
    c.openStream('localhost');
    await c.features();
    return c;
  }));
  const first = await connectAll();
  const perWorker = await Promise.all(sockets.map(async (s) => ((await callServer(s, 'status', {})) as { connections: number }).connections));
  assert.equal(perWorker[0]! + perWorker[1]!, 4);
  assert.ok(perWorker[0]! >= 1 && perWorker[1]! >= 1, `both workers serve connections: ${perWorker}`);
  // The CLI reaches worker 0 (the --workers flag is not in the file).
  const status = await cli(['status', '-c', cfg]);
  assert.equal(status.code, 0, status.stderr);
  // Each worker is a node of the cluster: worker 0 sees both.
  await until(async () => {
    const r = await cli(['cluster', 'status', '--json', '-c', cfg]);
    const nodes = JSON.parse(r.stdout).nodes ?? {};
    return nodes['box-0']?.alive && nodes['box-1']?.alive;
  }, 'worker 0 sees both nodes alive', 30_000);
  const human = await cli(['cluster', 'status', '-c', cfg]);
  assert.match(human.stdout, /^node: box-0\n/);
  assert.match(human.stdout, /nodes:\n  NAME +ALIVE[^\n]*\n(  box-[01] +true[^\n]*\n){2}/);

  // A worker that dies is started again by the primary, as the same node.
  const victim = ((await callServer(sockets[1]!, 'status', {})) as { pid: number; node: string });
  assert.equal(victim.node, 'box-1');
  process.kill(victim.pid, 'SIGKILL');
  await until(() => /"msg":"worker exited; starting it again"[^\n]*"worker":1/.test(log), `the primary saw worker 1 die; log: ${log}`, 30_000);
  await until(async () => {
    try {
      const s = (await callServer(sockets[1]!, 'status', {})) as { pid: number };
      return s.pid !== victim.pid;
    } catch {
      return false;
    }
  }, 'worker 1 runs again', 60_000);

  for (const c of first) c.close();

  // SIGHUP reaches every worker: each re-reads the file, which says what it started with.
  proc.kill('SIGHUP');
  await until(() => (log.match(/"msg":"configuration reloaded: no changes"/g)?.length ?? 0) === 2, `both workers reloaded; log: ${log}`, 30_000);

  // SIGTERM: every worker drains (streams closed with system-shutdown), then the primary exits.
  const clients = await connectAll();
  proc.kill('SIGTERM');
  for (const c of clients) await c.expect(/<system-shutdown xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/, 15_000);
  for (const c of clients) c.close();
  assert.equal(await exited, 0, log);
  assert.match(log, /"msg":"all workers stopped"/);
});
