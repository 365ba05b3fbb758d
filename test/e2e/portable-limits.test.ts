// XEP-0227 import bounds: import_limits (total bytes, bytes per <user>, per text node, nesting), the data
// modules' own limits (vcard.max_size, private.max_size, roster.max_items, offline.max_messages), no link
// followed out of the import directory, clear errors for DTDs and non-XML files, and cancellation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { Jid } from '../../src/core/jid.js';
import { admin, iq, privateOf, rosterOf, target, vcardOf } from './portable-support.js';

const PIE = 'urn:xmpp:pie:0';
let t: TestServer;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-import-limits-'));
  t = await startTestServer({
    modules: {
      disco: {}, ping: {}, presence: {}, roster: { max_items: 2 }, vcard: {}, private: { max_size: 512 }, offline: { max_messages: 2 },
    },
    import_limits: { max_text_bytes: 256 * 1024, max_user_bytes: 1024 * 1024, max_bytes: 8 * 1024 * 1024, max_depth: 64 },
  });
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const doc = (users: string) => `<?xml version='1.0'?>\n<server-data xmlns='${PIE}'><host jid='localhost'>${users}</host></server-data>\n`;
const user = (name: string, body = '') => `<user name='${name}' password='${name}-password'>${body}</user>`;
async function file(name: string, content: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}
const exists = (local: string) => t.server.core.accounts.exists(Jid.of(local, 'localhost'));

test('200k nested elements: a clear error about nesting, not a stack overflow; the server serves on', async () => {
  const n = 200_000;
  const p = await file('deep.xml', doc(user('deep', `<foo xmlns='urn:x'>${'<a>'.repeat(n)}${'</a>'.repeat(n)}</foo>`)));
  await assert.rejects(admin(t, 'data.import', { file: p }), /deep\.xml: elements are nested more than 64 deep \(import_limits\.max_depth\)/);
  assert.equal(await exists('deep'), false);
});

test('an oversized text node is refused before it is buffered', async () => {
  const p = await file('bigtext.xml', doc(user('bigtext', `<vCard xmlns='vcard-temp'><DESC>${'x'.repeat(1024 * 1024)}</DESC></vCard>`)));
  await assert.rejects(admin(t, 'data.import', { file: p }), /bigtext\.xml: a text node is longer than 262144 characters \(import_limits\.max_text_bytes\)/);
  // an attribute value is bounded the same way
  const q = await file('bigattr.xml', doc(`<user name='${'y'.repeat(300 * 1024)}'/>`));
  await assert.rejects(admin(t, 'data.import', { file: q }), /an attribute value is longer than 262144 characters/);
});

test('a <user> over import_limits.max_user_bytes is skipped and reported; the others are imported', async () => {
  const chunk = `<message xmlns='jabber:client' from='x@example.net' to='huge@localhost'><body>${'z'.repeat(200 * 1024)}</body></message>`;
  const p = await file('bigusers.xml', doc(user('before1') + user('huge', `<offline-messages>${chunk.repeat(6)}</offline-messages>`) + user('after1')));
  const r = await admin(t, 'data.import', { file: p });
  assert.deepEqual(r.skipped, [{ jid: 'huge@localhost', reason: 'larger than 1048576 bytes (import_limits.max_user_bytes)' }]);
  assert.equal(r.users, 2);
  assert.equal(await exists('huge'), false);
  assert.ok((await exists('before1')) && (await exists('after1')));
});

test('the total size is bounded by import_limits.max_bytes', async () => {
  const body = `<query xmlns='jabber:iq:private'><x xmlns='urn:pad'>${'p'.repeat(100)}</x></query>`;
  // users of a host this server does not serve are read and counted, not stored: a cheap way to a big file
  const users = Array.from({ length: 40_000 }, (_, i) => user(`many${i}`, body)).join('\n');
  const p = await file('total.xml', doc(user('first')).replace('</server-data>', `<host jid='elsewhere.example'>${users}</host></server-data>`));
  await assert.rejects(admin(t, 'data.import', { file: p }), /the import is larger than 8388608 bytes \(import_limits\.max_bytes\); the users read so far were imported/);
});

