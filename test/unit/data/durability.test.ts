// The `durability` setting (none | batch | group): parsed with YAML-path errors, and reaching the
// store through startServer: batch fsyncs every batch (seen as cache flushes of the block device),
// group holds a batch open for its window so a later writer shares it. Real LevelDB in temp dirs.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/core/config/load-config.js';
import { openStore, type Store } from '../../../src/data/index.js';
import { startTestServer } from '../../support/harness.js';
import { blockFlushes } from './block-flushes.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-durability-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const put = (store: Store, key: string) => store.transact([{ type: 'put', table: 'd', key, value: key }]);

test('durability: default none; a mode or a {mode, group_window_ms, group_size} mapping', () => {
  assert.deepEqual(buildConfig({}).durability, { mode: 'none', group_window_ms: 2, group_size: 16 });
  assert.deepEqual(buildConfig({ durability: 'none' }).durability, { mode: 'none', group_window_ms: 2, group_size: 16 });
  assert.deepEqual(buildConfig({ durability: 'group' }).durability, { mode: 'group', group_window_ms: 2, group_size: 16 });
  assert.deepEqual(buildConfig({ durability: { mode: 'group', group_window_ms: 5, group_size: 4 } }).durability, { mode: 'group', group_window_ms: 5, group_size: 4 });
  assert.deepEqual(buildConfig({ durability: { mode: 'none' } }).durability, { mode: 'none', group_window_ms: 2, group_size: 16 });
});

test('durability: bad values are refused with their YAML path', () => {
  const refused = (raw: unknown, re: RegExp) => assert.throws(() => buildConfig({ durability: raw }, 'x.yaml'), (err: Error) => {
    assert.match(err.message, re);
    assert.equal((err as { code?: string }).code, 'XMPPD_ERR_CONFIG');
    return true;
  });
  refused('fsync', /^x\.yaml: durability: must be one of none, batch, group$/);
  refused(3, /durability: must be one of none, batch, group, or a mapping/);
  refused(['batch'], /durability: must be one of none, batch, group, or a mapping/);
  refused({ mode: 'always' }, /durability\.mode: must be one of none, batch, group/);
  refused({ mode: 'group', group_window_ms: -1 }, /durability\.group_window_ms: must be a number of milliseconds from 0 to 1000/);
  refused({ mode: 'group', group_window_ms: '2ms' }, /durability\.group_window_ms: must be a number/);
  refused({ mode: 'batch', group_window_ms: 2 }, /durability\.group_window_ms: only applies to mode group \(mode is batch\)/);
  refused({ group_size: 8 }, /durability\.group_size: only applies to mode group \(mode is none\)/);
  refused({ mode: 'group', group_size: 0 }, /durability\.group_size: must be an integer from 1 to 1000/);
  refused({ mode: 'group', group_size: 2.5 }, /durability\.group_size: must be an integer from 1 to 1000/);
  refused({ mode: 'group', window: 2 }, /durability\.window: unknown option/);
});

test('durability batch through startServer: every sequential commit is flushed to the device', async (t) => {
  const probe = await tempDir(t);
  if (blockFlushes(probe) === null) {
    const why = `no block-device flush counter under ${tmpdir()} (tmpfs/overlay?); set TMPDIR to a disk`;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return;
  }
  const N = 150;
  const srv = await startTestServer({ durability: 'batch' });
  t.after(() => srv.stop());
  const store = srv.server.core.store;
  const before = blockFlushes(srv.dir)!;
  for (let i = 0; i < N; i++) await put(store, `k${i}`);
  const flushed = blockFlushes(srv.dir)! - before;
  // Each commit waited for its own fsync. (Other processes' flushes only add to the count; without
  // sync, N commits take a fraction of a second and cause no flush of their own.)
  assert.ok(flushed >= N, `${N} synced commits caused only ${flushed} device flushes`);
});

test('durability group through startServer: a batch waits its window, so a later writer shares it', async (t) => {
  const srv = await startTestServer({ durability: { mode: 'group', group_window_ms: 1000, group_size: 3 } });
  t.after(() => srv.stop());
  const store = srv.server.core.store;
  let secondSubmitted = false;
  let firstDoneAfterSecond: boolean | undefined;
  const first = put(store, 'a').then((r) => { firstDoneAfterSecond = secondSubmitted; return r; });
  await new Promise((r) => setTimeout(r, 100));
  secondSubmitted = true;
  const second = put(store, 'b');
  const [r1, r2] = await Promise.all([first, second]);
  assert.equal(firstDoneAfterSecond, true, 'the first commit was answered before its window closed');
  assert.deepEqual([r1, r2], [{ ok: true, seq: r1.seq }, { ok: true, seq: r1.seq + 1 }]);
});

/** Whether `p` settles before `ms` have passed (an ordering check against a far-off sentinel). */
async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const sentinel = new Promise<false>((r) => { timer = setTimeout(() => r(false), ms); });
  const r = await Promise.race([p.then(() => true as const), sentinel]);
  clearTimeout(timer);
  return r;
}

test('durability group: group_size waiting commits end the window at once', async (t) => {
  const store = await openStore(await tempDir(t), { durability: 'group', groupWindowMs: 60_000, groupSize: 3 });
  t.after(() => store.close());
  // Three concurrent commits fill the group: written without waiting out the minute.
  assert.equal(await settlesWithin(Promise.all([put(store, 'a'), put(store, 'b'), put(store, 'c')]), 20_000), true);
  // Two alone wait for the window; a third arriving later completes the group and releases all three.
  const two = Promise.all([put(store, 'd'), put(store, 'e')]);
  assert.equal(await settlesWithin(two, 300), false, 'two of three commits did not wait for the third');
  assert.equal(await settlesWithin(Promise.all([two, put(store, 'f')]), 20_000), true);
});

test('durability none and batch do not hold a batch open: a lone commit is answered at once', async (t) => {
  for (const mode of ['none', 'batch'] as const) {
    const store = await openStore(await tempDir(t), { durability: mode, groupWindowMs: 1000 });
    t.after(() => store.close());
    let later = false;
    const timer = setTimeout(() => { later = true; }, 500);
    await put(store, 'a');
    clearTimeout(timer);
    assert.equal(later, false, `${mode}: a lone commit waited for a group window`);
  }
});

test('durability group: closing the store writes a waiting batch at once', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(dir, { durability: 'group', groupWindowMs: 60_000 });
  // Closing must not wait the minute: it writes the pending batch now.
  const pending = [put(store, 'x'), put(store, 'y')];
  assert.equal(await settlesWithin(store.close(), 20_000), true, 'close waited out the group window');
  assert.deepEqual((await Promise.all(pending)).map((r) => r.ok), [true, true]);
  const again = await openStore(dir);
  t.after(() => again.close());
  assert.deepEqual((await again.table('d').range()).map((r) => r.value), ['x', 'y']);
});
