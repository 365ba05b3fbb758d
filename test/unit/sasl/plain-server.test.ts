// Tests for the SASL PLAIN server (RFC 4616, RFC 6120 §6).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SaslContext, SaslStep } from '../../../src/core/sasl/mechanism.js';
import { deriveCredentials, type StoredCredentials } from '../../../src/core/sasl/scram-credentials.js';
import { PlainServerSession } from '../../../src/core/sasl/plain-server.js';
import { VerifiedPasswords } from '../../../src/core/sasl/verified-passwords.js';

let users: Record<string, StoredCredentials>;

function ctxFor(over: Partial<SaslContext> = {}): SaslContext & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    lookup: async (u) => {
      lookups.push(u);
      return Object.hasOwn(users, u) ? users[u]! : null;
    },
    secure: true,
    channelBinding: () => null,
    advertisedChannelBindings: [],
    ...over,
  };
}

const plain = (s: string) => Buffer.from(s, 'utf8');

function assertFailure(step: SaslStep, condition: string): void {
  assert.equal(step.kind, 'failure', `expected failure ${condition}, got ${JSON.stringify(step)}`);
  if (step.kind === 'failure') assert.equal(step.condition, condition);
}

before(async () => {
  users = {
    user: await deriveCredentials('pencil'),
    old: await deriveCredentials('pencil', { hashes: ['SHA-1'] }),
    IX: await deriveCredentials('I\u00ADX'),
    nbsp: await deriveCredentials('pass\u00A0word'),
  };
});

describe('PLAIN', () => {
  it('alice authenticates with authcid and password', async () => {
    const step = await new PlainServerSession(ctxFor()).step(plain('\0user\0pencil'));
    assert.deepEqual(step, { kind: 'success', username: 'user' });
  });

  it('works against SHA-1-only credentials', async () => {
    const step = await new PlainServerSession(ctxFor()).step(plain('\0old\0pencil'));
    assert.equal(step.kind, 'success');
  });

  it('returns an acceptable authzid to the caller, refuses another user', async () => {
    const ok = await new PlainServerSession(ctxFor({ domain: 'example.com' })).step(plain('user@example.com\0user\0pencil'));
    assert.deepEqual(ok, { kind: 'success', username: 'user', authzid: 'user@example.com' });
    assertFailure(await new PlainServerSession(ctxFor()).step(plain('admin@example.com\0user\0pencil')), 'invalid-authzid');
    assertFailure(await new PlainServerSession(ctxFor({ domain: 'example.com' })).step(plain('user@evil.example\0user\0pencil')), 'invalid-authzid');
  });

  it('wrong password and unknown user both give not-authorized', async () => {
    const wrong = await new PlainServerSession(ctxFor()).step(plain('\0user\0crayon'));
    const unknown = await new PlainServerSession(ctxFor()).step(plain('\0mallory\0crayon'));
    assertFailure(wrong, 'not-authorized');
    // The same on the wire; only the log reason (never sent) tells them apart.
    const { reason: wrongReason, ...wrongWire } = wrong as Extract<typeof wrong, { kind: 'failure' }>;
    const { reason: unknownReason, ...unknownWire } = unknown as Extract<typeof unknown, { kind: 'failure' }>;
    assert.deepEqual(unknownWire, wrongWire);
    assert.deepEqual([wrongReason, unknownReason], ['wrong password', 'no such account']);
  });

  it('refuses with encryption-required on an insecure stream, before reading the password', async () => {
    const ctx = ctxFor({ secure: false });
    assertFailure(await new PlainServerSession(ctx).step(plain('\0user\0pencil')), 'encryption-required');
    assert.deepEqual(ctx.lookups, []);
  });

  it('malformed messages: malformed-request', async () => {
    for (const msg of [
      plain('user\0pencil'), plain('\0\0pencil'), plain('\0user\0'), plain('\0user\0pencil\0x'),
      Buffer.from([0, 0x75, 0xff, 0, 0x70]), Buffer.alloc(9000, 0x61),
    ]) {
      assertFailure(await new PlainServerSession(ctxFor()).step(msg), 'malformed-request');
    }
  });

  it('asks for the response with an empty challenge when there was no initial response', async () => {
    const s = new PlainServerSession(ctxFor());
    assert.deepEqual(await s.step(Buffer.alloc(0)), { kind: 'challenge', data: Buffer.alloc(0) });
    assert.equal((await s.step(plain('\0user\0pencil'))).kind, 'success');
    assertFailure(await s.step(plain('\0user\0pencil')), 'malformed-request'); // finished
  });

  it('SASLpreps authcid and password (RFC 4013)', async () => {
    const ctx = ctxFor();
    assert.equal((await new PlainServerSession(ctx).step(plain('\0I\u00ADX\0IX'))).kind, 'success');
    assert.deepEqual(ctx.lookups, ['IX']);
    assert.equal((await new PlainServerSession(ctxFor()).step(plain('\0nbsp\0pass word'))).kind, 'success');
    assert.equal((await new PlainServerSession(ctxFor()).step(plain('\0nbsp\0pass\u2003word'))).kind, 'success');
    assertFailure(await new PlainServerSession(ctxFor()).step(plain('\0nbsp\0password')), 'not-authorized');
    assertFailure(await new PlainServerSession(ctxFor()).step(plain('\0user\0pen\u0007cil')), 'not-authorized');
    assertFailure(await new PlainServerSession(ctxFor()).step(plain('\0us\u0007er\0pencil')), 'malformed-request');
  });

  it('a failing account store: temporary-auth-failure', async () => {
    const ctx = ctxFor({ lookup: async () => { throw new Error('db down'); } });
    assertFailure(await new PlainServerSession(ctx).step(plain('\0user\0pencil')), 'temporary-auth-failure');
  });
});

