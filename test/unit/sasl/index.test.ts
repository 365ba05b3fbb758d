// Tests for mechanism advertisement and session creation (RFC 6120 §6.3.3, §6.4.5).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSaslSession, offeredMechanisms, type SaslContext } from '../../../src/core/sasl/index.js';

const ctx = (over: Partial<SaslContext> = {}): SaslContext => ({
  lookup: async () => null,
  secure: true,
  channelBinding: () => null,
  advertisedChannelBindings: [],
  ...over,
});

describe('offeredMechanisms', () => {
  it('orders strongest first and offers -PLUS only with channel binding', () => {
    assert.deepEqual(offeredMechanisms({ secure: true, channelBindings: ['tls-exporter', 'tls-server-end-point'] }),
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    assert.deepEqual(offeredMechanisms({ secure: true, channelBindings: [] }),
      ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  });

  it('never offers PLAIN in the clear or when disallowed', () => {
    assert.deepEqual(offeredMechanisms({ secure: false, channelBindings: [] }), ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
    assert.deepEqual(offeredMechanisms({ secure: true, channelBindings: ['tls-exporter'], allowPlain: false }),
      ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1']);
  });
});

describe('createSaslSession', () => {
  it('creates a session per supported mechanism', () => {
    const c = ctx({ advertisedChannelBindings: ['tls-exporter'] });
    for (const m of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) {
      assert.equal(createSaslSession(m, c)?.mechanism, m);
    }
  });

  it('returns null (invalid-mechanism) for unknown names and for -PLUS without channel binding', () => {
    assert.equal(createSaslSession('DIGEST-MD5', ctx()), null);
    assert.equal(createSaslSession('scram-sha-1', ctx()), null); // mechanism names are case-sensitive
    assert.equal(createSaslSession('', ctx()), null);
    assert.equal(createSaslSession('SCRAM-SHA-256-PLUS', ctx()), null);
  });

  it('PLAIN on an insecure stream fails with encryption-required', async () => {
    const s = createSaslSession('PLAIN', ctx({ secure: false }))!;
    assert.deepEqual(await s.step(Buffer.from('\0user\0pencil')), { kind: 'failure', condition: 'encryption-required' });
  });
});
