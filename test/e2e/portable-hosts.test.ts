// XEP-0227 export/import with two virtual hosts (issue 9): each module's share is read with that host's
// options (host_config.<host>.modules overrides modules), on a running server and on the data directory of
// a stopped one; a host without a module neither exports nor imports that module's data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, TWO_HOSTS, type TestServer } from '../support/harness.js';
import { runOffline } from '../../src/cli/offline.js';
import { BUNDLED_MODULES } from '../../modules/index.js';
import type { ServerConfig } from '../../src/core/config/types.js';
import { admin } from './portable-support.js';

const PIE = 'urn:xmpp:pie:0';
let dir: string;
let t: TestServer | null;
let config: ServerConfig;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-pie-hosts-'));
  t = await startTestServer({
    ...TWO_HOSTS,
    modules: { disco: {}, roster: {}, vcard: {}, private: {}, offline: {} },
    // example.test: small vCards only, and no private storage
    host_config: { 'example.test': { modules: { vcard: { max_size: 300 }, private: false } } },
  }, { dir: join(dir, 'server') });
  config = t.server.core.config;
});
after(async () => {
  await t?.stop();
  await rm(dir, { recursive: true, force: true });
});

const card = `<vCard xmlns='vcard-temp'><FN>Big</FN><DESC>${'d'.repeat(600)}</DESC></vCard>`;
const priv = "<query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'>kept</note></query>";
const user = (name: string) => `<user name='${name}' password='pw-${name}'>${card}${priv}</user>`;
const doc = (name: string) =>
  `<?xml version='1.0'?>\n<server-data xmlns='${PIE}'><host jid='localhost'>${user(name)}</host><host jid='example.test'>${user(name)}</host></server-data>\n`;

function checkImport(r: any, name: string): void {
  assert.equal(r.users, 2);
  assert.equal(r.vcards, 1, 'the vCard fits localhost (vcard.max_size 65536), not example.test (300)');
  assert.equal(r.overLimit.vcards, 1);
  assert.ok(r.warnings.some((w: string) => new RegExp(`^${name}@example\\.test: the vCard is \\d+ bytes, over vcard\\.max_size \\(300\\); not imported$`).test(w)), r.warnings.join('\n'));
  assert.ok(!r.warnings.some((w: string) => w.startsWith(`${name}@localhost: the vCard`)));
  assert.equal(r.privateNamespaces, 1, 'private storage is imported on localhost only');
  assert.deepEqual(r.ignored, { '{jabber:iq:private}query': 1 });
}

test('a running server imports with each host\'s module options, and exports what each host\'s modules hold', async () => {
  const file = join(dir, 'running.xml');
  await writeFile(file, doc('ann'));
  checkImport(await admin(t!, 'data.import', { file }), 'ann');
  const out = join(dir, 'running-export.xml');
  const e = await admin(t!, 'data.export', { file: out });
  assert.equal(e.vcards, 1);
  assert.equal(e.privateElements, 1);
  const xml = await readFile(out, 'utf8');
  const [, local, other] = /<host jid='localhost'>([\s\S]*?)<\/host>[\s\S]*<host jid='example.test'>([\s\S]*?)<\/host>/.exec(xml)!;
  assert.match(local!, /<vCard xmlns=["']vcard-temp["']>/);
  assert.match(local!, /urn:example:notes/);
  assert.doesNotMatch(other!, /vCard|urn:example:notes/);
  assert.deepEqual(e.warnings, []);

  // A configured module that does not run (unloaded at runtime): its data is left out, and the report says so.
  await t!.server.modules.unload('private');
  try {
    const again = await admin(t!, 'data.export', { file: join(dir, 'no-private.xml') });
    assert.equal(again.privateElements, undefined);
    assert.deepEqual(again.warnings, ['not exported: the data of private on localhost (not running there)']);
  } finally {
    await t!.server.modules.load('private');
  }
});

test('the CLI on a stopped server\'s data directory applies the same per-host options', async () => {
  await t!.stop();
  t = null;
  const file = join(dir, 'stopped.xml');
  await writeFile(file, doc('bea'));
  checkImport(await runOffline(config, 'data.import', { file }, BUNDLED_MODULES), 'bea');
  const out = join(dir, 'stopped-export.xml');
  const e = (await runOffline(config, 'data.export', { file: out, host: 'localhost' }, BUNDLED_MODULES)) as any;
  assert.equal(e.users, 2);
  assert.equal(e.vcards, 2, 'ann and bea on localhost');
  assert.equal(e.privateElements, 2);
  assert.deepEqual(e.warnings, []);
});
