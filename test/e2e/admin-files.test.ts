// File-writing and file-reading admin commands over REST and XEP-0050 ad-hoc commands stay inside
// admin_files_dir (no absolute path, no "..", no symbolic link out, no overwrite without overwrite: true);
// the local CLI (control socket) still names any path. Exports never put a user's text on a line of its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { callServer } from '../../src/cli/control-client.js';
import { command, notes, sessionOf, statusOf, submit } from '../../modules/adhoc/test-support.js';
import { iq } from './portable-support.js';
import { until } from '../support/until.js';

const TOKEN = 'admin-files-test-token-0123456789-abcdefghijklmnop';
const XMPPD = 'urn:xmppd:admin';
let t: TestServer;
let base: string;
let files: string; // admin_files_dir
let outside: string; // a directory the server user can write, outside admin_files_dir
let adminClient: RawClient;

before(async () => {
  outside = await mkdtemp(join(tmpdir(), 'xmppd-outside-'));
  t = await startTestServer({
    api_tokens: [`sha256:${createHash('sha256').update(TOKEN).digest('hex')}`],
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http' },
    ],
    modules: { disco: {}, ping: {}, roster: {}, vcard: {}, private: {}, offline: {}, adhoc: {} },
    acl: { admin: { user: ['admin@localhost'] } },
    access_rules: {},
  });
  files = t.server.core.config.admin_files_dir;
  base = `http://127.0.0.1:${t.server.port('http')}`;
  await t.addUser('admin', 'admin-password');
  await t.addUser('alice', 'alice-password');
  adminClient = (await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'desk')).c;
});
after(async () => {
  adminClient.close();
  await t.stop();
  await rm(outside, { recursive: true, force: true });
});

