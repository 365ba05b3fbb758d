// Config reload (issue 5): servers started from a real YAML file re-read it; hot changes (ACL, access rules,
// module options, modules added and removed) apply all together or not at all, restart-only keys are
// reported and kept, a bad file or a failing module changes nothing. SIGHUP and the CLI on a real process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { startServer, type XmppServer } from '../../src/main.js';
import { ensureSelfSignedCertificate } from '../../src/interface/tls/self-signed.js';
import { RawClient } from '../support/raw-client.js';
import { startTestServer } from '../support/harness.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/external-modules', import.meta.url));
const NS_VERSION = 'jabber:iq:version';

let root: string;
let tls: { cert: string; key: string };

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'xmppd-reload-'));
  await ensureSelfSignedCertificate(join(root, 'certs'), ['localhost']);
  tls = { cert: join(root, 'certs', 'self-signed.crt'), key: join(root, 'certs', 'self-signed.key') };
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

type Yaml = Record<string, any>;

/** The file every in-process server starts from; tests change a copy and write it back. */
function baseYaml(): Yaml {
  return {
    hosts: ['localhost'],
    data_dir: './data',
    log_level: 'info',
    tls,
    module_paths: [FIXTURES],
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }],
    modules: { disco: {}, ping: {}, version: {}, time: {}, roster: {}, presence: {}, register: {}, shout: { suffix: '!' } },
    acl: { admin: { user: ['admin@localhost'] }, loopback: { ip: ['127.0.0.0/8', '::1/128'] } },
    access_rules: { register: [{ deny: 'all' }] },
  };
}

interface Running { server: XmppServer; file: string; logs: string[]; port: number; write(y: Yaml | string): Promise<void>; stop(): Promise<void> }

async function startFromFile(y: Yaml = baseYaml()): Promise<Running> {
  const dir = await mkdtemp(join(root, 'srv-'));
  const file = join(dir, 'xmppd.yaml');
  const write = (v: Yaml | string) => writeFile(file, typeof v === 'string' ? v : stringify(v));
  await write(y);
  const logs: string[] = [];
  const server = await startServer(loadConfigFile(file), { log: new Logger('info', {}, (l) => logs.push(l), false), controlSocket: false });
  await server.core.accounts.create(Jid.of('alice', 'localhost'), 'alice-pw');
  await server.core.accounts.create(Jid.of('bob', 'localhost'), 'bob-pw');
  return { server, file, logs, port: server.port('c2s'), write, stop: () => server.stop() };
}

/** The pre-auth stream features after STARTTLS (where XEP-0077 registration is offered). */
async function preAuthFeatures(port: number): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    c.openStream();
    await c.features();
    await c.starttls();
    c.openStream();
    return await c.features();
  } finally {
    c.close();
  }
}

async function versionOf(c: RawClient, id: string): Promise<string> {
  c.send(`<iq type='get' id='${id}' to='localhost'><query xmlns='${NS_VERSION}'/></iq>`);
  return (await c.expect(new RegExp(`<iq[^>]*id=["']${id}["'][\\s\\S]*?</iq>`)))[0];
}

const moduleNames = (s: XmppServer) => s.modules.list().filter((m) => m.status === 'running').map((m) => m.name).sort();
const admin = (s: XmppServer, name: string) => s.core.acl.match('admin', { jid: Jid.parse(name) });

