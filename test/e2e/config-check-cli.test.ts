// The check verbs and start as an operator runs them: `xmppd check-config` and `xmppd config check` are one
// verb (identical output and exit code), and start refuses the listener typo that used to open /api and
// /metrics on every address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
let dir: string;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // XMPPD_CONFIG unset and cwd a temp dir: nothing but -c decides which file is read.
    const env = { ...process.env };
    delete env.XMPPD_CONFIG;
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000, cwd: dir, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-check-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('check-config and config check: the same output and exit code, for a bad file and a good one', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, [
    'hosts: [localhost]',
    'listen:',
    '  - { port: 0, ip: 127.0.0.1, type: c2s, starttls_requird: true }',
    'modules:',
    '  roster: { max_itemz: 5 }',
    '  presence: {}',
    '  ping: { ping_interval: soon }',
    '',
  ].join('\n'));
  const a = await cli('check-config', '-c', bad, '--no-dns');
  const b = await cli('config', 'check', '-c', bad, '--no-dns');
  assert.deepEqual(b, a);
  assert.equal(a.code, 1);
  for (const [path, line, src] of [
    ['listen[0].starttls_requird', 3, '  - { port: 0, ip: 127.0.0.1, type: c2s, starttls_requird: true }'],
    ['modules.roster.max_itemz', 5, '  roster: { max_itemz: 5 }'],
    ['modules.ping.ping_interval', 7, '  ping: { ping_interval: soon }'],
  ] as const) {
    const re = new RegExp(`error: ${bad.replace(/[/.]/g, '\\$&')}: ${path.replace(/[.[\]]/g, '\\$&')}: .*\\n  at line ${line}, column \\d+:\\n    ${line} \\| ${src.replace(/[{}[\].]/g, '\\$&')}\\n`);
    assert.match(a.stderr, re);
  }
  assert.match(a.stderr, /: 3 errors; the server would not start\n$/);

  const good = join(dir, 'good.yaml');
  await writeFile(good, 'hosts: [localhost]\ndata_dir: ./data\nlisten: [{ port: 0, ip: 127.0.0.1, type: c2s }]\nmodules: { disco: {}, ping: {} }\n');
  const c = await cli('check-config', '-c', good);
  const d = await cli('config', 'check', '-c', good);
  assert.deepEqual(d, c);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^warning: .*good\.yaml: tls: no certificate configured for localhost: a self-signed one/m);
  assert.match(c.stdout, /good\.yaml: OK \(hosts: localhost; modules: disco, ping\)\n$/);
});

test('start refuses the listener typo (adress) with every error, and listens on nothing', async () => {
  // A free port for the typo'd listener: if start ignored the typo, it would be listening there.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const f = join(dir, 'typo.yaml');
  await writeFile(f, `hosts: [localhost]\ndata_dir: ./data-typo\nlisten: [{port: ${port}, adress: 127.0.0.1, type: http}]\nmodules: { roster: { max_itemz: 5 } }\n`);
  const r = await cli('start', '-c', f);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^xmppd: 2 configuration errors:\n/);
  assert.match(r.stderr, /listen\[0\]\.adress: unknown option .*the address to listen on is "ip"\n {2}at line 3, column \d+:\n {4}3 \| listen: \[\{port: \d+, adress: 127\.0\.0\.1, type: http\}\]/);
  assert.match(r.stderr, /modules\.roster\.max_itemz: unknown option/);
  // The check verbs say the same.
  const chk = await cli('check-config', '-c', f, '--no-dns');
  assert.equal(chk.code, 1);
  assert.match(chk.stderr, /listen\[0\]\.adress/);
});
