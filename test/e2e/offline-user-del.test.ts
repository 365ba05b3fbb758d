// `xmppd user del` with the server stopped (issue 9): the CLI on the data directory deletes the modules'
// rows of the account (ModuleDefinition.removeUser) with the account row, so a re-created account starts
// empty; a module whose definition is not at hand is named in the result, its rows left in place.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { runOffline } from '../../src/cli/offline.js';
import { BUNDLED_MODULES } from '../../modules/index.js';
import { Jid } from '../../src/core/jid.js';
import type { Store } from '../../src/data/index.js';
import type { ServerConfig } from '../../src/core/config/types.js';
import { iq, messagesUntilSync, privateOf, rosterOf, vcardOf } from './portable-support.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
/** Every table a bundled module keeps per-account rows in. */
const TABLES = ['roster_items', 'roster_versions', 'vcard_cards', 'private_storage', 'offline_messages', 'mam_messages', 'mam_counts', 'blocking_items', 'last_activity'];
const MODULES = { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, vcard: {}, private: {}, last: {}, blocking: {}, register: {}, mam: {} };

let dir: string;
let dataDir: string;
let t: TestServer | null = null;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-offline-del-'));
  dataDir = join(dir, 'data');
});
after(async () => {
  await t?.stop();
  await rm(dir, { recursive: true, force: true });
});

const start = () => startTestServer({ modules: MODULES }, { dir: dataDir });

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The rows each table keeps for an account (keys `host/local` or `host/local\0...`). */
async function rowsOf(store: Pick<Store, 'table'>, host: string, local: string): Promise<Record<string, number>> {
  const key = `${host}/${local}`;
  const out: Record<string, number> = {};
  for (const name of TABLES) {
    const rows = await store.table(name).range({ prefix: key });
    const n = rows.filter((r) => r.key === key || r.key.startsWith(`${key}\u0000`)).length;
    if (n) out[name] = n;
  }
  return out;
}

/** alice fills every module's tables: roster, vCard, private, block list, last activity; bob's message goes offline and to her archive. */
async function seed(server: TestServer, local: string): Promise<void> {
  await server.addUser(local, 'pw');
  await server.addUser('bob', 'pw').catch(() => {});
  const { c } = await RawClient.login(server.c2sPort, local, 'pw', 'seed');
  await iq(c, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query>", 'set');
  await iq(c, "<vCard xmlns='vcard-temp'><FN>Old Card</FN></vCard>", 'set');
  await iq(c, "<query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'>old note</note></query>", 'set');
  await iq(c, "<block xmlns='urn:xmpp:blocking'><item jid='eve@localhost'/></block>", 'set');
  c.send("<presence type='unavailable'/>");
  await messagesUntilSync(c); // the unavailable presence was handled: last activity is written
  c.send('</stream:stream>');
  await c.waitClosed();
  const { c: bob } = await RawClient.login(server.c2sPort, 'bob', 'pw', 'seed');
  bob.send(`<message to='${local}@localhost' type='chat' id='m1'><body>old message</body></message>`);
  await messagesUntilSync(bob);
  bob.close();
}

test('a stopped server\'s CLI deletes the account with its roster, vCard, private data, offline messages, archive, block list and last activity', async () => {
  t = await start();
  await seed(t, 'alice');
  const before = await rowsOf(t.server.core.store, 'localhost', 'alice');
  for (const name of TABLES) assert.ok(before[name], `seeded ${name}: ${JSON.stringify(before)}`);
  await t.stop();
  t = null;

  const cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, stringify({
    hosts: ['localhost'], data_dir: dataDir, control_socket: join(dataDir, 'ctl.sock'), log_level: 'silent',
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }], modules: MODULES,
  }));
  const del = await cli('user', 'del', 'alice@localhost', '--json', '-c', cfg);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(JSON.parse(del.stdout), { deleted: 'alice@localhost' }, 'every module of the host had its definition at hand: no warning');

  t = await start();
  assert.deepEqual(await rowsOf(t.server.core.store, 'localhost', 'alice'), {});
  assert.ok(Object.keys(await rowsOf(t.server.core.store, 'localhost', 'bob')).length, 'bob\'s data stays');
  await t.addUser('alice', 'new-pw');
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'new-pw', 'again');
  try {
    const pushed = await messagesUntilSync(c);
    assert.ok(!pushed.some((m) => m.includes('old message')), `no old offline message: ${pushed.join('\n')}`);
    assert.doesNotMatch(await rosterOf(c), /<item\b/);
    assert.doesNotMatch(await vcardOf(c), /Old Card/);
    assert.doesNotMatch(await privateOf(c, "<note xmlns='urn:example:notes'/>"), /old note/);
    assert.doesNotMatch(await iq(c, "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item\b/);
    // XEP-0313 §4: the results come before the IQ result that ends the query.
    c.send("<iq type='set' id='mq'><query xmlns='urn:xmpp:mam:2' queryid='q1'/></iq>");
    const fin = await c.expect(/<iq\b[^>]*\bid=["']mq["'][\s\S]*?<\/iq>/);
    assert.match(fin[0], /<fin\b[^>]*complete=["']true["']/);
    assert.doesNotMatch(fin.input.slice(0, fin.index), /<result\b/, 'the archive is empty');
  } finally {
    c.close();
  }
});

test('with the server stopped, a module whose definition is not at hand is named in the result and its rows stay', async () => {
  t ??= await start();
  await seed(t, 'carol');
  const config: ServerConfig = t.server.core.config;
  await t.stop();
  t = null;

  // As for a module from module_paths: the CLI has no definition of `last` with the server stopped.
  const { last: _unknown, ...definitions } = BUNDLED_MODULES;
  const r = (await runOffline(config, 'user.del', { jid: 'carol@localhost' }, definitions)) as { deleted: string; warnings: string[] };
  assert.equal(r.deleted, 'carol@localhost');
  assert.deepEqual(r.warnings, [
    'not deleted: the data of last for carol@localhost, if any (no definition at hand with the server stopped); re-create the account and delete it with the server running to remove it',
  ]);

  t = await start();
  assert.deepEqual(await rowsOf(t.server.core.store, 'localhost', 'carol'), { last_activity: 1 });
});

test('a running server deletes the rows of a module that is no longer enabled on the account\'s host', async () => {
  await t?.stop();
  t = await start();
  await seed(t, 'dave');
  await t.stop();
  // vcard removed on localhost: its rows stay on disk, and an account's removal still deletes them.
  t = await startTestServer({ modules: MODULES, host_config: { localhost: { modules: { vcard: false } } } }, { dir: dataDir });
  assert.equal((await rowsOf(t.server.core.store, 'localhost', 'dave')).vcard_cards, 1);
  assert.deepEqual(await t.server.core.accounts.remove(Jid.parse('dave@localhost')), { warnings: [] });
  assert.deepEqual(await rowsOf(t.server.core.store, 'localhost', 'dave'), {});
});
