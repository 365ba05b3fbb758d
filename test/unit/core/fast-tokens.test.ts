// FAST token storage (src/core/auth/fast-tokens.ts) on a real LevelDB: proofs only, expiry, the used token kept
// next to a rotated one, and the per-account bound on clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/data/index.js';
import { FastTokens, MAX_FAST_CLIENTS, htProofs } from '../../../src/core/auth/fast-tokens.js';
import { Jid } from '../../../src/core/jid.js';

const alice = Jid.of('alice', 'localhost');
const MECH = 'HT-SHA-256-NONE';

async function withTokens(fn: (t: FastTokens, rows: () => Promise<unknown[]>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-fast-'));
  const store = await openStore(dir);
  try {
    await fn(new FastTokens(store), () => store.table('fast_tokens').range({}));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('a token verifies by its initiator proof for its account, client id and mechanism only; the row holds no token', async () => {
  await withTokens(async (t, rows) => {
    const { token } = await t.issue(alice, 'app-1', MECH, 3600);
    const ini = htProofs(token).initiator;
    assert.ok(!JSON.stringify(await rows()).includes(token));
    const v = await t.verify(alice, 'app-1', MECH, ini);
    assert.ok(v.ok);
    assert.deepEqual(v.responder, htProofs(token).responder);
    assert.ok(v.expires > Date.now() + 3500_000);
    assert.deepEqual(await t.verify(alice, 'app-2', MECH, ini), { ok: false, reason: 'no token' });
    assert.deepEqual(await t.verify(Jid.of('bob', 'localhost'), 'app-1', MECH, ini), { ok: false, reason: 'no token' });
    assert.deepEqual(await t.verify(alice, 'app-1', 'HT-SHA-256-ENDP', ini), { ok: false, reason: 'wrong token' });
    assert.deepEqual(await t.verify(alice, 'app-1', MECH, htProofs('other').initiator), { ok: false, reason: 'wrong token' });
  });
});

test('an expired token is refused as expired and deleted', async () => {
  await withTokens(async (t, rows) => {
    const now = Date.now();
    const { token } = await t.issue(alice, 'app-1', MECH, 60, undefined, now);
    assert.deepEqual(await t.verify(alice, 'app-1', MECH, htProofs(token).initiator, { now: now + 61_000 }), { ok: false, reason: 'expired' });
    assert.equal((await rows()).length, 0);
  });
});

test('rotation keeps the used token until the new one is used', async () => {
  await withTokens(async (t) => {
    const a = (await t.issue(alice, 'app-1', MECH, 3600)).token;
    const b = (await t.issue(alice, 'app-1', MECH, 3600, htProofs(a).initiator)).token;
    assert.equal((await t.verify(alice, 'app-1', MECH, htProofs(a).initiator)).ok, true);
    assert.equal((await t.verify(alice, 'app-1', MECH, htProofs(b).initiator)).ok, true);
    assert.equal((await t.verify(alice, 'app-1', MECH, htProofs(a).initiator)).ok, false);
    // A new token asked for with a password login (nothing kept) replaces the client's old one.
    const c = (await t.issue(alice, 'app-1', MECH, 3600)).token;
    assert.equal((await t.verify(alice, 'app-1', MECH, htProofs(b).initiator)).ok, false);
    assert.equal((await t.verify(alice, 'app-1', MECH, htProofs(c).initiator)).ok, true);
  });
});

test(`at most ${MAX_FAST_CLIENTS} clients hold tokens per account: the one expiring first goes`, async () => {
  await withTokens(async (t, rows) => {
    const now = Date.now();
    const first = (await t.issue(alice, 'app-0', MECH, 600, undefined, now)).token;
    for (let i = 1; i < MAX_FAST_CLIENTS; i++) await t.issue(alice, `app-${i}`, MECH, 3600, undefined, now);
    assert.equal((await rows()).length, MAX_FAST_CLIENTS);
    await t.issue(alice, 'app-new', MECH, 3600, undefined, now);
    assert.equal((await rows()).length, MAX_FAST_CLIENTS);
    assert.equal((await t.verify(alice, 'app-0', MECH, htProofs(first).initiator)).ok, false);
  });
});
