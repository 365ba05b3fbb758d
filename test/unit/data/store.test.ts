// Unit tests for the data layer (src/data): tables, ranges, conditional transactions, ordering,
// the change feed, barrier, reopen and apply() idempotence — on real LevelDB in temp dirs.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import {
  applyEntries, DataError, openStore, type ChangeEvent, type Json, type LogItem, type Store,
} from '../../../src/data/index.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function tempStore(t: TestContext): Promise<{ store: Store; dir: string }> {
  const dir = await tempDir(t);
  const store = await openStore(dir);
  t.after(() => store.close());
  return { store, dir };
}

/** Unicode code point order, written independently of the implementation's UTF-8 byte order. */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function isDataError(code: string) {
  return (err: unknown) => err instanceof DataError && err.code === code;
}

test('put, get, getMany, del; rev is the seq of the writing transaction', async (t) => {
  const { store } = await tempStore(t);
  const users = store.table<{ name: string; n: number }>('users');
  const r1 = await store.transact([
    { type: 'put', table: 'users', key: 'alice', value: { name: 'Alice', n: 1 } },
    { type: 'put', table: 'users', key: 'bob', value: { name: 'Bob', n: 2 } },
  ]);
  assert.deepEqual(r1, { ok: true, seq: 1 });
  assert.deepEqual(await users.get('alice'), { key: 'alice', value: { name: 'Alice', n: 1 }, rev: 1 });
  assert.equal(await users.get('carol'), undefined);

  const r2 = await store.transact([{ type: 'put', table: 'users', key: 'bob', value: { name: 'Bobby', n: 3 } }]);
  assert.deepEqual(r2, { ok: true, seq: 2 });
  assert.deepEqual(await users.getMany(['bob', 'nobody', 'alice']), [
    { key: 'bob', value: { name: 'Bobby', n: 3 }, rev: 2 },
    undefined,
    { key: 'alice', value: { name: 'Alice', n: 1 }, rev: 1 },
  ]);
  assert.deepEqual(await users.getMany([]), []);

  await store.transact([{ type: 'del', table: 'users', key: 'alice' }]);
  assert.equal(await users.get('alice'), undefined);
  assert.equal(store.lastApplied(), 3);

  // Every JSON shape round-trips, including strings that look like the row envelope.
  const odd: Json[] = [null, true, 0, -1.5, '', 'x,"r":7}', [1, [2, { a: null }]], { v: 1, r: 2 }];
  await store.transact(odd.map((value, i) => ({ type: 'put', table: 'misc', key: String(i), value })));
  const rows = await store.table('misc').getMany(odd.map((_, i) => String(i)));
  assert.deepEqual(rows.map((r) => r?.value), odd);
  assert.ok(rows.every((r) => r?.rev === 4));
});

test('tables are isolated, also when one name is a prefix of another', async (t) => {
  const { store } = await tempStore(t);
  await store.transact([
    { type: 'put', table: 'a', key: 'k', value: 1 },
    { type: 'put', table: 'ab', key: 'k', value: 2 },
    { type: 'put', table: 'a', key: 'b\x00k', value: 3 }, // a NUL in the key must not reach table "ab"
  ]);
  assert.equal((await store.table('a').get('k'))?.value, 1);
  assert.equal((await store.table('ab').get('k'))?.value, 2);
  assert.deepEqual((await store.table('a').range()).map((r) => r.key), ['b\x00k', 'k']);
  assert.equal(await store.table('ab').count(), 1);
  await store.transact([{ type: 'delRange', table: 'a' }]);
  assert.equal(await store.table('a').count(), 0);
  assert.equal(await store.table('ab').count(), 1);
});