test('ACL and access-rule changes apply to the next check: registration is offered, the admin set changes', async () => {
  const s = await startFromFile();
  try {
    assert.doesNotMatch(await preAuthFeatures(s.port), /iq-register/, 'registration is denied to everyone at start');
    assert.equal(admin(s.server, 'boss@localhost'), false);
    const y = baseYaml();
    y.acl.admin.user = ['admin@localhost', 'boss@localhost'];
    y.access_rules.register = [{ allow: 'loopback' }, { deny: 'all' }];
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, true, r.errors.join('; '));
    assert.deepEqual([...r.applied].sort(), ['access_rules', 'acl']);
    assert.deepEqual(r.restart_required, []);
    assert.match(await preAuthFeatures(s.port), /<register xmlns=["']http:\/\/jabber\.org\/features\/iq-register["']/);
    assert.equal(admin(s.server, 'boss@localhost'), true);
    assert.match(s.logs.join('\n'), /"msg":"configuration reloaded".*"applied":\["acl","access_rules"\]/);

    const again = await s.server.reload();
    assert.equal(again.ok, true);
    assert.deepEqual(again.applied, [], 'an unchanged file applies nothing');
  } finally {
    await s.stop();
  }
});

test('module options change (version show_os), a module is added and one removed, in one reload', async () => {
  const s = await startFromFile();
  const { c } = await RawClient.login(s.port, 'alice', 'alice-pw', 'desk');
  try {
    assert.doesNotMatch(await versionOf(c, 'v1'), /<os>/);
    assert.ok(s.server.core.disco.featuresOf('localhost', 'server').includes('urn:xmpp:time'));
    const y = baseYaml();
    y.modules.version = { show_os: true };
    delete y.modules.time;
    y.modules.last = {};
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, true, r.errors.join('; '));
    assert.deepEqual(r.modules, { started: ['last'], reloaded: ['version'], stopped: ['time'] });
    assert.deepEqual([...r.applied].sort(), ['modules.last', 'modules.time', 'modules.version']);
    assert.match(await versionOf(c, 'v2'), /<os>[^<]+<\/os>/, 'the running session sees the new option');
    assert.ok(!s.server.core.disco.featuresOf('localhost', 'server').includes('urn:xmpp:time'), 'time is gone with its feature');
    assert.ok(moduleNames(s.server).includes('last'));
    assert.ok(!moduleNames(s.server).includes('time'));
  } finally {
    c.close();
    await s.stop();
  }
});

test('a bad file changes nothing, and the error names the file and the YAML path', async () => {
  const s = await startFromFile();
  try {
    const before = s.server.core.config;
    const acl = s.server.core.acl;
    const mods = JSON.stringify(s.server.modules.list());
    const unchanged = () => {
      assert.equal(s.server.core.config, before, 'the running configuration is the same object');
      assert.equal(s.server.core.acl, acl);
      assert.equal(JSON.stringify(s.server.modules.list()), mods);
    };

    await s.write('hosts: [localhost\nlisten: {');
    let r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, new RegExp(`${s.file.replace(/[/.]/g, '\\$&')}: \\(top level\\): invalid YAML`));
    unchanged();

    // A valid ACL change next to a bad value: neither is applied.
    const y = baseYaml();
    y.acl.admin.user = ['boss@localhost'];
    y.max_stanza_size = 10;
    await s.write(y);
    r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, /xmppd\.yaml: max_stanza_size: must be an integer from 1024/);
    assert.deepEqual(r.applied, []);
    unchanged();
    assert.equal(admin(s.server, 'boss@localhost'), false);

    // Module problems are found before anything stops: a bad option, an unknown module, a bad regexp.
    const m = baseYaml();
    m.acl.admin.user = ['boss@localhost'];
    m.modules.version = { show_os: 'yes' };
    m.modules.nosuch = {};
    m.acl.fancy = { user_regexp: ['(unclosed'] };
    await s.write(m);
    r = await s.server.reload();
    assert.equal(r.ok, false);
    const all = r.errors.join('\n');
    assert.match(all, /xmppd\.yaml: modules\.version\.show_os: /);
    assert.match(all, /xmppd\.yaml: modules\.nosuch: no module named "nosuch"/);
    assert.match(all, /xmppd\.yaml: acl\.fancy\.user_regexp\[0\]: not a valid regular expression/);
    unchanged();

    // Removing a module another one requires is refused too (presence requires roster).
    const d = baseYaml();
    delete d.modules.roster;
    await s.write(d);
    r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /modules\.presence: requires module "roster"/);
    unchanged();

    // The registry command refuses with the same message (CLI exit 1, REST 400, ad-hoc error).
    await assert.rejects(runCommand(s.server.core.admin!, 'config.reload', {}), /configuration not reloaded \(nothing changed\): .*requires module "roster"/);
    await assert.rejects(runCommand(s.server.core.admin!, 'config.check', {}), /the configuration file is not valid/);
    unchanged();
    assert.match(s.logs.join('\n'), /configuration reload refused; nothing changed/);
  } finally {
    await s.stop();
  }
});