describe('PLAIN: recently verified passwords', () => {
  const credentialOf = (c: StoredCredentials) => {
    const s = c.scram['SHA-256'] ?? c.scram['SHA-1']!;
    return `${s.salt}:${s.iterations}:${s.storedKey}`;
  };

  it('remembers a password only for the account and stored key it was verified against', () => {
    const v = new VerifiedPasswords();
    v.remember('alice', 'pencil', 'cred-1');
    assert.equal(v.has('alice', 'pencil', 'cred-1'), true);
    assert.equal(v.has('alice', 'crayon', 'cred-1'), false, 'another password');
    assert.equal(v.has('bob', 'pencil', 'cred-1'), false, 'another account');
    assert.equal(v.has('alice', 'pencil', 'cred-2'), false, 'the stored key changed');
    assert.equal(v.has('alice', 'pencil', 'cred-1'), false, 'a stale entry is dropped, not kept');
  });

  it('forgets entries past their lifetime and keeps at most maxEntries, oldest use out first', () => {
    const expired = new VerifiedPasswords(10, 0);
    expired.remember('alice', 'pencil', 'c');
    assert.equal(expired.has('alice', 'pencil', 'c'), false);
    const small = new VerifiedPasswords(2);
    small.remember('a', 'p', 'c');
    small.remember('b', 'p', 'c');
    assert.equal(small.has('a', 'p', 'c'), true); // a is now the most recently used
    small.remember('c', 'p', 'c');
    assert.equal(small.size, 2);
    assert.equal(small.has('b', 'p', 'c'), false);
    assert.equal(small.has('a', 'p', 'c'), true);
  });

  it('alice logs in again with the same password from the cache; a wrong password is never cached', async () => {
    const hits: boolean[] = [];
    const verified = new (class extends VerifiedPasswords {
      override has(u: string, p: string, c: string): boolean {
        const hit = super.has(u, p, c);
        hits.push(hit);
        return hit;
      }
    })();
    assertFailure(await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0crayon')), 'not-authorized');
    assert.equal(verified.size, 0);
    assert.equal((await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0pencil'))).kind, 'success');
    assert.equal(verified.size, 1);
    assert.equal((await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0pencil'))).kind, 'success');
    assertFailure(await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0crayon')), 'not-authorized');
    assert.deepEqual(hits, [false, false, true, false]);
  });

  it('after a password change the old password is refused even though it was verified a moment ago', async () => {
    const verified = new VerifiedPasswords();
    const before = users.user!;
    assert.equal((await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0pencil'))).kind, 'success');
    users.user = await deriveCredentials('crayon');
    try {
      assert.notEqual(credentialOf(users.user), credentialOf(before));
      assertFailure(await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0pencil')), 'not-authorized');
      assert.equal((await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0crayon'))).kind, 'success');
    } finally {
      users.user = before;
    }
  });

  it('a removed account is refused even with a remembered password', async () => {
    const verified = new VerifiedPasswords();
    assert.equal((await new PlainServerSession(ctxFor(), { verified }).step(plain('\0user\0pencil'))).kind, 'success');
    const gone = ctxFor({ lookup: async () => null });
    assertFailure(await new PlainServerSession(gone, { verified }).step(plain('\0user\0pencil')), 'not-authorized');
  });
});