test('range and count: code point order, prefix, gte/lt, reverse, limit, special keys', async (t) => {
  const { store } = await tempStore(t);
  const keys = [
    '', '\x00', 'a', 'a\x00', 'a\x00b', 'a/b', 'a/b/c', 'ab', 'a\u00ff', 'a\uffff', 'a\u{1F600}', 'a\u{10FFFF}',
    'ä', 'b', 'b\u{1F600}x', 'z\x01', '日本', '\u{10FFFF}',
  ];
  await store.transact(keys.map((key, i) => ({ type: 'put', table: 'k', key, value: i })));
  const tbl = store.table<number>('k');
  const sorted = [...keys].sort(byCodePoint);
  // 'a\uffff' sorts before 'a\u{1F600}' in code point order (not in UTF-16 order).
  assert.ok(sorted.indexOf('a\uffff') < sorted.indexOf('a\u{1F600}'));
  const ks = async (o?: Parameters<typeof tbl.range>[0]) => (await tbl.range(o)).map((r) => r.key);

  assert.deepEqual(await ks(), sorted);
  for (const r of await tbl.range()) assert.equal(r.value, keys.indexOf(r.key));
  assert.deepEqual(await ks({ prefix: 'a' }), sorted.filter((k) => k.startsWith('a')));
  assert.deepEqual(await ks({ prefix: 'a/' }), ['a/b', 'a/b/c']);
  assert.deepEqual(await ks({ prefix: 'a\x00' }), ['a\x00', 'a\x00b']);
  assert.deepEqual(await ks({ prefix: 'a\uffff' }), ['a\uffff']);
  assert.deepEqual(await ks({ prefix: 'a\u{10FFFF}' }), ['a\u{10FFFF}']); // upper bound past U+10FFFF
  assert.deepEqual(await ks({ prefix: 'b\u{1F600}' }), ['b\u{1F600}x']);
  assert.deepEqual(await ks({ prefix: 'nope' }), []);
  assert.deepEqual(await ks({ prefix: '' }), sorted);

  const inRange = (k: string, lo?: string, hi?: string) =>
    (lo === undefined || byCodePoint(k, lo) >= 0) && (hi === undefined || byCodePoint(k, hi) < 0);
  assert.deepEqual(await ks({ gte: 'a/', lt: 'b' }), sorted.filter((k) => inRange(k, 'a/', 'b')));
  assert.deepEqual(await ks({ gte: 'ab' }), sorted.filter((k) => inRange(k, 'ab')));
  assert.deepEqual(await ks({ lt: 'a' }), ['', '\x00']);
  assert.deepEqual(await ks({ gte: 'b', lt: 'b' }), []);
  assert.deepEqual(await ks({ gte: 'z', lt: 'a' }), []);
  // prefix and gte/lt together: the intersection
  assert.deepEqual(await ks({ prefix: 'a', gte: 'a/', lt: 'a\u00ff' }), ['a/b', 'a/b/c', 'ab']);
  assert.deepEqual(await ks({ prefix: 'a/', gte: 'a' }), ['a/b', 'a/b/c']);

  assert.deepEqual(await ks({ reverse: true }), [...sorted].reverse());
  assert.deepEqual(await ks({ limit: 3 }), sorted.slice(0, 3));
  assert.deepEqual(await ks({ reverse: true, limit: 2 }), [sorted.at(-1), sorted.at(-2)]);
  assert.deepEqual(await ks({ prefix: 'a', reverse: true, limit: 2 }), ['a\u{10FFFF}', 'a\u{1F600}']);
  assert.deepEqual(await ks({ limit: 0 }), []);

  assert.equal(await tbl.count(), keys.length);
  assert.equal(await tbl.count({ prefix: 'a' }), sorted.filter((k) => k.startsWith('a')).length);
  assert.equal(await tbl.count({ gte: 'a/', lt: 'b' }), sorted.filter((k) => inRange(k, 'a/', 'b')).length);
  assert.equal(await tbl.count({ limit: 5 }), 5);
  assert.equal(await store.table('empty').count(), 0);
  await assert.rejects(tbl.range({ limit: -1 }), isDataError('XMPPD_ERR_DATA_INVALID'));
});

