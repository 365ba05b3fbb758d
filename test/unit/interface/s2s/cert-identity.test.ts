// RFC 6125 / RFC 6120 §13.7.2.1 / XEP-0178 identity checks of peer certificates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa, type Identity } from '../../../e2e/interop/test-ca.js';
import { certificateMatchesDomain, identifiersMatch, presentedIdentifiers } from '../../../../src/interface/s2s/cert-identity.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xmppd-certid-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const der = (id: Identity) => new X509Certificate(TestCa.selfSigned(dir, `c${n++}`, id).certPem).raw;

test('presented identifiers: dNSName, SRVName, xmppAddr (UTF-8) and CN are all read', () => {
  const ids = presentedIdentifiers(der({ dns: ['Example.org'], srv: ['_xmpp-server.example.org'], xmppAddr: ['bücher.example'], cn: 'cn.example' }));
  assert.deepEqual(ids, { dns: ['example.org'], srv: ['_xmpp-server.example.org'], xmppAddr: ['bücher.example'], cn: ['cn.example'] });
  assert.deepEqual(presentedIdentifiers(Buffer.from('garbage')), { dns: [], srv: [], xmppAddr: [], cn: [] });
});

test('DNS-ID: exact (case-insensitive) and a wildcard for exactly one left-most label', () => {
  const exact = der({ dns: ['xmpp.example.org'] });
  assert.equal(certificateMatchesDomain(exact, 'xmpp.example.org'), true);
  assert.equal(certificateMatchesDomain(exact, 'example.org'), false);
  const wild = der({ dns: ['*.example.org'] });
  assert.equal(certificateMatchesDomain(wild, 'chat.example.org'), true);
  assert.equal(certificateMatchesDomain(wild, 'example.org'), false);
  assert.equal(certificateMatchesDomain(wild, 'a.b.example.org'), false);
  assert.equal(identifiersMatch({ dns: ['*.org'], srv: [], xmppAddr: [], cn: [] }, 'example.org'), false, 'no wildcard over a public suffix-like single label');
});

test('SRV-ID for _xmpp-server and _xmpps-server; other services do not count', () => {
  assert.equal(certificateMatchesDomain(der({ srv: ['_xmpp-server.example.org'] }), 'example.org'), true);
  assert.equal(certificateMatchesDomain(der({ srv: ['_xmpps-server.example.org'] }), 'example.org'), true);
  assert.equal(certificateMatchesDomain(der({ srv: ['_xmpp-client.example.org'] }), 'example.org'), false);
});

test('xmppAddr: the bare domain only, no wildcards; IDNs compare in Unicode', () => {
  assert.equal(certificateMatchesDomain(der({ xmppAddr: ['example.org'] }), 'example.org'), true);
  assert.equal(certificateMatchesDomain(der({ xmppAddr: ['user@example.org'] }), 'example.org'), false);
  assert.equal(certificateMatchesDomain(der({ xmppAddr: ['*.example.org'] }), 'chat.example.org'), false);
  assert.equal(certificateMatchesDomain(der({ xmppAddr: ['bücher.example'] }), 'bücher.example'), true);
  assert.equal(certificateMatchesDomain(der({ dns: ['xn--bcher-kva.example'] }), 'bücher.example'), true, 'DNS-IDs are A-labels');
});

test('CN is a fallback only when the certificate has no DNS-ID, SRV-ID or xmppAddr (RFC 6125 §6.4.4)', () => {
  assert.equal(certificateMatchesDomain(der({ cn: 'example.org' }), 'example.org'), true);
  assert.equal(certificateMatchesDomain(der({ cn: 'example.org', dns: ['other.example'] }), 'example.org'), false);
});
