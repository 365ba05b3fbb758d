// The plugin author's path end to end: the example package (examples/xmppd-example-modules) is built with
// tsc against `xmppd/sdk`, loaded into a real server process with `xmppd module load/reload/unload`, and
// exercised over XMPP; then, in-process, loading and unloading it leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../support/raw-client.js';
import { HOSTS, startTestServer, type TestServer } from '../support/harness.js';
import { Jid } from '../../src/core/jid.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'xmppd.js');
const EXAMPLE = join(ROOT, 'examples', 'xmppd-example-modules');
const NS_LOG = 'urn:example:message-logger';
const DISCO_INFO = "<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>";

let dir: string;
let cfg: string;
let server: ChildProcess | null = null;
let serverLog = '';

function run(file: string, args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const cli = (...args: string[]) => run(process.execPath, [BIN, ...args, '-c', cfg], 30_000);

async function cliOk(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `xmppd ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The next complete <message/> (or <iq/>) whose id is `id`. */
async function stanza(c: RawClient, name: 'message' | 'iq', id: string): Promise<string> {
  const attrs = `(?:[^>/]|/(?!>))*`; // up to the end of the start tag, '/' of '/>' excluded
  return (await c.expect(new RegExp(`<${name}\\b${attrs}\\bid=["']${id}["']${attrs}(?:/>|>[\\s\\S]*?</${name}>)`)))[0];
}

/** Attributes of every <message/> entry in a message-logger result. */
function logEntries(result: string): Array<Record<string, string>> {
  return [...result.matchAll(/<message\b([^>]*)\/>/g)].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)=["']([^"']*)["']/g)].map((a) => [a[1]!, a[2]!])));
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server log:\n${serverLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  // Build the example as its author would: `xmppd` resolves through node_modules/xmppd -> this repository
  // (whose dist/ the test run has built), compiled with the repository's TypeScript.
  const link = join(EXAMPLE, 'node_modules', 'xmppd');
  if (!(await lstat(link).catch(() => null))) {
    await mkdir(join(EXAMPLE, 'node_modules'), { recursive: true });
    await symlink(join('..', '..', '..'), link, 'dir');
  }
  const build = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', '--force', EXAMPLE]);
  assert.equal(build.code, 0, `the example package does not build:\n${build.stdout}${build.stderr}`);
  for (const m of ['word-filter', 'message-logger']) assert.ok(existsSync(join(EXAMPLE, m, 'dist', 'index.js')), `${m}/dist/index.js built`);

  dir = await mkdtemp(join(tmpdir(), 'xmppd-example-'));
  cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, [
    'hosts: [localhost]',
    'data_dir: ./data',
    'log_level: info',
    `module_paths: [${JSON.stringify(EXAMPLE)}]`,
    'listen:',
    '  - { port: 0, ip: 127.0.0.1, type: c2s }',
    'modules:',
    '  disco: {}',
    'acl:',
    '  admin:',
    '    user: [admin@localhost]',
  ].join('\n'));
});
after(async () => {
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the example modules load, reload and unload in a real server with the CLI, and do their job', async () => {
  for (const u of ['alice', 'bob', 'admin']) await cliOk('user', 'add', `${u}@localhost`, `${u}-password`);
  server = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  server.stderr!.on('data', (d) => (serverLog += d));
  server.stdout!.on('data', (d) => (serverLog += d));
  await waitFor(() => /xmppd started/.test(serverLog) || server!.exitCode !== null, 'the server to start', 20_000);
  assert.equal(server.exitCode, null, `server exited: ${serverLog}`);
  const port = (JSON.parse(await cliOk('status', '--json')).listeners as Array<{ type: string; port: number }>).find((l) => l.type === 'c2s')!.port;

  const { c: alice } = await RawClient.login(port, 'alice', 'alice-password', 'desk');
  const { c: bob } = await RawClient.login(port, 'bob', 'bob-password', 'phone');
  const { c: admin } = await RawClient.login(port, 'admin', 'admin-password', 'console');
  const say = (id: string, text: string) => alice.send(`<message to='bob@localhost/phone' type='chat' id='${id}'><body>${text}</body></message>`);

  // word-filter, mask mode: whole words in any case are replaced, other words left alone.
  await cliOk('module', 'load', 'word-filter', '--options', '{"words":["darn"]}');
  say('m1', 'darn it');
  assert.match(await stanza(bob, 'message', 'm1'), /<body>\*\*\* it<\/body>/);
  say('m2', 'Darn, stop darning');
  assert.match(await stanza(bob, 'message', 'm2'), /<body>\*\*\*, stop darning<\/body>/);

  // reject mode: alice gets policy-violation, bob gets nothing (the next message he sees is m4).
  await cliOk('module', 'reload', 'word-filter', '--options', '{"words":["darn"],"mode":"reject"}');
  say('m3', 'darn it again');
  const refused = await stanza(alice, 'message', 'm3');
  assert.match(refused, /type=["']error["']/);
  assert.match(refused, /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
  assert.doesNotMatch(refused, /darn/, 'the bounce passes the filter too');
  say('m4', 'all clear');
  const next = (await bob.expect(/<message\b[\s\S]*?<\/message>/))[0];
  assert.match(next, /id=["']m4["']/, `bob must not receive the refused message: ${next}`);

  // a bad option is refused with its path and changes nothing
  const bad = await cli('module', 'reload', 'word-filter', '--options', '{"words":["darn"],"mode":"block"}');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /modules\.word-filter\.mode: must be one of mask, reject/);
  say('m5', 'darn');
  assert.match(await stanza(alice, 'message', 'm5'), /<policy-violation /, 'still in reject mode');

  // unloaded: messages pass unchanged
  await cliOk('module', 'unload', 'word-filter');
  say('m6', 'darn it');
  assert.match(await stanza(bob, 'message', 'm6'), /<body>darn it<\/body>/);

  // message-logger: advertised in disco, records alice's message (metadata only), admins read it
  await cliOk('module', 'load', 'message-logger');
  admin.send(DISCO_INFO.replace('ID', 'd1'));
  assert.match(await stanza(admin, 'iq', 'd1'), new RegExp(`<feature var=["']${NS_LOG}["']`));
  say('m7', 'meet at noon');
  await stanza(bob, 'message', 'm7');
  admin.send(`<iq type='get' to='localhost' id='log1'><query xmlns='${NS_LOG}'/></iq>`);
  const log1 = await stanza(admin, 'iq', 'log1');
  assert.match(log1, /type=["']result["']/);
  const entries = logEntries(log1);
  assert.equal(entries.length, 1, `only what was sent while loaded: ${log1}`);
  assert.deepEqual({ ...entries[0], stamp: undefined }, { from: 'alice@localhost/desk', to: 'bob@localhost/phone', type: 'chat', length: '12', stamp: undefined });
  assert.doesNotMatch(log1, /noon/);
  alice.send(`<iq type='get' to='localhost' id='log2'><query xmlns='${NS_LOG}'/></iq>`);
  const log2 = await stanza(alice, 'iq', 'log2');
  assert.match(log2, /type=["']error["'][\s\S]*<forbidden /);
  // logging rule: metadata at info, never the body
  await waitFor(() => /"msg":"message sent"[^\n]*"length":12/.test(serverLog), 'the message-logger log line');
  assert.doesNotMatch(serverLog, /meet at noon/, 'bodies are logged only at debug');

  // keep: reload with keep 1 starts afresh and remembers only the last message
  await cliOk('module', 'reload', 'message-logger', '--options', '{"keep":1}');
  say('m8', 'one');
  say('m9', 'three');
  await stanza(bob, 'message', 'm8');
  await stanza(bob, 'message', 'm9');
  admin.send(`<iq type='get' to='localhost' id='log3'><query xmlns='${NS_LOG}'/></iq>`);
  assert.deepEqual(logEntries(await stanza(admin, 'iq', 'log3')).map((e) => e.length), ['5']);

  // unload: gone from the module list, the feature withdrawn, the IQ unanswered
  await cliOk('module', 'unload', 'message-logger');
  const list = await cliOk('module', 'list');
  assert.doesNotMatch(list, /word-filter|message-logger/);
  assert.match(list, /^disco +running/m);
  admin.send(DISCO_INFO.replace('ID', 'd2'));
  assert.doesNotMatch(await stanza(admin, 'iq', 'd2'), new RegExp(NS_LOG));
  admin.send(`<iq type='get' to='localhost' id='log4'><query xmlns='${NS_LOG}'/></iq>`);
  assert.match(await stanza(admin, 'iq', 'log4'), /<service-unavailable /);

  for (const c of [alice, bob, admin]) c.close();
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => (server!.exitCode !== null ? r(server!.exitCode) : server!.once('exit', (cd) => r(cd))));
  assert.equal(code, 0, serverLog.slice(-2000));
  server = null;
});

/**
 * Live intervals, unref'd ones included (process.getActiveResourcesInfo() lists only ref'd timers): the
 * global setInterval/clearInterval/clearTimeout are wrapped while the in-process test runs.
 */
const liveIntervals = new Set<unknown>();
function trackIntervals(): () => void {
  const real = { setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval, clearTimeout: globalThis.clearTimeout };
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const t = real.setInterval(...args);
    liveIntervals.add(t);
    return t;
  }) as unknown as typeof setInterval;
  globalThis.clearInterval = ((t?: NodeJS.Timeout | string | number) => {
    liveIntervals.delete(t);
    real.clearInterval(t);
  }) as typeof clearInterval;
  globalThis.clearTimeout = ((t?: NodeJS.Timeout | string | number) => {
    liveIntervals.delete(t);
    real.clearTimeout(t);
  }) as typeof clearTimeout;
  return () => Object.assign(globalThis, real);
}

test('in-process: the example modules leave hooks, IQ handlers, disco, metrics and timers at their baseline', async () => {
  let t: TestServer | undefined;
  const untrack = trackIntervals();
  try {
    t = await startTestServer({ module_paths: [EXAMPLE] });
    for (const u of ['alice', 'bob', 'carol', 'admin']) await t.addUser(u, 'pw');
    const mm = t.server.modules;
    const core = t.server.core;
    // clients first, so their sessions are part of the baseline
    const { c: alice } = await RawClient.login(t.c2sPort, 'alice', 'pw', 'a');
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw', 'b');
    const { c: admin } = await RawClient.login(t.c2sPort, 'admin', 'pw', 'x');
    const footprint = async () => ({
      intervals: liveIntervals.size,
      hooks: core.hooks.count(),
      iq: core.iq.count(),
      disco: core.disco.size(),
      services: core.services.size(),
      metrics: (await core.metrics.registry.getMetricsAsJSON()).length,
      timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
    });
    const baseline = await footprint();

    // no words: word-filter registers nothing at all
    await mm.load('word-filter', {});
    assert.deepEqual(await footprint(), baseline);
    await mm.unload('word-filter');

    await mm.load('word-filter', { words: ['darn'], replacement: '[censored]' });
    await mm.load('message-logger', { keep: 10 });
    const loaded = await footprint();
    // per virtual host: one hook chain and one IQ handler set per (hook, host)
    assert.equal(loaded.hooks, baseline.hooks + 3 * HOSTS.length, 'filter_packet, user_send_packet, user_removed');
    assert.equal(loaded.iq, baseline.iq + HOSTS.length);
    assert.equal(loaded.metrics, baseline.metrics + 2);
    assert.ok(core.disco.featuresOf('localhost', 'server').includes(NS_LOG));
    for (let i = 0; i < 3; i++) {
      await mm.reload('word-filter');
      await mm.reload('message-logger');
    }
    assert.deepEqual(await footprint(), loaded, 'reloads leak nothing');

    // exercise them: the replacement option, the counter, and forgetting a deleted account's messages
    alice.send("<message to='bob@localhost/b' type='chat' id='w1'><body>oh darn</body></message>");
    assert.match(await stanza(bob, 'message', 'w1'), /<body>oh \[censored\]<\/body>/);
    assert.match(await core.metrics.registry.getSingleMetricAsString('word_filter_messages_total'), /action="masked"\} 1\b/);
    const { c: carol } = await RawClient.login(t.c2sPort, 'carol', 'pw', 'c');
    carol.send("<message to='bob@localhost/b' type='chat' id='w2'><body>hi bob</body></message>");
    await stanza(bob, 'message', 'w2');
    admin.send(`<iq type='get' to='localhost' id='l1'><query xmlns='${NS_LOG}'/></iq>`);
    assert.deepEqual(logEntries(await stanza(admin, 'iq', 'l1')).map((e) => e.from), ['alice@localhost/a', 'carol@localhost/c']);
    carol.close();
    await core.accounts.remove(Jid.parse('carol@localhost'));
    admin.send(`<iq type='get' to='localhost' id='l2'><query xmlns='${NS_LOG}'/></iq>`);
    assert.deepEqual(logEntries(await stanza(admin, 'iq', 'l2')).map((e) => e.from), ['alice@localhost/a']);

    await mm.unload('message-logger');
    await mm.unload('word-filter');
    assert.ok(!core.disco.featuresOf('localhost', 'server').includes(NS_LOG), 'feature withdrawn');
    await waitFor(() => core.sessions.resources(Jid.parse('carol@localhost')).length === 0, 'carol\'s session to end');
    assert.deepEqual(await footprint(), baseline, 'unload returns to the baseline');
    assert.equal(mm.info('word-filter'), undefined);
    for (const c of [alice, bob, admin]) c.close();
  } finally {
    untrack();
    await t?.stop();
  }
});