test('module limits apply to imported data: vcard.max_size, private.max_size, roster.max_items, offline.max_messages', async () => {
  const bigCard = `<vCard xmlns='vcard-temp'><FN>Big</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${'QUFB'.repeat(20_000)}</BINVAL></PHOTO></vCard>`;
  const okCard = "<vCard xmlns='vcard-temp'><FN>Fine</FN></vCard>";
  const roster = "<query xmlns='jabber:iq:roster'><item jid='a@example.net' subscription='both'/><item jid='b@example.net' subscription='both'/><item jid='c@example.net' subscription='both'/></query>";
  const priv = `<query xmlns='jabber:iq:private'><small xmlns='urn:small'>ok</small><big xmlns='urn:big'>${'b'.repeat(1000)}</big></query>`;
  const msg = (i: number) => `<message xmlns='jabber:client' from='x@example.net' to='lim@localhost' type='chat'><body>m${i}</body></message>`;
  const p = await file('limits.xml', doc(
    user('lim', bigCard + roster + priv + `<offline-messages>${msg(1)}${msg(2)}${msg(3)}</offline-messages>`) + user('fine', okCard),
  ));
  const r = await admin(t, 'data.import', { file: p });
  assert.deepEqual(r.overLimit, { vcards: 1, privateNamespaces: 1, rosterItems: 1, offlineMessages: 1 });
  assert.equal(r.vcards, 1);
  assert.ok(r.warnings.some((w: string) => /lim@localhost: the vCard is \d+ bytes, over vcard\.max_size \(65536\); not imported/.test(w)), r.warnings.join('\n'));
  // The summary names each kind once; its order is the order of the modules that report them.
  const summary = r.warnings.find((w: string) => w.startsWith("not imported (over this server's limits): "));
  assert.deepEqual(summary?.replace(/^[^:]+: /, '').split(', ').sort(), ['1 offlineMessages', '1 privateNamespaces', '1 rosterItems', '1 vcards']);

  const { c } = await RawClient.login(t.c2sPort, 'lim', 'lim-password', 'r', { presence: false });
  assert.doesNotMatch(await vcardOf(c), /BINVAL/);
  const items = (await rosterOf(c)).match(/<item\b/g) ?? [];
  assert.equal(items.length, 2);
  assert.match(await privateOf(c, "<small xmlns='urn:small'/>"), /ok<\/small>/);
  assert.doesNotMatch(await privateOf(c, "<big xmlns='urn:big'/>"), /bbbb/);
  assert.equal(await t.server.core.store.table('offline_messages').count({ prefix: 'localhost/lim\u0000' }), 2);
  c.close();
});

test('xi:include and directory entries never lead out of the import directory, through a symlink or by name', async () => {
  const outside = await mkdtemp(join(tmpdir(), 'xmppd-import-outside-'));
  try {
    await writeFile(join(outside, 'host.xml'), `<host xmlns='${PIE}' jid='localhost'>${user('stranger')}</host>`);
    const d = join(dir, 'inc');
    await mkdir(d);
    await symlink(join(outside, 'host.xml'), join(d, 'linked.xml'));
    await writeFile(join(d, 'main.xml'), `<server-data xmlns='${PIE}' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='linked.xml'/><xi:include href='../../${outside.split('/').pop()}/host.xml'/><xi:include href='${join(outside, 'host.xml')}'/><host jid='localhost'>${user('insider')}</host></server-data>`);
    const r = await admin(t, 'data.import', { file: join(d, 'main.xml') });
    assert.equal(await exists('stranger'), false, 'nothing from outside was imported');
    assert.ok(await exists('insider'));
    assert.equal(r.warnings.filter((w: string) => /is outside the import directory/.test(w)).length, 3, r.warnings.join('\n'));
    // the directory itself: the link is skipped there too
    const r2 = await admin(t, 'data.import', { file: d });
    assert.equal(await exists('stranger'), false);
    assert.ok(r2.warnings.some((w: string) => /^linked\.xml is outside the import directory/.test(w)), r2.warnings.join('\n'));
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('a file with a DTD and a file that is not XML get errors that say so', async () => {
  const dtd = await file('dtd.xml', `<?xml version='1.0'?>\n<!DOCTYPE server-data [<!ENTITY lol "lol">]>\n${doc(user('dtduser')).replace(/^<\?xml[^>]*>\n/, '')}`);
  await assert.rejects(admin(t, 'data.import', { file: dtd }), /dtd\.xml: this is not a XEP-0227 file: DTDs \(<!DOCTYPE \.\.\.>\) are not allowed/);
  assert.equal(await exists('dtduser'), false);
  for (const [name, content] of [['data.json', '{"users": [{"name": "alice"}]}'], ['data.bin', Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80, 0x81])]] as const) {
    const p = join(dir, name);
    await writeFile(p, content);
    await assert.rejects(admin(t, 'data.import', { file: p }), new RegExp(`${name.replace('.', '\\.')}: this is not a XEP-0227 file: it is not XML`));
  }
});

test('an import stops when its requester goes away, between two users', async () => {
  const n = 3000;
  const p = join(dir, 'long.xml');
  const out = createWriteStream(p);
  out.write(`<server-data xmlns='${PIE}'><host jid='localhost'>`);
  for (let i = 0; i < n; i++) out.write(`<user name='long${i}'><vCard xmlns='vcard-temp'><FN>L ${i}</FN></vCard></user>\n`);
  out.end('</host></server-data>');
  await once(out, 'close');
  const cancel = new AbortController();
  const running = runCommand(target(t), 'data.import', { file: p }, { origin: 'cli', signal: cancel.signal });
  await until(() => exists('long5'), 'the import started');
  cancel.abort();
  await assert.rejects(running, /the import was cancelled \(the requester went away\)/);
  const imported = (await t.server.core.accounts.list('localhost')).filter((u) => u.startsWith('long')).length;
  assert.ok(imported < n, `stopped early: ${imported} of ${n}`);
  await new Promise((r) => setTimeout(r, 200));
  const later = (await t.server.core.accounts.list('localhost')).filter((u) => u.startsWith('long')).length;
  assert.equal(later, imported, 'nothing more is imported after the cancellation');
});
