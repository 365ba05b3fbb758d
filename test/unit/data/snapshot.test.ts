// Data-layer snapshots (src/data/snapshot.ts) on real LevelDB in temp dirs: a round trip keeps rows,
// revisions and lastApplied (so compare-and-set behaves the same), a snapshot taken under concurrent writes
// holds whole transactions only, and a truncated, altered or half-loaded snapshot is refused.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError, LocalLog, openStore, type Json, type LogEntry, type LogItem, type ReplicationLog, type Row, type Store } from '../../../src/data/index.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-snap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(t: TestContext, dir: string, opts: Parameters<typeof openStore>[1] = {}): Promise<Store> {
  const store = await openStore(dir, opts);
  t.after(() => store.close());
  return store;
}

async function snapshotTo(store: Store, file: string) {
  const out = createWriteStream(file);
  const r = await store.snapshot(out);
  out.end();
  await once(out, 'finish');
  return r;
}

async function everything(store: Store, tables: string[]): Promise<Record<string, Row[]>> {
  const all: Record<string, Row[]> = {};
  for (const name of tables) all[name] = await store.table(name).range();
  return all;
}

const isSnapshotError = (re: RegExp) => (err: unknown) => err instanceof DataError && err.code === 'XMPPD_ERR_DATA_SNAPSHOT' && re.test(err.message);

test('round trip: rows, revisions and lastApplied identical; compare-and-set on a restored revision behaves the same', async (t) => {
  const dir = await tempDir(t);
  const a = await open(t, join(dir, 'a'));
  await a.transact([{ type: 'put', table: 'users', key: 'alice', value: { n: 1 } }, { type: 'put', table: 'users', key: 'bob', value: [1, 'two', null] }]);
  await a.transact([{ type: 'put', table: 'roster', key: 'alice\u0000bob', value: 'friend' }, { type: 'put', table: 'users', key: 'z\u{1F600}', value: true }]);
  await a.transact([{ type: 'put', table: 'users', key: 'alice', value: { n: 2 } }]);
  await a.transact([{ type: 'del', table: 'users', key: 'bob' }]);
  await a.transact([{ type: 'put', table: 'gone', key: 'x', value: 1 }]);
  await a.transact([{ type: 'delRange', table: 'gone' }]);
  const file = join(dir, 'snap.jsonl');
  const r = await snapshotTo(a, file);
  assert.equal(r.lastApplied, 6);
  assert.equal(r.rows, 3);
  assert.deepEqual(r.tables, { roster: 1, users: 2 });
  const header = JSON.parse((await readFile(file, 'utf8')).split('\n')[0]!);
  assert.deepEqual([header.format, header.version, header.lastApplied, header.tables], ['xmppd-backup', 2, 6, ['roster', 'users']]);

  const b = await open(t, join(dir, 'b'), { fromSnapshot: { open: () => createReadStream(file) } });
  assert.equal(b.lastApplied(), 6);
  const tables = ['users', 'roster', 'gone'];
  assert.deepEqual(await everything(b, tables), await everything(a, tables));
  assert.equal((await b.table('users').get('alice'))!.rev, 3);

  // the same conditional writes give the same results on both
  for (const s of [a, b]) {
    assert.deepEqual(await s.transact([{ type: 'put', table: 'users', key: 'alice', value: 'stale' }], [{ type: 'rev', table: 'users', key: 'alice', rev: 1 }]),
      { ok: false, seq: 7, failed: { type: 'rev', table: 'users', key: 'alice', rev: 1 } });
    assert.deepEqual(await s.transact([{ type: 'put', table: 'users', key: 'alice', value: 'cas' }], [{ type: 'rev', table: 'users', key: 'alice', rev: 3 }]), { ok: true, seq: 8 });
    assert.equal((await s.transact([{ type: 'put', table: 'users', key: 'bob', value: 1 }], [{ type: 'absent', table: 'users', key: 'bob' }])).ok, true);
    assert.equal((await s.transact([{ type: 'put', table: 'roster', key: 'alice\u0000bob', value: 1 }], [{ type: 'rev', table: 'roster', key: 'alice\u0000bob', rev: 0 }])).ok, false);
  }
  assert.deepEqual(await everything(b, tables), await everything(a, tables));
});

test('restoreSnapshot: a non-empty store is refused unless replace; with replace the rows, revisions and seq follow the snapshot', async (t) => {
  const dir = await tempDir(t);
  const a = await open(t, join(dir, 'a'));
  await a.transact([{ type: 'put', table: 'kv', key: 'k', value: 'old' }]);
  const file = join(dir, 'snap.jsonl');
  await snapshotTo(a, file);
  for (let i = 0; i < 5; i++) await a.transact([{ type: 'put', table: 'kv', key: `new${i}`, value: i }]);
  assert.equal(a.lastApplied(), 6);
  await assert.rejects(a.restoreSnapshot(() => createReadStream(file)), isSnapshotError(/not empty/));
  assert.equal(await a.table('kv').count(), 6, 'nothing changed');
  const r = await a.restoreSnapshot(() => createReadStream(file), { replace: true });
  assert.deepEqual({ rows: r.rows, lastApplied: r.lastApplied, replaced: r.replaced }, { rows: 1, lastApplied: 1, replaced: 6 });
  assert.equal(a.lastApplied(), 1);
  assert.deepEqual(await a.table('kv').range(), [{ key: 'k', value: 'old', rev: 1 }]);
  assert.deepEqual(await a.transact([{ type: 'put', table: 'kv', key: 'k', value: 'next' }], [{ type: 'rev', table: 'kv', key: 'k', rev: 1 }]), { ok: true, seq: 2 });
});

