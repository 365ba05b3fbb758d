// `xmppd start` exports prom-client's default process and Node.js series under their standard names
// (process_*, nodejs_*) beside xmppd's own, as every Node.js service does; scraped from a real server process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../../docs/grafana/xmppd-dashboard.json', import.meta.url));
let server: ChildProcess | null = null;
let dir = '';
after(async () => {
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('/metrics of a started server has process_* and nodejs_* series beside xmppd_*', async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-procmetrics-'));
  const cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, [
    'hosts: [localhost, example.test]',
    'data_dir: ./data',
    'log_level: info',
    'listen:',
    '  - { port: 0, ip: 127.0.0.1, type: c2s }',
    '  - { port: 0, ip: 127.0.0.1, type: http }',
    's2s: { enabled: true }',
  ].join('\n'));
  server = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
  let port = 0;
  const deadline = Date.now() + 30_000;
  while (port === 0) {
    const m = /"listening".*?"type":"http".*?"port":(\d+)/.exec(log);
    if (m) port = Number(m[1]);
    else if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start: ${log}`);
    else await new Promise((r) => setTimeout(r, 50));
  }
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const series of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds',
    'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_active_handles_total', 'xmppd_sessions']) {
    assert.match(text, new RegExp(`^${series}[ {]`, 'm'), `${series} is exported`);
  }
  assert.doesNotMatch(text, /^xmppd_process_|^xmppd_nodejs_/m, 'the defaults are not renamed');

  // The Grafana dashboard in the repository only queries series a server exports (cluster ones need cluster mode).
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  let queried = 0;
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets) {
      for (const [name] of expr.matchAll(/\b(?:xmppd|process|nodejs)_[a-z0-9_]+/g)) {
        if (name.startsWith('xmppd_cluster_')) continue;
        queried++;
        const base = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(exported.has(name) || exported.has(base), `panel "${panel.title}" queries ${name}, which /metrics does not export`);
      }
    }
  }
  assert.ok(queried >= 20, 'the dashboard queries the server\'s series');
});