const post = async (cmd: string, body: unknown): Promise<{ status: number; body: any }> => {
  const res = await fetch(`${base}/api/${cmd}`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};
const exists = (p: string) => lstat(p).then(() => true, () => false);

/** Execute an urn:xmppd:admin command and submit its form; the completed answer. */
async function adhoc(id: string, fields: Record<string, string>): Promise<string> {
  const form = await command(adminClient, `${XMPPD}#${id}`);
  assert.equal(statusOf(form), 'executing', form);
  return command(adminClient, `${XMPPD}#${id}`, { sessionid: sessionOf(form), payload: submit(fields) });
}

test('REST export and backup refuse absolute paths and ".." and write nothing there', async () => {
  for (const cmd of ['data.export', 'backup']) {
    const abs = join(outside, `${cmd}.out`);
    let r = await post(cmd, { file: abs });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.error, /is an absolute path: name a file inside the admin files directory \(admin_files_dir\)/);
    assert.equal(await exists(abs), false);
    for (const name of ['../escape.out', 'sub/../../escape.out', '..']) {
      r = await post(cmd, { file: name });
      assert.equal(r.status, 400, `${cmd} ${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, /contains "\.\."/);
    }
    assert.equal(await exists(join(files, '..', 'escape.out')), false);
  }
});

test('REST export: the admin files directory is created 0700, the file 0600, and an existing file is replaced only with overwrite: true', async () => {
  let r = await post('data.export', { file: 'first.xml' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.result.file, 'first.xml', 'the answer names the file as the caller did, not the server path');
  assert.equal((await stat(files)).mode & 0o777, 0o700);
  assert.equal((await stat(join(files, 'first.xml'))).mode & 0o777, 0o600);
  const before = await readFile(join(files, 'first.xml'), 'utf8');
  await t.addUser('carol', 'carol-password');
  r = await post('data.export', { file: 'first.xml' });
  assert.equal(r.status, 409);
  assert.match(r.body.error, /"first\.xml" already exists; pass overwrite: true to replace it/);
  assert.equal(await readFile(join(files, 'first.xml'), 'utf8'), before, 'the existing file is untouched');
  r = await post('data.export', { file: 'first.xml', overwrite: true });
  assert.equal(r.status, 200);
  assert.match(await readFile(join(files, 'first.xml'), 'utf8'), /<user name=["']carol["']/);
  // backup follows the same rule
  assert.equal((await post('backup', { file: 'b.jsonl' })).status, 200);
  assert.equal((await post('backup', { file: 'b.jsonl' })).status, 409);
  assert.equal((await post('backup', { file: 'b.jsonl', overwrite: true })).status, 200);
  assert.deepEqual((await readdir(files)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file is left');
});

test('REST: a symbolic link out of the admin files directory is not followed, to write or to read', async () => {
  await mkdir(files, { recursive: true });
  await symlink(outside, join(files, 'out'));
  const target = join(outside, 'victim.txt');
  await writeFile(target, 'precious\n');
  await symlink(target, join(files, 'link.xml'));
  let r = await post('data.export', { file: 'out/x.xml' });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /leads outside the admin files directory/);
  assert.equal(await exists(join(outside, 'x.xml')), false);
  for (const overwrite of [false, true]) {
    r = await post('backup', { file: 'link.xml', overwrite });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /is a symbolic link; refused/);
  }
  assert.equal(await readFile(target, 'utf8'), 'precious\n');
  // reading: through the link to a directory, or the link to a file
  for (const [cmd, name] of [['data.import', 'link.xml'], ['restore', 'out/victim.txt'], ['data.import', 'out']]) {
    r = await post(cmd!, { file: name });
    assert.equal(r.status, 400, `${cmd} ${name}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error, /leads outside the admin files directory/);
  }
});

test('REST import of a file outside names neither it nor its size; a missing one is 404', async () => {
  const secret = join(outside, 'secret.bin');
  await writeFile(secret, Buffer.alloc(12345, 0x41));
  let r = await post('data.import', { file: secret });
  assert.equal(r.status, 400);
  assert.doesNotMatch(r.body.error, /12345|byte/);
  r = await post('data.import', { file: 'nothing-here.xml' });
  assert.equal(r.status, 404);
  assert.match(r.body.error, /no file "nothing-here\.xml" in the admin files directory/);
  // inside the directory, a non-XML file gets a clear error and no offsets
  await writeFile(join(files, 'junk.bin'), Buffer.alloc(5000, 0x41));
  r = await post('data.import', { file: 'junk.bin' });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /^junk\.bin: this is not a XEP-0227 file: it is not XML/);
  assert.doesNotMatch(r.body.error, /5000|byte/);
});

test('export: what a user typed in a vCard never starts a line of the file', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'v');
  const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvil attacker@host';
  await iq(c, `<vCard xmlns='vcard-temp'><FN>Alice</FN><DESC>hello\n${line}\r\n* * * * * root sh\n</DESC></vCard>`, 'set');
  c.close();
  const r = await post('data.export', { file: 'vcard-lines.xml' });
  assert.equal(r.status, 200);
  const text = await readFile(join(files, 'vcard-lines.xml'), 'utf8');
  assert.ok(text.includes('ssh-ed25519'), 'the vCard is exported');
  for (const l of text.split('\n')) assert.ok(l === '' || l.startsWith('<'), `a line starts with markup: ${JSON.stringify(l.slice(0, 60))}`);
  // and it reads back the same
  await rm(join(files, 'vcard-lines.xml'));
});