test('count over more rows than one chunk', async (t) => {
  const { store } = await tempStore(t);
  const ops = Array.from({ length: 2500 }, (_, i) => ({ type: 'put' as const, table: 'many', key: `m${i}`, value: i }));
  await store.transact(ops);
  assert.equal(await store.table('many').count(), 2500);
  assert.equal(await store.table('many').count({ prefix: 'm1' }), 1 + 10 + 100 + 1000);
});

test('absent: insert-if-absent twice, the second fails and writes nothing', async (t) => {
  const { store } = await tempStore(t);
  const cond = { type: 'absent', table: 'acct', key: 'alice' } as const;
  const r1 = await store.transact([
    { type: 'put', table: 'acct', key: 'alice', value: 'first' },
    { type: 'put', table: 'log', key: '1', value: 'first' },
  ], [cond]);
  assert.deepEqual(r1, { ok: true, seq: 1 });
  const r2 = await store.transact([
    { type: 'put', table: 'acct', key: 'alice', value: 'second' },
    { type: 'put', table: 'log', key: '2', value: 'second' },
  ], [cond]);
  assert.deepEqual(r2, { ok: false, seq: 2, failed: cond });
  assert.deepEqual(await store.table('acct').get('alice'), { key: 'alice', value: 'first', rev: 1 });
  assert.equal(await store.table('log').get('2'), undefined);
  assert.equal(store.lastApplied(), 2); // a failed transaction still consumes its seq
});

test('present: fails on a missing row, holds on an existing one', async (t) => {
  const { store } = await tempStore(t);
  const present = { type: 'present', table: 'acct', key: 'bob' } as const;
  const r1 = await store.transact([{ type: 'put', table: 'roster', key: 'bob/x', value: 1 }], [present]);
  assert.equal(r1.ok, false);
  assert.equal(await store.table('roster').get('bob/x'), undefined);
  await store.transact([{ type: 'put', table: 'acct', key: 'bob', value: {} }]);
  const r2 = await store.transact([{ type: 'put', table: 'roster', key: 'bob/x', value: 1 }], [present]);
  assert.equal(r2.ok, true);
  assert.equal((await store.table('roster').get('bob/x'))?.value, 1);
  // a deleted row is not present
  await store.transact([{ type: 'del', table: 'acct', key: 'bob' }]);
  assert.equal((await store.transact([], [present])).ok, false);
});

test('rev: compare-and-set succeeds with the current rev and fails with a stale one', async (t) => {
  const { store } = await tempStore(t);
  const tbl = store.table<number>('ctr');
  await store.transact([{ type: 'put', table: 'ctr', key: 'c', value: 1 }]);
  const row = (await tbl.get('c'))!;
  const ok = await store.transact([{ type: 'put', table: 'ctr', key: 'c', value: row.value + 1 }],
    [{ type: 'rev', table: 'ctr', key: 'c', rev: row.rev }]);
  assert.deepEqual(ok, { ok: true, seq: 2 });
  const stale = { type: 'rev', table: 'ctr', key: 'c', rev: row.rev } as const;
  const bad = await store.transact([{ type: 'put', table: 'ctr', key: 'c', value: 99 }], [stale]);
  assert.deepEqual(bad, { ok: false, seq: 3, failed: stale });
  assert.deepEqual(await tbl.get('c'), { key: 'c', value: 2, rev: 2 });
  // rev on a missing row fails; rev 0 means "must be absent"
  assert.equal((await store.transact([], [{ type: 'rev', table: 'ctr', key: 'nope', rev: 1 }])).ok, false);
  assert.equal((await store.transact([], [{ type: 'rev', table: 'ctr', key: 'nope', rev: 0 }])).ok, true);
  assert.equal((await store.transact([], [{ type: 'rev', table: 'ctr', key: 'c', rev: 0 }])).ok, false);
});

