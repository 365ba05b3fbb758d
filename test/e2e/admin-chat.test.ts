// The chat operations an application backend drives through the admin command registry (here in-process,
// as the control socket, REST and ad-hoc commands run them): send a message or any stanza, roster
// get/add/remove with pushes, vCard get/set, offline count, stats. Then the CLI, as a separate process,
// for the data verbs on a stopped server (progress on stderr) and a few chat verbs on a running one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { admin, iq, vcardOf } from './portable-support.js';

let t: TestServer;
let alice: RawClient;

before(async () => {
  t = await startTestServer();
  for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`);
  alice = (await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'desk')).c;
  await iq(alice, "<query xmlns='jabber:iq:roster'/>"); // an interested resource: gets roster pushes
});
after(async () => {
  alice?.close();
  await t?.stop();
});

test('send.message delivers from an account or from the host; bad input is refused', async () => {
  const r = await admin(t, 'send.message', { from: 'bob@localhost', to: 'alice@localhost', body: 'hi & <bye>' });
  assert.equal(r.sent, true);
  const got = (await alice.expect(new RegExp(`<message\\b[^>]*id=["']${r.id}["'][\\s\\S]*?</message>`)))[0];
  assert.match(got, /from=["']bob@localhost["']/);
  assert.match(got, /type=["']chat["']/);
  assert.match(got, /<body>hi &amp; &lt;bye&gt;<\/body>/);
  const h = await admin(t, 'send.message', { from: 'localhost', to: 'alice@localhost/desk', body: 'maintenance at 6', type: 'headline' });
  assert.match((await alice.expect(new RegExp(`<message\\b[^>]*id=["']${h.id}["'][\\s\\S]*?</message>`)))[0], /(?=.*from=["']localhost["'])(?=.*type=["']headline["'])/);

  await assert.rejects(admin(t, 'send.message', { from: 'eve@evil.example', to: 'alice@localhost', body: 'x' }), /from must be an address of this server/);
  await assert.rejects(admin(t, 'send.message', { from: 'bob@localhost', to: 'alice@localhost', body: 'x', type: 'shout' }), /type must be one of chat, normal, headline, groupchat/);
  await assert.rejects(admin(t, 'send.message', { from: 'bob@localhost', to: 'alice@localhost', body: '' }), /a non-empty body is required/);
  await assert.rejects(admin(t, 'send.message', { from: 'bob@localhost', to: 'not a jid@@', body: 'x' }), /to "not a jid@@" is not a valid JID/);
  await assert.rejects(runCommand({ core: t.server.core }, 'send.message', { from: 'bob@localhost', to: 'alice@localhost', body: 'x' }), /the server is not running/);
});

test('send.stanza routes a message, presence or iq with the given addresses', async () => {
  await admin(t, 'send.stanza', { from: 'carol@localhost/bot', to: 'alice@localhost', stanza: "<message type='normal' id='s1'><body>raw</body><x xmlns='urn:example:data'>1</x></message>" });
  const m = (await alice.expect(/<message\b[^>]*id=["']s1["'][\s\S]*?<\/message>/))[0];
  assert.match(m, /from=["']carol@localhost\/bot["']/);
  assert.match(m, /<x xmlns=["']urn:example:data["']>1<\/x>/);
  const r = await admin(t, 'send.stanza', { from: 'localhost', to: 'alice@localhost/desk', stanza: "<iq type='get' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>" });
  assert.match(r.id, /^[0-9a-f]{16}$/, 'an iq gets an id when it has none');
  await alice.expect(new RegExp(`<iq\\b(?=[^>]*id=["']${r.id}["'])(?=[^>]*from=["']localhost["'])(?=[^>]*type=["']get["'])[^>]*><ping xmlns=["']urn:xmpp:ping["']/>`));

  await assert.rejects(admin(t, 'send.stanza', { from: 'localhost', to: 'alice@localhost', stanza: '<message><body>' }), /not well-formed XML/);
  await assert.rejects(admin(t, 'send.stanza', { from: 'localhost', to: 'alice@localhost', stanza: '<stream:features/>' }), /must be a <message\/>, <presence\/> or <iq\/>/);
  await assert.rejects(admin(t, 'send.stanza', { from: 'localhost', to: 'alice@localhost', stanza: "<message xmlns='jabber:server'/>" }), /must be in jabber:client/);
  await assert.rejects(admin(t, 'send.stanza', { from: 'localhost', to: 'alice@localhost', stanza: '<iq/>' }), /needs type get, set, result or error/);
});

test('roster.add, roster.get and roster.remove go through the roster service: the owner gets pushes', async () => {
  const added = await admin(t, 'roster.add', { jid: 'alice@localhost', contact: 'bob@localhost/ignored', name: 'Bob', groups: 'Work, Friends', subscription: 'both' });
  assert.equal(added.added, 'bob@localhost');
  const push = (await alice.expect(/<iq\b[^>]*type=["']set["'][^>]*>[\s\S]*?<\/iq>/))[0];
  assert.match(push, /<item (?=[^>]*jid=["']bob@localhost["'])(?=[^>]*name=["']Bob["'])(?=[^>]*subscription=["']both["'])[^>]*><group>Work<\/group><group>Friends<\/group><\/item>/);
  const changed = await admin(t, 'roster.add', { jid: 'alice@localhost', contact: 'bob@localhost', groups: ['Family'] });
  assert.equal(changed.updated, 'bob@localhost');
  assert.deepEqual(changed.item, { jid: 'bob@localhost', name: 'Bob', groups: ['Family'], subscription: 'both' });
  await alice.expect(/<iq\b[^>]*type=["']set["'][^>]*>[\s\S]*?<group>Family<\/group>[\s\S]*?<\/iq>/);
  assert.deepEqual((await admin(t, 'roster.get', { jid: 'alice@localhost' })).items, [changed.item]);

  const removed = await admin(t, 'roster.remove', { jid: 'alice@localhost', contact: 'bob@localhost' });
  assert.equal(removed.removed, 'bob@localhost');
  await alice.expect(/<item (?=[^>]*jid=["']bob@localhost["'])(?=[^>]*subscription=["']remove["'])/);
  assert.deepEqual((await admin(t, 'roster.get', { jid: 'alice@localhost' })).items, []);
  await assert.rejects(admin(t, 'roster.remove', { jid: 'alice@localhost', contact: 'bob@localhost' }), /bob@localhost is not in the roster of alice@localhost/);
  await assert.rejects(admin(t, 'roster.add', { jid: 'alice@localhost', contact: 'bob@localhost', subscription: 'all' }), /subscription must be one of none, to, from, both/);
  await assert.rejects(admin(t, 'roster.get', { jid: 'nobody@localhost' }), /nobody@localhost does not exist/);
  await assert.rejects(admin(t, 'roster.add', { jid: 'alice@localhost', contact: 'alice@localhost' }), /cannot hold its own account/);
});

test('vcard.set replaces the vCard clients read; vcard.get returns it', async () => {
  const card = "<vCard xmlns='vcard-temp'><FN>Carol &amp; Co</FN><ORG><ORGNAME>Example</ORGNAME></ORG></vCard>";
  await admin(t, 'vcard.set', { jid: 'carol@localhost', vcard: card });
  assert.match(await vcardOf(alice, 'carol@localhost'), /<FN>Carol &amp; Co<\/FN><ORG><ORGNAME>Example<\/ORGNAME><\/ORG>/);
  assert.match((await admin(t, 'vcard.get', { jid: 'carol@localhost' })).vcard, /^<vCard xmlns=["']vcard-temp["']><FN>Carol &amp; Co<\/FN>/);
  await assert.rejects(admin(t, 'vcard.get', { jid: 'bob@localhost' }), /bob@localhost has no vCard/);
  await assert.rejects(admin(t, 'vcard.set', { jid: 'carol@localhost', vcard: '<vCard><FN>x</FN></vCard>' }), /must be <vCard xmlns='vcard-temp'>/);
  await assert.rejects(admin(t, 'vcard.set', { jid: 'carol@localhost', vcard: '<vCard' }), /not well-formed XML/);
});

test('offline.count counts what the offline module stored; stats reports accounts, sessions and stanzas', async () => {
  assert.equal((await admin(t, 'offline.count', { jid: 'carol@localhost' })).count, 0);
  await admin(t, 'send.message', { from: 'bob@localhost', to: 'carol@localhost', body: 'one' });
  await admin(t, 'send.message', { from: 'bob@localhost', to: 'carol@localhost', body: 'two', type: 'normal' });
  assert.equal((await admin(t, 'offline.count', { jid: 'carol@localhost' })).count, 2);

  const s = await admin(t, 'stats', {});
  assert.deepEqual(s.accounts, { localhost: 3, 'example.test': 0 }, 'every host, those without accounts too');
  assert.equal(s.sessions.total, 1);
  assert.deepEqual(s.sessions.by_host, { localhost: 1, 'example.test': 0 });
  assert.equal(s.s2s_streams, 0);
  assert.ok(Number.isInteger(s.uptime_s) && s.uptime_s >= 0);
  assert.ok(s.stanzas.in.iq >= 2, JSON.stringify(s.stanzas));
  assert.ok(s.stanzas.routed >= 6, JSON.stringify(s.stanzas));
  assert.ok(s.stanzas.out >= 4, JSON.stringify(s.stanzas));
  assert.ok(s.auth.success >= 1);
});

// ---- the CLI, as a separate process ------------------------------------------------------------------

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/xep0227/main.xml', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('CLI: import, export, backup and restore on a stopped server; chat verbs against a running one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-cli-data-'));
  let server: ChildProcess | null = null;
  try {
    const cfg = join(dir, 'xmppd.yaml');
    await writeFile(cfg, ['hosts: [localhost]', 'data_dir: ./data', 'log_level: info', 'listen:', '  - { port: 0, ip: 127.0.0.1, type: c2s }', ''].join('\n'));

    const imp = await cli('import', FIXTURE, '--json', '-c', cfg);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stderr, /^import: done, 4 users from 2 file\(s\)$/m, 'progress on stderr');
    const report = JSON.parse(imp.stdout);
    assert.equal(report.created, 4);
    assert.deepEqual(report.noCredentials, ['ivy@localhost']);

    const out = join(dir, 'out.xml.gz');
    const exp2 = await cli('export', out, '--host', 'localhost', '-c', cfg);
    assert.equal(exp2.code, 0, exp2.stderr);
    assert.match(exp2.stderr, /^export: localhost: done, 4 users$/m);
    assert.ok(existsSync(out));

    const bak = join(dir, 'backup.jsonl');
    const b = await cli('backup', bak, '-c', cfg);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await cli('user', 'del', 'erin@localhost', '-c', cfg)).code, 0);
    const refused = await cli('restore', bak, '-c', cfg); // the deletion is newer than the backup
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /needs force \(--force\): the backup was taken at transaction \d+, the store is at \d+ \([1-9]\d* transactions newer than the backup\)/);
    const r = await cli('restore', bak, '--force', '--json', '-c', cfg);
    assert.equal(r.code, 0, r.stderr);
    const restored = JSON.parse(r.stdout);
    assert.equal(restored.method, 'snapshot', 'server stopped: loaded as is, revisions and lastApplied kept');
    assert.ok(restored.replaced.newerTransactions > 0 && restored.replaced.tables.accounts.added === 1, JSON.stringify(restored.replaced));
    assert.match(r.stderr, /^restore: done, \d+ rows$/m);
    assert.equal((await cli('user', 'list', '-c', cfg)).stdout.trim(), ['ACCOUNT', 'dora@localhost', 'erin@localhost', 'hal@localhost', 'ivy@localhost'].join('\n'));

    server = spawn(process.execPath, [BIN, 'start', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stderr!.on('data', (d) => (log += d));
    const deadline = Date.now() + 20_000;
    while (!/xmppd started/.test(log)) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start: ${log}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const add = await cli('roster', 'add', 'hal@localhost', 'dora@localhost', '--name', 'Dora', '--groups', 'a,b', '-c', cfg);
    assert.equal(add.code, 0, add.stderr);
    const get = await cli('roster', 'get', 'hal@localhost', '--json', '-c', cfg);
    assert.deepEqual(JSON.parse(get.stdout).items, [{ jid: 'dora@localhost', name: 'Dora', groups: ['a', 'b'], subscription: 'none' }]);
    const send = await cli('send', 'message', 'hal@localhost', 'erin@localhost', 'hello from the CLI', '-c', cfg);
    assert.equal(send.code, 0, send.stderr);
    const count = await cli('offline-count', 'erin@localhost', '--json', '-c', cfg);
    assert.equal(JSON.parse(count.stdout).count, 1);
    const vcard = await cli('vcard', 'get', 'dora@localhost', '-c', cfg);
    assert.match(vcard.stdout, /^<vCard xmlns="vcard-temp"><FN>Dora Explorer<\/FN>/);
    const stats = await cli('stats', '--json', '-c', cfg);
    assert.deepEqual(JSON.parse(stats.stdout).accounts, { localhost: 4 });
    // the running server does the import itself (an absolute path is sent); progress goes to its log
    const again = await cli('import', FIXTURE, '--json', '-c', cfg);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).updated, 4);
    assert.match(log, /import: done, 4 users/);
    const bad = await cli('roster', 'add', 'nobody@localhost', 'dora@localhost', '-c', cfg);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /nobody@localhost does not exist/);
    assert.doesNotMatch(log, /hal-pw|zed-pw/, 'no password from the file in the server log');
  } finally {
    server?.kill('SIGTERM');
    if (server && server.exitCode === null) await new Promise((res) => server!.once('exit', res));
    await rm(dir, { recursive: true, force: true });
  }
});
