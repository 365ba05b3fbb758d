// Tests for SCRAM stored credentials and SASLprep (RFC 5802 §3, RFC 7677, RFC 4013).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  deriveCredentials, fakeCredential, SaslPrepError, saslPrep, verifyPassword,
} from '../../../src/core/sasl/scram-credentials.js';

describe('deriveCredentials', () => {
  it('stores SHA-256 and SHA-1 keys with separate salts and 4096 iterations by default', async () => {
    const creds = await deriveCredentials('pencil');
    const s256 = creds.scram['SHA-256']!;
    const s1 = creds.scram['SHA-1']!;
    assert.equal(s256.iterations, 4096);
    assert.equal(s1.iterations, 4096);
    assert.equal(Buffer.from(s256.storedKey, 'base64').length, 32);
    assert.equal(Buffer.from(s256.serverKey, 'base64').length, 32);
    assert.equal(Buffer.from(s1.storedKey, 'base64').length, 20);
    assert.equal(Buffer.from(s1.serverKey, 'base64').length, 20);
    assert.notEqual(s256.salt, s1.salt);
    assert.ok(!JSON.stringify(creds).includes('pencil'), 'no plaintext stored');
  });

  it('honours hashes, iterations and a forced salt', async () => {
    const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
    const creds = await deriveCredentials('pencil', { hashes: ['SHA-1'], iterations: 5000, salt });
    assert.deepEqual(Object.keys(creds.scram), ['SHA-1']);
    assert.equal(creds.scram['SHA-1']!.salt, 'QSXCR+Q6sek8bf92');
    assert.equal(creds.scram['SHA-1']!.iterations, 5000);
    // Same inputs, same keys: derivation is deterministic given the salt.
    const again = await deriveCredentials('pencil', { hashes: ['SHA-1'], iterations: 5000, salt });
    assert.deepEqual(again, creds);
  });

  it('rejects bad iteration counts and empty hash lists', async () => {
    await assert.rejects(deriveCredentials('x', { iterations: 0 }), RangeError);
    await assert.rejects(deriveCredentials('x', { iterations: 1.5 }), RangeError);
    await assert.rejects(deriveCredentials('x', { hashes: [] }), RangeError);
  });

  it('rejects a password SASLprep prohibits, without echoing it', async () => {
    const secret = 'hunter\u00072';
    await assert.rejects(deriveCredentials(secret), (err: unknown) => {
      assert.ok(err instanceof SaslPrepError);
      assert.equal(err.code, 'XMPPD_ERR_SASLPREP');
      assert.equal(err.field, 'password');
      assert.match(err.message, /prohibited/i);
      assert.ok(!err.message.includes(secret));
      return true;
    });
    await assert.rejects(deriveCredentials('\u00AD'), SaslPrepError); // maps to nothing: empty
  });
});

describe('verifyPassword', () => {
  it('accepts the right password and refuses a wrong one', async () => {
    const creds = await deriveCredentials('pencil');
    assert.equal(await verifyPassword('pencil', creds), true);
    assert.equal(await verifyPassword('pencil2', creds), false);
    assert.equal(await verifyPassword('', creds), false);
    assert.equal(await verifyPassword('pencil', { scram: {} }), false);
  });

  it('works with a SHA-1-only credential', async () => {
    const creds = await deriveCredentials('pencil', { hashes: ['SHA-1'] });
    assert.equal(await verifyPassword('pencil', creds), true);
    assert.equal(await verifyPassword('Pencil', creds), false);
  });

  it('prefers the SHA-256 credential when both exist', async () => {
    const a = await deriveCredentials('from-sha256', { hashes: ['SHA-256'] });
    const b = await deriveCredentials('from-sha1', { hashes: ['SHA-1'] });
    const mixed = { scram: { ...a.scram, ...b.scram } };
    assert.equal(await verifyPassword('from-sha256', mixed), true);
    assert.equal(await verifyPassword('from-sha1', mixed), false);
  });

  it('compares SASLprepped passwords (RFC 4013 §3 examples)', async () => {
    const ix = await deriveCredentials('I\u00ADX'); // soft hyphen maps to nothing
    assert.equal(await verifyPassword('IX', ix), true);
    const nbsp = await deriveCredentials('pass\u00A0word'); // no-break space maps to space
    assert.equal(await verifyPassword('pass word', nbsp), true);
    assert.equal(await verifyPassword('password', nbsp), false);
    assert.equal(await verifyPassword('bad\u0007', ix), false); // prohibited: false, not a throw
  });
});

describe('saslPrep', () => {
  it('maps, normalises and prohibits per RFC 4013', () => {
    assert.equal(saslPrep('I\u00ADX'), 'IX');
    assert.equal(saslPrep('user'), 'user');
    assert.equal(saslPrep('USER'), 'USER'); // case preserved
    assert.equal(saslPrep('\u00AA'), 'a'); // NFKC
    assert.equal(saslPrep('\u2168'), 'IX');
    assert.throws(() => saslPrep('\u0007', 'username'), (e: unknown) => e instanceof SaslPrepError && e.field === 'username');
    assert.throws(() => saslPrep('\u0627\u0031'), SaslPrepError); // bidi rule
  });
});

describe('fakeCredential', () => {
  it('is deterministic per username and hash, and differs between them', () => {
    assert.deepEqual(fakeCredential('nobody', 'SHA-256'), fakeCredential('nobody', 'SHA-256'));
    assert.notEqual(fakeCredential('nobody', 'SHA-256').salt, fakeCredential('nobody2', 'SHA-256').salt);
    assert.notEqual(fakeCredential('nobody', 'SHA-256').salt, fakeCredential('nobody', 'SHA-1').salt);
    assert.equal(Buffer.from(fakeCredential('x', 'SHA-1').storedKey, 'base64').length, 20);
    assert.equal(fakeCredential('x', 'SHA-1', 10000).iterations, 10000);
  });
});