test('atomicity: one failing condition among several writes none of the ops', async (t) => {
  const { store } = await tempStore(t);
  await store.transact([
    { type: 'put', table: 't', key: 'keep', value: 'v' },
    { type: 'put', table: 'r', key: 'p/1', value: 1 },
    { type: 'put', table: 'r', key: 'p/2', value: 2 },
  ]);
  const bad = { type: 'absent', table: 't', key: 'keep' } as const;
  const res = await store.transact([
    { type: 'put', table: 't', key: 'new', value: 1 },
    { type: 'del', table: 't', key: 'keep' },
    { type: 'delRange', table: 'r', prefix: 'p/' },
  ], [{ type: 'present', table: 't', key: 'keep' }, bad]);
  assert.deepEqual(res, { ok: false, seq: 2, failed: bad });
  assert.equal(await store.table('t').get('new'), undefined);
  assert.equal((await store.table('t').get('keep'))?.value, 'v');
  assert.equal(await store.table('r').count(), 2);
});

test('concurrent transact calls get distinct increasing seqs and apply in call order', async (t) => {
  const { store } = await tempStore(t);
  const n = 300;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => store.transact([
    { type: 'put', table: 'seq', key: 'last', value: i },
    { type: 'put', table: 'seq', key: `i${String(i).padStart(4, '0')}`, value: i },
  ])));
  assert.deepEqual(results.map((r) => r.seq), Array.from({ length: n }, (_, i) => i + 1));
  assert.deepEqual(await store.table('seq').get('last'), { key: 'last', value: n - 1, rev: n });
  const rows = await store.table('seq').range({ prefix: 'i' });
  assert.equal(rows.length, n);
  rows.forEach((r, i) => assert.equal(r.rev, i + 1));

  // Racing inserts of one key: exactly the first caller wins; conditions of later transactions
  // see the writes of earlier ones even when they are applied together.
  const race = await Promise.all(['x', 'y', 'z'].map((v) => store.transact(
    [{ type: 'put', table: 'claim', key: 'nick', value: v }], [{ type: 'absent', table: 'claim', key: 'nick' }])));
  assert.deepEqual(race.map((r) => r.ok), [true, false, false]);
  assert.equal((await store.table('claim').get('nick'))?.value, 'x');

  const chain = await Promise.all([
    store.transact([{ type: 'put', table: 'g', key: 'a', value: 1 }]),
    store.transact([{ type: 'put', table: 'g', key: 'b', value: 1 }], [{ type: 'present', table: 'g', key: 'a' }]),
    store.transact([{ type: 'delRange', table: 'g' }], [{ type: 'present', table: 'g', key: 'b' }]),
    store.transact([{ type: 'put', table: 'g', key: 'c', value: 1 }], [{ type: 'absent', table: 'g', key: 'a' }]),
  ]);
  assert.deepEqual(chain.map((r) => r.ok), [true, true, true, true]);
  assert.deepEqual((await store.table('g').range()).map((r) => r.key), ['c']);
  // CAS against a rev written earlier in the same group
  const s = store.lastApplied();
  const cas = await Promise.all([
    store.transact([{ type: 'put', table: 'g', key: 'c', value: 2 }]),
    store.transact([{ type: 'put', table: 'g', key: 'c', value: 3 }], [{ type: 'rev', table: 'g', key: 'c', rev: s + 1 }]),
    store.transact([{ type: 'put', table: 'g', key: 'c', value: 4 }], [{ type: 'rev', table: 'g', key: 'c', rev: s + 1 }]),
  ]);
  assert.deepEqual(cas.map((r) => r.ok), [true, true, false]);
  assert.deepEqual(await store.table('g').get('c'), { key: 'c', value: 3, rev: s + 2 });
});

