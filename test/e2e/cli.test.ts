// The xmppd command line against a real server process: check-config, user verbs (online over the 0600
// control socket, and offline on the data dir), sessions, kick, module verbs, status, graceful stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../support/raw-client.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
let dir: string;
let cfg: string;
let server: ChildProcess | null = null;
let serverLog = '';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-cli-'));
  cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, [
    'hosts: [localhost]',
    'data_dir: ./data',
    'log_level: info',
    'listen:',
    '  - { port: 0, ip: 127.0.0.1, type: c2s }',
  ].join('\n'));
});
after(async () => {
  server?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('check-config accepts a good file and rejects a bad one naming the file and the YAML path', async () => {
  const ok = await cli('check-config', '-c', cfg);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /OK \(hosts: localhost/);
  const badFile = join(dir, 'bad.yaml');
  await writeFile(badFile, 'hosts: [localhost]\nlisten:\n  - { port: 5222, type: smtp }\n');
  const bad = await cli('check-config', '-c', badFile);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`${badFile.replace(/[/.]/g, '\\$&')}: listen\\[0\\]\\.type: must be one of`));
  const missing = await cli('start', '-c', join(dir, 'nope.yaml'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml: \(top level\): cannot read the file \(ENOENT\)/);
});

test('user add works on the data dir while the server is stopped; bad input gets a clear message', async () => {
  const r = await cli('user', 'add', 'alice@localhost', 'first-pw', '-c', cfg);
  assert.equal(r.code, 0, r.stderr);
  const dup = await cli('user', 'add', 'alice@localhost', 'x-long-password', '-c', cfg);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /alice@localhost already exists/);
  const foreign = await cli('user', 'add', 'eve@elsewhere.example', 'x-long-password', '-c', cfg);
  assert.match(foreign.stderr, /elsewhere\.example is not one of this server's hosts/);
  const full = await cli('user', 'add', 'eve@localhost/res', 'x-long-password', '-c', cfg);
  assert.match(full.stderr, /must be a bare JID/);
});

test('with the server running, admin verbs go over the control socket', async () => {
  server = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (d) => (serverLog += d));
  const deadline = Date.now() + 20_000;
  while (!/xmppd started/.test(serverLog)) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start: ${serverLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const sock = await stat(join(dir, 'data', 'xmppd.sock'));
  assert.equal(sock.mode & 0o777, 0o600, 'the control socket is 0600');
  assert.doesNotMatch(serverLog, /first-pw/);

  const status = await cli('status', '--json', '-c', cfg);
  assert.equal(status.code, 0, status.stderr);
  const port = (JSON.parse(status.stdout).listeners as Array<{ type: string; port: number }>).find((l) => l.type === 'c2s')!.port;

  assert.equal((await cli('user', 'add', 'bob@localhost', 'bob-password', '-c', cfg)).code, 0);
  const list = await cli('user', 'list', 'localhost', '-c', cfg);
  assert.deepEqual(list.stdout.trim().split('\n'), ['ACCOUNT', 'alice@localhost', 'bob@localhost']);
  assert.equal((await cli('user', 'passwd', 'alice@localhost', 'second-pw', '-c', cfg)).code, 0);

  await assert.rejects(RawClient.login(port, 'alice', 'first-pw', 'old'), /login failed/);
  const { c } = await RawClient.login(port, 'alice', 'second-pw', 'desk');
  const sessions = await cli('sessions', '-c', cfg);
  assert.match(sessions.stdout, /^alice@localhost\/desk +available +- +127\.0\.0\.1 +TLSv1\.[23] +SCRAM-SHA-256 +desk +off /m);

  // Commands modules register (ctx.command) are listed by the running server and run by name.
  const cmds = await cli('commands', '-c', cfg);
  assert.equal(cmds.code, 0, cmds.stderr);
  assert.match(cmds.stdout, /^user\.add +jid password +- +Create an account$/m);
  assert.match(cmds.stdout, /^roster\.get +jid +roster +List an account's roster$/m);
  const rg = await cli('run', 'roster.get', 'jid=alice@localhost', '--json', '-c', cfg);
  assert.equal(rg.code, 0, rg.stderr);
  assert.deepEqual(JSON.parse(rg.stdout), { jid: 'alice@localhost', items: [], pending: [] });
  assert.match((await cli('run', 'roster.get', 'alice@localhost', '-c', cfg)).stderr, /"alice@localhost" is not an argument: write name=value/);

  const mods = await cli('module', 'list', '-c', cfg);
  assert.match(mods.stdout, /^ping +running +localhost +XEP-0199 +-$/m);
  assert.equal((await cli('module', 'unload', 'ping', '-c', cfg)).code, 0);
  c.send("<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']p1["'][\s\S]*?<\/iq>/))[0], /service-unavailable/);
  assert.equal((await cli('module', 'load', 'ping', '-c', cfg)).code, 0);
  const reload = await cli('module', 'reload', 'version', '--options', '{"show_os": true}', '-c', cfg);
  assert.equal(reload.code, 0, reload.stderr);
  const badReload = await cli('module', 'reload', 'version', '--options', '{"show_os": 3}', '-c', cfg);
  assert.equal(badReload.code, 1);
  assert.match(badReload.stderr, /modules\.version\.show_os: must be true or false/);
  c.send("<iq to='localhost' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']v1["'][\s\S]*?<\/iq>/))[0], /<os>/);

  const kick = await cli('kick', 'alice@localhost/desk', '-c', cfg);
  assert.equal(kick.code, 0, kick.stderr);
  assert.match(await c.waitClosed(), /<policy-violation /);
  const noOne = await cli('kick', 'alice@localhost/desk', '-c', cfg);
  assert.match(noOne.stderr, /no session for alice@localhost\/desk/);

  assert.equal((await cli('user', 'del', 'bob@localhost', '-c', cfg)).code, 0);
  assert.equal((await cli('user', 'list', '-c', cfg)).stdout.trim(), 'ACCOUNT\nalice@localhost');

  // graceful stop: open streams get system-shutdown, the process exits 0
  const { c: c2 } = await RawClient.login(port, 'alice', 'second-pw', 'last');
  server.kill('SIGTERM');
  assert.match(await c2.waitClosed(), /<system-shutdown /);
  const code = await new Promise<number | null>((r) => server!.once('exit', (cd) => r(cd)));
  assert.equal(code, 0);
  server = null;
  const after = await cli('status', '-c', cfg);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /the server is not running \(no control socket at .*xmppd\.sock\)/);
});
