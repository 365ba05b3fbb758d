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
import { Logger } from '../../src/core/log.js';
import { RawClient } from '../support/raw-client.js';
import { admin, iq } from './portable-support.js';

let tmp: string;
let a: TestServer;

/** Row lines of a backup (header and trailer aside) without revisions, sorted, for comparing two backups. */
const rowsOf = (text: string) => text.split('\n').filter((l) => l.startsWith('{"t":')).map((l) => {
  const { t, k, v } = JSON.parse(l);
  return JSON.stringify({ t, k, v });
}).sort();

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
  const header = JSON.parse(lines[0]!);
  assert.equal(header.format, 'xmppd-backup');
  assert.equal(header.version, 2);
  assert.equal(header.lastApplied, r.lastApplied);
  assert.deepEqual(header.tables, Object.keys(r.tables).sort());
  const trailer = JSON.parse(lines[lines.length - 1]!);
  assert.deepEqual({ ...trailer, sha256: undefined }, { end: true, rows: r.rows, tables: r.tables, sha256: undefined });
  assert.match(trailer.sha256, /^[0-9a-f]{64}$/);
  assert.ok(lines.slice(1, -1).every((l) => Number.isSafeInteger(JSON.parse(l).r) && JSON.parse(l).r > 0), 'every row carries its revision');
  assert.doesNotMatch(text, /pw-alice/);

  const logs: string[] = [];
  const c = await startTestServer({}, { log: new Logger('info', {}, (l) => void logs.push(l), false) });
  try {
    await c.addUser('stale', 'pw-stale'); // not in the backup: gone after the restore
    // a running server: refused without force, saying what would be replaced
    const before = c.server.core.store.lastApplied();
    await assert.rejects(admin(c, 'restore', { file }), (err: Error) => {
      assert.match(err.message, /the server is running: restore replaces its data and needs force \(--force\)/);
      assert.match(err.message, new RegExp(`the backup was taken at transaction ${r.lastApplied}, the store is at ${before}`));
      assert.match(err.message, /accounts 1->2 \(1 deleted, 0 changed\)/);
      assert.match(err.message, /nothing was restored$/);
      return true;
    });
    assert.deepEqual(await c.server.core.accounts.list(), ['stale@localhost']);
    const rr = await admin(c, 'restore', { file, force: true });
    assert.equal(rr.rows, r.rows);
    assert.equal(rr.method, 'transactions');
    assert.equal(rr.replaced.backupLastApplied, r.lastApplied);
    assert.equal(rr.replaced.storeLastApplied, before);
    assert.equal(rr.replaced.newerTransactions, Math.max(0, before - r.lastApplied));
    assert.deepEqual(rr.replaced.tables.accounts, { store: 1, backup: 2, dropped: 1, changed: 0, added: 2 });
    assert.ok(rr.replaced.dropped >= 1);
    const warned = logs.map((l) => JSON.parse(l)).find((l) => /^restore replaces data: /.test(l.msg));
    assert.ok(warned, 'the dropped data is logged');
    assert.equal(warned.dropped, rr.replaced.dropped);
    assert.match(warned.msg, /accounts 1->2 \(1 deleted, 0 changed\)/);
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
    await assert.rejects(admin(c, 'restore', { file: lying }), /holds 1 rows but its end record says \d+ \(damaged file\?\); nothing was restored/);
    const altered = join(tmp, 'altered.jsonl'); // every line parses and the count matches: the checksum catches it
    await writeFile(altered, lines.map((l, i) => (i === 1 ? l.replace(/"r":(\d+)/, (_m, n) => `"r":${Number(n) + 1}`) : l)).join('\n') + '\n');
    await assert.rejects(admin(c, 'restore', { file: altered }), /the checksum does not match its content \(damaged file\?\); nothing was restored/);
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

test('a version 1 backup (no revisions, no checksum) still restores', async () => {
  const file = join(tmp, 'v2.jsonl');
  const r = await admin(a, 'backup', { file });
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  const h = JSON.parse(lines[0]!);
  const v1 = [
    JSON.stringify({ format: 'xmppd-backup', version: 1, created: h.created, server: h.server, hosts: h.hosts, lastApplied: h.lastApplied }),
    ...lines.slice(1, -1).map((l) => { const { t, k, v } = JSON.parse(l); return JSON.stringify({ t, k, v }); }),
    JSON.stringify({ end: true, rows: r.rows, tables: r.tables }),
  ];
  const old = join(tmp, 'v1.jsonl');
  await writeFile(old, v1.join('\n') + '\n');
  const c = await startTestServer();
  try {
    const rr = await admin(c, 'restore', { file: old, force: true });
    assert.equal(rr.rows, r.rows);
    assert.equal(rr.replaced.version, 1);
    assert.deepEqual(await c.server.core.accounts.list(), ['alice@localhost', 'bob@localhost']);
    const again = join(tmp, 'v1-again.jsonl');
    await admin(c, 'backup', { file: again });
    assert.deepEqual(rowsOf(await readFile(again, 'utf8')), rowsOf(lines.join('\n')));
  } finally {
    await c.stop();
  }
});