test('delRange: prefix and gte/lt within one table, combined with other ops in op order', async (t) => {
  const { store } = await tempStore(t);
  const keys = ['m/1', 'm/2', 'm/3', 'n/1', 'o'];
  await store.transact(keys.map((key) => ({ type: 'put', table: 'd', key, value: key })));
  await store.transact([{ type: 'put', table: 'other', key: 'm/1', value: 1 }]);
  await store.transact([{ type: 'delRange', table: 'd', prefix: 'm/', gte: 'm/2' }]);
  assert.deepEqual((await store.table('d').range()).map((r) => r.key), ['m/1', 'n/1', 'o']);
  await store.transact([{ type: 'delRange', table: 'd', gte: 'm', lt: 'o' }]);
  assert.deepEqual((await store.table('d').range()).map((r) => r.key), ['o']);
  assert.equal(await store.table('other').count(), 1);
  // put then delRange: the put is deleted; delRange then put: the put stays
  await store.transact([
    { type: 'put', table: 'd', key: 'p/1', value: 1 },
    { type: 'delRange', table: 'd', prefix: 'p/' },
    { type: 'put', table: 'd', key: 'p/2', value: 2 },
  ]);
  assert.deepEqual((await store.table('d').range({ prefix: 'p/' })).map((r) => r.key), ['p/2']);
});

test('watch: post-commit events in seq order, table filter, unsubscribe stops them', async (t) => {
  const { store } = await tempStore(t);
  const seen: ChangeEvent[] = [];
  const all: ChangeEvent[] = [];
  const committed: Promise<unknown>[] = [];
  const stop = store.watch('w', (ev) => {
    seen.push(ev);
    // post-commit: the row is already readable when the event fires
    if (ev.value !== undefined) committed.push(store.table('w').get(ev.key).then((r) => assert.deepEqual(r?.value, ev.value)));
  });
  const stopAll = store.watch(null, (ev) => all.push(ev));
  await store.transact([{ type: 'put', table: 'w', key: 'a', value: { x: 1 } }, { type: 'put', table: 'z', key: 'q', value: 0 }]);
  await Promise.all([
    store.transact([{ type: 'put', table: 'w', key: 'b', value: 2 }]),
    store.transact([{ type: 'del', table: 'w', key: 'a' }]),
    store.transact([{ type: 'put', table: 'w', key: 'c', value: 3 }], [{ type: 'absent', table: 'w', key: 'b' }]), // fails: no events
    store.transact([{ type: 'put', table: 'w', key: 'd/1', value: 4 }, { type: 'put', table: 'w', key: 'd/2', value: 5 }]),
  ]);
  await store.transact([{ type: 'delRange', table: 'w', prefix: 'd/' }]);
  await Promise.all(committed);
  assert.deepEqual(seen, [
    { seq: 1, table: 'w', key: 'a', value: { x: 1 } },
    { seq: 2, table: 'w', key: 'b', value: 2 },
    { seq: 3, table: 'w', key: 'a' },
    { seq: 5, table: 'w', key: 'd/1', value: 4 },
    { seq: 5, table: 'w', key: 'd/2', value: 5 },
    { seq: 6, table: 'w', key: 'd/1' },
    { seq: 6, table: 'w', key: 'd/2' },
  ]);
  assert.deepEqual(all.map((e) => `${e.seq}:${e.table}/${e.key}`), [
    '1:w/a', '1:z/q', '2:w/b', '3:w/a', '5:w/d/1', '5:w/d/2', '6:w/d/1', '6:w/d/2',
  ]);
  // The event is delivered before the transaction's promise resolves.
  let sawBeforeResolve = false;
  const stop2 = store.watch('order', () => { sawBeforeResolve = true; });
  await store.transact([{ type: 'put', table: 'order', key: 'k', value: 1 }]).then(() => assert.ok(sawBeforeResolve));
  stop2();

  stop();
  stop(); // idempotent
  await store.transact([{ type: 'put', table: 'w', key: 'e', value: 6 }]);
  assert.equal(seen.length, 7);
  assert.equal(all.at(-1)?.key, 'e');
  stopAll();
  await store.transact([{ type: 'put', table: 'w', key: 'f', value: 7 }]);
  assert.equal(all.at(-1)?.key, 'e');
});

