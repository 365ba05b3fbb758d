// Apply logic is switched at a log entry (apply.ts APPLY_VERSION): a known version is recorded in the same
// batch as lastApplied and travels in snapshots; an unknown one stops the replica instead of diverging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { APPLY_VERSION, applyEntries, type RowDb } from '../../../src/data/apply.js';
import { META_APPLY_VERSION, META_LAST_APPLIED } from '../../../src/data/key-codec.js';
import { writeSnapshot } from '../../../src/data/snapshot.js';

async function withDb(fn: (db: RowDb) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-applyv-'));
  const db: RowDb = new Level<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('an applyVersion entry is recorded with lastApplied and carried by snapshots', () => withDb(async (db) => {
  assert.equal(APPLY_VERSION, 1);
  const put = { type: 'put' as const, table: 'kv', key: 'a', json: '1' };
  const out = await applyEntries(db, 0, [
    { seq: 1, entry: { txid: 't1', ops: [put], conds: [] } },
    { seq: 2, entry: { txid: 'v', ops: [], conds: [], applyVersion: 1 } },
  ]);
  assert.deepEqual(out.results, [{ ok: true, seq: 1 }, { ok: true, seq: 2 }]);
  assert.equal(await db.get(META_APPLY_VERSION), '1');
  assert.equal(await db.get(META_LAST_APPLIED), '2');
  let header = '';
  await writeSnapshot(db, { write: async (t: string) => { if (header === '') header = t; } });
  assert.equal(JSON.parse(header).applyVersion, 1);
}));

test('an unknown applyVersion stops apply before anything of its group is written', () => withDb(async (db) => {
  const put = { type: 'put' as const, table: 'kv', key: 'a', json: '1' };
  await assert.rejects(applyEntries(db, 0, [
    { seq: 1, entry: { txid: 't1', ops: [put], conds: [] } },
    { seq: 2, entry: { txid: 'v', ops: [], conds: [], applyVersion: APPLY_VERSION + 1 } },
  ]), (err: Error & { code?: string }) => err.code === 'XMPPD_ERR_DATA_APPLY' && /upgrade this node/.test(err.message));
  assert.equal(await db.get(META_LAST_APPLIED), undefined);
  assert.equal(await db.get(Buffer.from('kv\x00a')), undefined);
}));
