// HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht §3) as FAST (XEP-0484) uses it: message parsing, the verdicts
// of the token check mapped to SASL outcomes, and the claimed account the throttle reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { HtServerSession, type HtVerdict } from '../../../src/core/sasl/ht-server.js';
import { htProofs } from '../../../src/core/auth/fast-tokens.js';
import { claimedAccount } from '../../../src/core/limits/sasl-claim.js';

const TOKEN = 'a-token-value';
const initiator = createHmac('sha256', Buffer.from(TOKEN)).update('Initiator').digest();
const message = (user: string, mac: Buffer) => Buffer.concat([Buffer.from(`${user}\0`), mac]);

function session(verdict: (user: string, mac: Buffer) => HtVerdict): { s: HtServerSession; seen: Array<[string, Buffer]> } {
  const seen: Array<[string, Buffer]> = [];
  return { s: new HtServerSession('HT-SHA-256-NONE', async (u, m) => (seen.push([u, m]), verdict(u, m))), seen };
}

test('htProofs are HMAC-SHA-256 of the token over "Initiator" and "Responder"', () => {
  const p = htProofs(TOKEN);
  assert.deepEqual(p.initiator, initiator);
  assert.deepEqual(p.responder, createHmac('sha256', Buffer.from(TOKEN)).update('Responder').digest());
});

test('a right proof succeeds with the responder proof as additional data; the username is SASLprepped', async () => {
  const { s, seen } = session(() => ({ ok: true, responder: htProofs(TOKEN).responder }));
  const step = await s.step(message('alice', initiator));
  assert.deepEqual(step, { kind: 'success', data: htProofs(TOKEN).responder, username: 'alice' });
  assert.deepEqual(seen, [['alice', initiator]]);
  assert.equal((await s.step(message('alice', initiator))).kind, 'failure', 'one step only');
});

test('verdicts: no or wrong token is not-authorized, an expired one credentials-expired, a failing store temporary-auth-failure', async () => {
  for (const [reason, condition] of [['no token', 'not-authorized'], ['wrong token', 'not-authorized'], ['expired', 'credentials-expired']] as const) {
    const step = await session(() => ({ ok: false, reason })).s.step(message('alice', initiator));
    assert.equal(step.kind === 'failure' && step.condition, condition, reason);
  }
  const broken = new HtServerSession('HT-SHA-256-NONE', async () => { throw new Error('store down'); });
  const step = await broken.step(message('alice', initiator));
  assert.equal(step.kind === 'failure' && step.condition, 'temporary-auth-failure');
});

test('malformed messages are refused before any token is looked at', async () => {
  for (const bad of [Buffer.alloc(0), Buffer.from('alice'), message('', initiator), message('alice', initiator.subarray(0, 31)), message('\u0007', initiator)]) {
    const { s, seen } = session(() => ({ ok: true, responder: Buffer.alloc(32) }));
    const step = await s.step(bad);
    assert.equal(step.kind === 'failure' && step.condition, 'malformed-request', JSON.stringify(bad.toString()));
    assert.equal(seen.length, 0);
  }
});

test('the throttle reads the claimed account of an HT message', () => {
  assert.equal(claimedAccount('HT-SHA-256-NONE', message('Alice', initiator), 'localhost'), 'alice@localhost');
  assert.equal(claimedAccount('HT-SHA-256-NONE', Buffer.from('no separator'), 'localhost'), null);
});