test('watch: a throwing callback is reported and does not stop the others', async (t) => {
  const dir = await tempDir(t);
  const errors: unknown[] = [];
  const store = await openStore(dir, { onListenerError: (err) => errors.push(err) });
  t.after(() => store.close());
  const got: string[] = [];
  store.watch('x', () => { throw new Error('boom'); });
  store.watch('x', (ev) => got.push(ev.key));
  const r = await store.transact([{ type: 'put', table: 'x', key: 'k1', value: 1 }]);
  assert.equal(r.ok, true);
  assert.deepEqual(got, ['k1']);
  assert.equal(errors.length, 1);
});

test('barrier waits for everything submitted so far', async (t) => {
  const { store } = await tempStore(t);
  await store.barrier(); // nothing submitted: resolves at once
  const pending = Array.from({ length: 50 }, (_, i) => store.transact([{ type: 'put', table: 'b', key: `k${i}`, value: i }]));
  assert.equal(store.lastApplied(), 0); // nothing applied synchronously
  await store.barrier();
  assert.equal(store.lastApplied(), 50);
  assert.equal(await store.table('b').count(), 50);
  await Promise.all(pending);
});

test('reopen keeps data and lastApplied and continues seq; close drains; dir is locked while open', async (t) => {
  const dir = await tempDir(t);
  const s1 = await openStore(dir);
  await s1.transact([{ type: 'put', table: 'p', key: 'a', value: 'A' }]);
  await s1.transact([{ type: 'put', table: 'p', key: 'a', value: 'B' }], [{ type: 'absent', table: 'p', key: 'a' }]);
  await assert.rejects(openStore(dir), isDataError('XMPPD_ERR_DATA_LOCKED'));
  const inFlight = s1.transact([{ type: 'put', table: 'p', key: 'b', value: 'C' }]);
  await s1.close(); // applies what was submitted before close
  assert.deepEqual(await inFlight, { ok: true, seq: 3 });
  await assert.rejects(s1.transact([{ type: 'put', table: 'p', key: 'z', value: 0 }]), isDataError('XMPPD_ERR_DATA_CLOSED'));

  const s2 = await openStore(dir);
  t.after(() => s2.close());
  assert.equal(s2.lastApplied(), 3);
  assert.deepEqual(await s2.table('p').get('a'), { key: 'a', value: 'A', rev: 1 });
  assert.deepEqual(await s2.table('p').get('b'), { key: 'b', value: 'C', rev: 3 });
  assert.deepEqual(await s2.transact([{ type: 'put', table: 'p', key: 'c', value: 1 }]), { ok: true, seq: 4 });
});

test('invalid input is rejected with XMPPD_ERR_DATA_INVALID and writes nothing', async (t) => {
  const { store } = await tempStore(t);
  const invalid = isDataError('XMPPD_ERR_DATA_INVALID');
  assert.throws(() => store.table('Users'), invalid);
  assert.throws(() => store.table(''), invalid);
  assert.throws(() => store.table('a-b'), invalid);
  assert.throws(() => store.watch('a.b', () => undefined), invalid);
  await assert.rejects(store.transact([{ type: 'put', table: 'x\x00', key: 'k', value: 1 }]), invalid);
  await assert.rejects(store.transact([{ type: 'put', table: 'x', key: 'bad\ud800', value: 1 }]), invalid);
  await assert.rejects(store.transact([{ type: 'put', table: 'x', key: 'k', value: undefined as unknown as Json }]), invalid);
  await assert.rejects(store.transact([{ type: 'put', table: 'x', key: 'k', value: 1 }], [{ type: 'rev', table: 'x', key: 'k', rev: -1 }]), invalid);
  await assert.rejects(store.table('x').get('\udc00'), invalid);
  assert.equal(store.lastApplied(), 0);
  // well-formed astral keys are fine
  await store.transact([{ type: 'put', table: 'x', key: '\ud83d\ude00', value: 1 }]);
  assert.equal((await store.table('x').get('😀'))?.value, 1);
});

