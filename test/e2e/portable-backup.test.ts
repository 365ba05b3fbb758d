// backup/restore between real servers: a consistent JSON-lines copy of every table (XEP-0227 data and what
// the portable format does not carry: block lists, last activity, roster versions), restored into a fresh
// server; a damaged or truncated backup is refused before anything changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { admin, iq } from './portable-support.js';

let tmp: string;
let a: TestServer;

/** Row lines of a backup (header and trailer aside), sorted, for comparing two backups. */
const rowsOf = (text: string) => text.split('\n').filter((l) => l.startsWith('{"t":')).sort();

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'xmppd-backup-'));
  a = await startTestServer();
  for (const u of ['alice', 'bob']) await a.addUser(u, `pw-${u}`);
  const alice = await RawClient.login(a.c2sPort, 'alice', 'pw-alice', 'seed');
  await iq(alice.c, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='B'/></query>", 'set');
  await iq(alice.c, "<block xmlns='urn:xmpp:blocking'><item jid='spam@example.net'/></block>", 'set');
  await iq(alice.c, "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>", 'set');
  alice.c.close(); // last activity is recorded at logout
  const bob = await RawClient.login(a.c2sPort, 'bob', 'pw-bob', 'seed', { presence: false });
  bob.c.send("<message to='alice@localhost' type='chat'><body>kept</body></message>");
  await iq(bob.c, "<ping xmlns='urn:xmpp:ping'/>");
  bob.c.close();
});
after(async () => {
  await a?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('backup copies every table; restore into a fresh server gives the same rows, and it works', async () => {
  const file = join(tmp, 'a.jsonl.gz');
  const progress: string[] = [];
  const r = await admin(a, 'backup', { file }, progress);
  for (const table of ['accounts', 'roster_items', 'roster_versions', 'vcard_cards', 'offline_messages']) assert.ok(r.tables[table] >= 1, `${table}: ${JSON.stringify(r.tables)}`);
  assert.ok(Object.keys(r.tables).some((t) => t.startsWith('block')), `block list table: ${JSON.stringify(r.tables)}`);
  assert.match(progress.join('\n'), /backup: done, \d+ rows/);
  const text = gunzipSync(await readFile(file)).toString('utf8');
  const lines = text.trim().split('\n');
  assert.match(lines[0]!, /^\{"format":"xmppd-backup","version":1,/);
  assert.deepEqual(JSON.parse(lines[lines.length - 1]!), { end: true, rows: r.rows, tables: r.tables });
  assert.doesNotMatch(text, /pw-alice/);

  const c = await startTestServer();
  try {
    await c.addUser('stale', 'pw-stale'); // not in the backup: gone after the restore
    const rr = await admin(c, 'restore', { file });
    assert.equal(rr.rows, r.rows);
    assert.ok(rr.cleared.includes('accounts'));
    assert.deepEqual(await c.server.core.accounts.list(), ['alice@localhost', 'bob@localhost']);
    const again = join(tmp, 'c.jsonl');
    await admin(c, 'backup', { file: again });
    assert.deepEqual(rowsOf(await readFile(again, 'utf8')), rowsOf(text), 'the same rows, table by table');

    // and the server uses them: alice logs in with her password, gets the message, her block list holds
    const alice = await RawClient.login(c.c2sPort, 'alice', 'pw-alice', 'back');
    await alice.c.expect(/<body>kept<\/body>/);
    assert.match(await iq(alice.c, "<blocklist xmlns='urn:xmpp:blocking'/>"), /<item jid=["']spam@example\.net["']\/>/);
    assert.match(await iq(alice.c, "<query xmlns='jabber:iq:roster'/>"), /<item jid=["']bob@localhost["'][^>]*name=["']B["']/);
    alice.c.close();
  } finally {
    await c.stop();
  }
});

test('a truncated or foreign file is refused and nothing changes', async () => {
  const file = join(tmp, 'full.jsonl');
  await admin(a, 'backup', { file });
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  const c = await startTestServer();
  try {
    await c.addUser('keep', 'pw-keep');
    const cut = join(tmp, 'cut.jsonl');
    await writeFile(cut, lines.slice(0, -1).join('\n') + '\n');
    await assert.rejects(admin(c, 'restore', { file: cut }), /no end record: the backup is incomplete \(truncated\?\); nothing was restored/);
    const lying = join(tmp, 'lying.jsonl');
    await writeFile(lying, [...lines.slice(0, 2), lines[lines.length - 1]].join('\n'));
    await assert.rejects(admin(c, 'restore', { file: lying }), /holds 1 rows but its end record says \d+; nothing was restored/);
    const garbled = join(tmp, 'garbled.jsonl');
    await writeFile(garbled, [lines[0], '{"t":"accounts","k":', ...lines.slice(1)].join('\n'));
    await assert.rejects(admin(c, 'restore', { file: garbled }), /line 2: not valid JSON/);
    const xmlFile = join(tmp, 'x.xml');
    await writeFile(xmlFile, "<server-data xmlns='urn:xmpp:pie:0'/>");
    await assert.rejects(admin(c, 'restore', { file: xmlFile }), /not an xmppd backup/);
    assert.deepEqual(await c.server.core.accounts.list(), ['keep@localhost']);
  } finally {
    await c.stop();
  }
});