test('a snapshot taken under concurrent writes holds whole transactions only, up to its lastApplied', async (t) => {
  const dir = await tempDir(t);
  const a = await open(t, join(dir, 'a'));
  // enough rows that the snapshot is read in many chunks while the writers go on
  for (let i = 0; i < 5; i++) {
    await a.transact(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, table: 'fill', key: `${i}-${j}`, value: 'x'.repeat(100) })));
  }
  const base = a.lastApplied();
  let stop = false;
  let n = 0;
  const writers = (async () => {
    while (!stop) {
      const i = ++n;
      // one transaction: two tables and a counter; a torn snapshot would hold some of them only
      await a.transact([
        { type: 'put', table: 'pair_a', key: String(i).padStart(6, '0'), value: i },
        { type: 'put', table: 'pair_b', key: String(i).padStart(6, '0'), value: i },
        { type: 'put', table: 'counter', key: 'c', value: i },
        { type: 'del', table: 'fill', key: `${i % 5}-${i}` },
      ]);
    }
  })();
  while (a.lastApplied() - base < 20) await new Promise((r) => setImmediate(r));
  const file = join(dir, 'snap.jsonl');
  const from = a.lastApplied();
  const r = await snapshotTo(a, file);
  const to = a.lastApplied();
  stop = true;
  await writers;
  assert.ok(to > from, `transactions were applied while the snapshot was written (${from}..${to})`);
  const b = await open(t, join(dir, 'b'), { fromSnapshot: { open: () => createReadStream(file) } });
  const k = r.lastApplied - base; // the transactions in the snapshot
  assert.ok(k >= 20);
  const pa = await b.table('pair_a').range();
  const pb = await b.table('pair_b').range();
  assert.deepEqual(pa.map((x) => x.value), Array.from({ length: k }, (_, i) => i + 1));
  assert.deepEqual(pb.map((x) => [x.value, x.rev]), pa.map((x) => [x.value, x.rev]));
  assert.deepEqual((await b.table('counter').get('c'))?.value, k);
  assert.equal(await b.table('fill').count(), 5000 - Array.from({ length: k }, (_, i) => i + 1).filter((i) => i < 1000).length);
});

test('a truncated or altered snapshot is refused before anything is written; an interrupted load is detected', async (t) => {
  const dir = await tempDir(t);
  const a = await open(t, join(dir, 'a'));
  for (let i = 0; i < 3; i++) await a.transact([{ type: 'put', table: 'kv', key: `k${i}`, value: { i } as Json }]);
  const file = join(dir, 'snap.jsonl');
  await snapshotTo(a, file);
  const lines = (await readFile(file, 'utf8')).trim().split('\n');

  const cases: Array<[string, string, RegExp]> = [
    ['cut.jsonl', lines.slice(0, -1).join('\n') + '\n', /no end record: the snapshot is incomplete \(truncated\?\)/],
    ['cut-mid.jsonl', lines.join('\n').slice(0, -30), /not valid JSON|no end record/],
    ['altered.jsonl', lines.map((l, i) => (i === 2 ? l.replace('"i":1', '"i":7') : l)).join('\n') + '\n', /checksum does not match/],
    ['dropped-row.jsonl', [...lines.slice(0, 1), ...lines.slice(2)].join('\n') + '\n', /holds 2 rows but its end record says 3/],
    ['empty.jsonl', '', /is empty/],
  ];
  for (const [name, text, re] of cases) {
    const f = join(dir, name);
    await writeFile(f, text);
    const d = join(dir, `db-${name}`);
    await assert.rejects(openStore(d, { fromSnapshot: { open: () => createReadStream(f) } }), isSnapshotError(re), name);
    const s = await openStore(d); // the directory is untouched and opens normally
    assert.equal(s.lastApplied(), 0);
    assert.equal(await s.table('kv').count(), 0);
    await s.close();
  }

  // the file verified, then changed under the load (second read cut short): the directory is marked incomplete
  let reads = 0;
  const d = join(dir, 'db-interrupted');
  const flaky = () => (++reads === 1 ? createReadStream(file) : Readable.from([lines.slice(0, 2).join('\n') + '\n']));
  await assert.rejects(openStore(d, { fromSnapshot: { open: flaky } }), isSnapshotError(/no end record/));
  await assert.rejects(openStore(d), isSnapshotError(/incomplete snapshot load \(an interrupted restore\); with the server stopped, run "xmppd restore <file> --force" again/));
  const half = await openStore(d, { allowIncompleteLoad: true }); // what the offline restore opens
  assert.equal((await half.restoreSnapshot(() => createReadStream(file), { replace: true })).rows, 3);
  await half.close();
  const s = await open(t, d); // the completed load cleared the marker
  assert.equal(s.lastApplied(), 3);
  assert.equal(await s.table('kv').count(), 3);
});

test('a store on a shared replication log writes snapshots but refuses to load one (its lastApplied cannot move back)', async (t) => {
  const dir = await tempDir(t);
  /** Stands for a cluster log: not the in-process LocalLog. */
  class SharedLog implements ReplicationLog {
    readonly inner = new LocalLog();
    start(from: number, apply: (items: LogItem[]) => Promise<void>) { return this.inner.start(from, apply); }
    append(e: LogEntry) { return this.inner.append(e); }
    head() { return this.inner.head(); }
    close() { return this.inner.close(); }
  }
  const a = await open(t, join(dir, 'a'), { log: new SharedLog() });
  await a.transact([{ type: 'put', table: 'kv', key: 'k', value: 1 }]);
  const file = join(dir, 'snap.jsonl');
  assert.equal((await snapshotTo(a, file)).rows, 1);
  await assert.rejects(a.restoreSnapshot(() => createReadStream(file), { replace: true }), isSnapshotError(/shared replication log/));
  assert.deepEqual(await a.table('kv').range(), [{ key: 'k', value: 1, rev: 1 }]);
});