test('ad-hoc export and backup: absolute and ".." refused, overwrite refused then allowed', async () => {
  const abs = join(outside, 'adhoc.xml');
  let r = await adhoc('data-export', { file: abs });
  assert.deepEqual(notes(r).map((n) => n[0]), ['error']);
  assert.match(notes(r)[0]![1], /is an absolute path/);
  assert.equal(await exists(abs), false);
  r = await adhoc('backup', { file: '../adhoc.jsonl' });
  assert.match(notes(r)[0]![1], /contains &quot;\.\.&quot;|contains "\.\."/);
  r = await adhoc('data-export', { file: 'out/adhoc.xml' }); // 'out' links to a directory outside (test above)
  assert.match(notes(r)[0]![1], /leads outside the admin files directory/);
  assert.equal(await exists(join(outside, 'adhoc.xml')), false);
  r = await adhoc('data-export', { file: 'adhoc.xml' });
  assert.equal(statusOf(r), 'completed');
  assert.deepEqual(notes(r).filter((n) => n[0] === 'error'), [], r);
  assert.ok(await exists(join(files, 'adhoc.xml')));
  r = await adhoc('data-export', { file: 'adhoc.xml' });
  assert.match(notes(r)[0]![1], /already exists; pass overwrite: true/);
  r = await adhoc('data-export', { file: 'adhoc.xml', overwrite: '1' });
  assert.deepEqual(notes(r).filter((n) => n[0] === 'error'), [], r);
  r = await adhoc('data-import', { file: join(outside, 'secret.bin') });
  assert.match(notes(r)[0]![1], /is an absolute path/);
});

test('the local CLI (control socket) writes and reads any path it names', async () => {
  const file = join(outside, 'cli-export.xml');
  const r = (await callServer(t.server.core.config.control_socket, 'data.export', { file })) as { users: number };
  assert.ok(r.users >= 2);
  assert.match(await readFile(file, 'utf8'), /<user name=["']alice["']/);
  await callServer(t.server.core.config.control_socket, 'data.export', { file }); // the operator replaces their own file
  const i = (await callServer(t.server.core.config.control_socket, 'data.import', { file })) as { users: number };
  assert.equal(i.users, r.users);
});

/** A file of n users in the admin files directory (no credentials: each costs a key derivation, so it runs a while). */
async function manyUsers(name: string, prefix: string, n: number): Promise<void> {
  await mkdir(files, { recursive: true });
  const users = Array.from({ length: n }, (_, i) => `<user name='${prefix}${i}'/>`).join('\n');
  await writeFile(join(files, name), `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>${users}</host></server-data>`);
}
const countOf = async (prefix: string) => (await t.server.core.accounts.list('localhost')).filter((u) => u.startsWith(prefix)).length;

test('a REST import stops when the client hangs up; an ad-hoc import stops when the requesting stream closes', async () => {
  const n = 3000;
  await manyUsers('rest-long.xml', 'restlong', n);
  const hangup = new AbortController();
  const req = fetch(`${base}/api/data.import`, {
    method: 'POST', signal: hangup.signal,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ file: 'rest-long.xml' }),
  }).catch((err: Error) => err);
  await until(async () => (await countOf('restlong')) >= 3, 'the REST import started');
  hangup.abort();
  await req;
  const settled = await until(async () => {
    const a = await countOf('restlong');
    await new Promise((r) => setTimeout(r, 300));
    return (await countOf('restlong')) === a ? a + 1 : 0;
  }, 'the REST import stopped');
  assert.ok(settled - 1 < n, `stopped early: ${settled - 1} of ${n}`);

  await manyUsers('adhoc-long.xml', 'adhoclong', n);
  // A stream handles its stanzas in order (RFC 6120 §10.1), so the requester stops a running command by
  // going away: its command sessions end with its stream (XEP-0050 §3.3) and the import with them.
  const { c: bulk } = await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'bulk');
  const node = `${XMPPD}#data-import`;
  const form = await command(bulk, node);
  void command(bulk, node, { sessionid: sessionOf(form), payload: submit({ file: 'adhoc-long.xml' }) }).catch(() => undefined);
  await until(async () => (await countOf('adhoclong')) >= 3, 'the ad-hoc import started');
  bulk.close();
  const a = await until(async () => {
    const x = await countOf('adhoclong');
    await new Promise((r) => setTimeout(r, 300));
    return (await countOf('adhoclong')) === x ? x + 1 : 0;
  }, 'the ad-hoc import stopped') - 1;
  assert.ok(a < n, `stopped early: ${a} of ${n}`);
});