test('hosts and listeners need a restart: reported, not applied, the running values kept; hot keys beside them apply', async () => {
  const s = await startFromFile();
  try {
    const y = baseYaml();
    y.hosts = ['localhost', 'example.test'];
    y.listen = [{ port: 1, ip: '127.0.0.1', type: 'c2s' }];
    y.sasl_max_failures = 5;
    y.s2s = { enabled: false, policy: 'require_valid_cert' };
    await s.write(y);

    const dry = (await runCommand(s.server.core.admin!, 'config.check', {})) as Awaited<ReturnType<XmppServer['reload']>>;
    assert.equal(dry.dry_run, true);
    assert.equal(s.server.core.config.sasl_max_failures, 3, 'a check applies nothing');

    const r = await s.server.reload();
    assert.equal(r.ok, true, r.errors.join('; '));
    assert.deepEqual(r.restart_required.map((k) => k.key).sort(), ['hosts', 'listen']);
    assert.deepEqual([...r.applied].sort(), ['s2s.policy', 'sasl_max_failures']);
    assert.deepEqual(dry.applied, r.applied, 'the dry run predicted the reload');
    assert.deepEqual(s.server.core.config.hosts, ['localhost']);
    assert.equal(s.server.core.config.listen[0]!.port, 0);
    assert.equal(s.server.core.config.sasl_max_failures, 5);
    assert.equal(s.server.core.config.s2s.policy, 'require_valid_cert');
    assert.equal(s.server.port('c2s'), s.port, 'still listening where it was');
    assert.ok(s.server.core.router.isLocal('localhost') && !s.server.core.router.isLocal('example.test'));
    assert.match(s.logs.join('\n'), /need a restart were not applied.*"keys":\["hosts","listen"\]/);

    const again = await s.server.reload();
    assert.deepEqual(again.restart_required.map((k) => k.key).sort(), ['hosts', 'listen'], 'still pending until a restart');
    assert.deepEqual(again.applied, []);
    const { c } = await RawClient.login(s.port, 'alice', 'alice-pw');
    c.close();
  } finally {
    await s.stop();
  }
});

test('a module that fails to start rolls the whole reload back: config, ACL, and modules already (re)started', async () => {
  const s = await startFromFile();
  const a = await RawClient.login(s.port, 'alice', 'alice-pw', 'desk');
  const b = await RawClient.login(s.port, 'bob', 'bob-pw', 'desk');
  try {
    const before = s.server.core.config;
    const y = baseYaml();
    y.acl.admin.user = ['boss@localhost'];
    // Stops run first (time), then (re)starts in file order: version is reloaded and last started before shout fails.
    y.modules = { disco: {}, ping: {}, version: { show_os: true }, last: {}, roster: {}, presence: {}, register: {}, shout: { suffix: 'FAIL' } };
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, /module shout failed to start on localhost: asked to fail; rolled back/);
    assert.equal(r.errors.length, 1, 'every module was restored');
    assert.match(s.logs.join('\n'), /"msg":"module started","module":"last"/, 'last had started before shout failed');
    assert.equal(s.server.core.config, before);
    assert.equal(admin(s.server, 'boss@localhost'), false);
    assert.deepEqual(moduleNames(s.server), ['disco', 'ping', 'presence', 'register', 'roster', 'shout', 'time', 'version']);
    assert.equal(s.server.modules.info('shout')!.options.suffix, '!');
    assert.doesNotMatch(await versionOf(a.c, 'v1'), /<os>/, 'version runs with its old options again');
    a.c.send("<message to='bob@localhost' type='chat' id='m1'><body>hello</body></message>");
    await b.c.expect(/<body>HELLO!<\/body>/); // shout runs with its old suffix
    assert.ok(s.server.core.disco.featuresOf('localhost', 'server').includes('urn:xmpp:time'), 'the removed module is back');
  } finally {
    a.c.close();
    b.c.close();
    await s.stop();
  }
});