/** Raw dump of a LevelDB directory, for comparing replicas byte for byte. */
async function dump(dir: string): Promise<[string, string][]> {
  const db = new Level<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  try {
    return (await db.iterator().all()).map(([k, v]) => [k.toString('hex'), v]);
  } finally {
    await db.close();
  }
}

const put = (table: string, key: string, value: Json) => ({ type: 'put' as const, table, key, json: JSON.stringify(value) });

test('apply: re-applying an old seq is a no-op; a new seq applies and the store continues from it', async (t) => {
  const dir = await tempDir(t);
  const s1 = await openStore(dir);
  await s1.transact([{ type: 'put', table: 'i', key: 'a', value: 1 }]);
  await s1.transact([{ type: 'put', table: 'i', key: 'b', value: 2 }]);
  await s1.close();
  const before = await dump(dir);

  const db = new Level<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  const replay: LogItem[] = [
    { seq: 1, entry: { txid: 'r1', ops: [put('i', 'a', 'changed'), put('i', 'z', 0)], conds: [] } },
    { seq: 2, entry: { txid: 'r2', ops: [{ type: 'delRange', table: 'i' }], conds: [] } },
  ];
  const out = await applyEntries(db, 2, replay);
  assert.deepEqual(out.results, [null, null]);
  assert.equal(out.lastApplied, 2);
  await db.close();
  assert.deepEqual(await dump(dir), before);

  await db.open();
  const out2 = await applyEntries(db, 2, [...replay, { seq: 3, entry: { txid: 'r3', ops: [put('i', 'c', 3)], conds: [] } }]);
  assert.deepEqual(out2.results, [null, null, { ok: true, seq: 3 }]);
  await db.close();

  const s2 = await openStore(dir);
  t.after(() => s2.close());
  assert.equal(s2.lastApplied(), 3);
  assert.deepEqual((await s2.table('i').range()).map((r) => [r.key, r.value, r.rev]), [['a', 1, 1], ['b', 2, 2], ['c', 3, 3]]);
  assert.deepEqual(await s2.transact([]), { ok: true, seq: 4 });
});

test('apply is deterministic: same entries give byte-identical replicas, grouped or one by one', async (t) => {
  const items: LogItem[] = [
    { seq: 1, entry: { txid: 'a', ops: [put('r', 'x', 1), put('r', 'y', { n: [1] })], conds: [] } },
    { seq: 2, entry: { txid: 'b', ops: [put('r', 'x', 2)], conds: [{ type: 'rev', table: 'r', key: 'x', rev: 1 }] } },
    { seq: 3, entry: { txid: 'c', ops: [put('r', 'z', 3)], conds: [{ type: 'rev', table: 'r', key: 'x', rev: 1 }] } },
    { seq: 5, entry: { txid: 'd', ops: [{ type: 'delRange', table: 'r', lt: 'y' }, put('s', 'q', null)], conds: [] } },
    { seq: 6, entry: { txid: 'e', ops: [{ type: 'del', table: 's', key: 'q' }], conds: [{ type: 'absent', table: 'r', key: 'x' }] } },
  ];
  const [d1, d2] = [await tempDir(t), await tempDir(t)];
  const db1 = new Level<Buffer, string>(d1, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  const db2 = new Level<Buffer, string>(d2, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db1.open();
  await db2.open();
  const whole = await applyEntries(db1, 0, items);
  let last = 0;
  const single = [];
  for (const it of items) {
    const o = await applyEntries(db2, last, [it]);
    last = o.lastApplied;
    single.push(o.results[0]);
  }
  assert.deepEqual(whole.results, single);
  assert.deepEqual(whole.results.map((r) => r?.ok), [true, true, false, true, true]);
  await db1.close();
  await db2.close();
  const [a, b] = [await dump(d1), await dump(d2)];
  assert.deepEqual(a, b);
  assert.equal(a.length, 2); // lastApplied + r/y (openStore, which adds the format marker, was not used)
});