test('a server on the embedded default has no file to reload: a clear refusal', async () => {
  const t = await startTestServer();
  try {
    const r = await t.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, /embedded default configuration: there is no file to re-read/);
  } finally {
    await t.stop();
  }
});

// ---- the real process: SIGHUP and the CLI ---------------------------------------------------------------

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('SIGHUP and `xmppd config reload|check` on a server process', async () => {
  const dir = await mkdtemp(join(root, 'proc-'));
  const file = join(dir, 'xmppd.yaml');
  const y = { hosts: ['localhost'], data_dir: './data', log_level: 'info', tls, listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }], modules: { disco: {}, ping: {} } };
  await writeFile(file, stringify(y));
  let log = '';
  const proc: ChildProcess = spawn(process.execPath, [BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr!.on('data', (d) => (log += d));
  const waitLog = async (re: RegExp, from: number) => {
    const deadline = Date.now() + 20_000;
    while (!re.test(log.slice(from))) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no ${re} in the server log: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitLog(/xmppd started/, 0);

    let ok = await cli('config', 'check', '-c', file);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK \(hosts: localhost; modules: disco, ping\)\nrunning server: .*: no changes/);

    // SIGHUP applies an added module.
    await writeFile(file, stringify({ ...y, modules: { disco: {}, ping: {}, time: {} } }));
    let mark = log.length;
    proc.kill('SIGHUP');
    await waitLog(/"msg":"configuration reloaded"/, mark);
    const list = await cli('module', 'list', '-c', file);
    assert.match(list.stdout, /^time +running/m);

    // The CLI: a listener change needs a restart (exit 0, listed); a hot change beside it applies.
    await writeFile(file, stringify({ ...y, listen: [{ port: 1, ip: '127.0.0.1', type: 'c2s' }], modules: { disco: {}, ping: {} } }));
    ok = await cli('config', 'check', '-c', file);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /would apply: modules\.time[\s\S]*listen: listening sockets are bound at start/);
    const rel = await cli('config', 'reload', '-c', file);
    assert.equal(rel.code, 0, rel.stderr);
    assert.match(rel.stdout, /applied: modules\.time\n {2}modules stopped: time\nneeds a restart \(not applied; the running value is kept\):\n {2}listen: /);
    assert.doesNotMatch((await cli('module', 'list', '-c', file)).stdout, /^time/m);

    // A bad file: the CLI exits 1 naming the path, SIGHUP logs the refusal and the server serves on.
    await writeFile(file, stringify({ ...y, modules: { disco: {}, ping: { interval: 'soon' } } }));
    const bad = await cli('config', 'reload', '-c', file);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /configuration not reloaded \(nothing changed\): .*xmppd\.yaml: modules\.ping/);
    const badCheck = await cli('config', 'check', '-c', file);
    assert.equal(badCheck.code, 1);
    assert.match(badCheck.stderr, /xmppd\.yaml: modules\.ping/);
    mark = log.length;
    proc.kill('SIGHUP');
    await waitLog(/configuration reload refused; nothing changed/, mark);
    const status = await cli('status', '-c', file);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(proc.exitCode, null, 'a bad file never stops the server');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
  }
});
