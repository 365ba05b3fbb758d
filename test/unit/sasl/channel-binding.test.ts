// Tests for channel-binding data: tls-server-end-point (RFC 5929 §4.1), tls-unique (RFC 5929 §3) and
// tls-exporter (RFC 9266) over real loopback TLS, and SCRAM -PLUS bound to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import {
  certificateSignatureHash, channelBindingsFor, serverChannelBindings, tlsExporter, tlsServerEndPoint, tlsUnique,
} from '../../../src/core/sasl/channel-binding.js';
import { deriveCredentials } from '../../../src/core/sasl/scram-credentials.js';
import { ScramServerSession } from '../../../src/core/sasl/scram-server.js';
import { ScramClient } from '../../../src/core/sasl/scram-client.js';
import type { ChannelBindingType, SaslContext } from '../../../src/core/sasl/mechanism.js';

const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });

function makeCert(md: forge.md.MessageDigest = forge.md.sha256.create()): { der: Buffer; certPem: string; keyPem: string } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const attrs = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }]);
  cert.sign(keys.privateKey, md);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { der, certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** Re-encodes a certificate with another signatureAlgorithm (the signature itself is irrelevant here). */
function withSignatureAlgorithm(der: Buffer, oid: string, params?: forge.asn1.Asn1): Buffer {
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  const { Class, Type } = forge.asn1;
  const alg = [forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(oid).getBytes())];
  if (params) alg.push(params);
  (asn1.value as forge.asn1.Asn1[])[1] = forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, alg);
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest();

describe('tls-server-end-point', () => {
  it('sha256WithRSAEncryption: SHA-256 of the DER certificate', () => {
    const { der } = makeCert();
    assert.equal(certificateSignatureHash(der), 'sha256');
    assert.deepEqual(tlsServerEndPoint(der), sha('sha256', der));
  });

  it('SHA-1 and MD5 signatures are upgraded to SHA-256 (RFC 5929 §4.1)', () => {
    for (const md of [forge.md.sha1.create(), forge.md.md5.create()]) {
      const { der } = makeCert(md);
      assert.deepEqual(tlsServerEndPoint(der), sha('sha256', der));
    }
  });

  it('other signature hashes are used as they are', () => {
    const { der: d384 } = makeCert(forge.md.sha384.create());
    assert.deepEqual(tlsServerEndPoint(d384), sha('sha384', d384));
    const { der: d512 } = makeCert(forge.md.sha512.create());
    assert.deepEqual(tlsServerEndPoint(d512), sha('sha512', d512));
    const base = makeCert().der;
    const ec384 = withSignatureAlgorithm(base, '1.2.840.10045.4.3.3'); // ecdsa-with-SHA384
    assert.deepEqual(tlsServerEndPoint(ec384), sha('sha384', ec384));
    const ec1 = withSignatureAlgorithm(base, '1.2.840.10045.4.1'); // ecdsa-with-SHA1
    assert.deepEqual(tlsServerEndPoint(ec1), sha('sha256', ec1));
  });

  it('RSASSA-PSS takes the hash from its parameters', () => {
    const { Class, Type } = forge.asn1;
    const hashAlg = (oid: string) => forge.asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [
      forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
        forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(oid).getBytes()),
      ]),
    ]);
    const base = makeCert().der;
    const pss512 = withSignatureAlgorithm(base, '1.2.840.113549.1.1.10',
      forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [hashAlg('2.16.840.1.101.3.4.2.3')]));
    assert.deepEqual(tlsServerEndPoint(pss512), sha('sha512', pss512));
    const pssDefault = withSignatureAlgorithm(base, '1.2.840.113549.1.1.10',
      forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, []));
    assert.deepEqual(tlsServerEndPoint(pssDefault), sha('sha256', pssDefault)); // default SHA-1 -> SHA-256
  });

  it('is undefined (null) for Ed25519 and unknown algorithms', () => {
    const base = makeCert().der;
    assert.equal(tlsServerEndPoint(withSignatureAlgorithm(base, '1.3.101.112')), null);
    assert.equal(tlsServerEndPoint(withSignatureAlgorithm(base, '1.2.3.4.5')), null);
  });
});

describe('channel binding over loopback TLS', () => {
  const { der, certPem, keyPem } = makeCert();
  let server: tls.Server;

  before(async () => {
    server = tls.createServer({ key: keyPem, cert: certPem, minVersion: 'TLSv1.2' });
    server.on('secureConnection', (s) => server.emit('test-conn', s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    server.close();
  });

  async function connect(version: tls.SecureVersion, session?: Buffer): Promise<{ srv: tls.TLSSocket; cli: tls.TLSSocket; done: () => void }> {
    const srvP = once(server, 'test-conn') as Promise<[tls.TLSSocket]>;
    const cli = tls.connect({
      port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost',
      ca: certPem, maxVersion: version, ...(session ? { session } : {}),
    });
    await once(cli, 'secureConnect');
    const [srv] = await srvP;
    return { srv, cli, done: () => { cli.destroy(); srv.destroy(); } };
  }

  it('TLS 1.3: both ends compute the same tls-exporter and tls-server-end-point', async () => {
    const { srv, cli, done } = await connect('TLSv1.3');
    try {
      assert.equal(cli.getProtocol(), 'TLSv1.3');
      const s = channelBindingsFor(srv); // the certificate the server presented
      const c = channelBindingsFor(cli, cli.getPeerCertificate().raw, { role: 'client' });
      assert.deepEqual(s.types, ['tls-exporter', 'tls-server-end-point', 'tls-unique'], 'tls-exporter preferred, tls-unique last');
      assert.deepEqual(c.types, ['tls-exporter', 'tls-server-end-point', 'tls-unique']);
      assert.equal(s.get('tls-exporter')!.length, 32);
      assert.deepEqual(s.get('tls-exporter'), c.get('tls-exporter'));
      assert.deepEqual(s.get('tls-exporter'), tlsExporter(srv));
      assert.deepEqual(s.get('tls-server-end-point'), sha('sha256', der));
      assert.deepEqual(c.get('tls-server-end-point'), sha('sha256', der));
      assert.deepEqual(channelBindingsFor(srv, der).get('tls-server-end-point'), sha('sha256', der));
    } finally {
      done();
    }
  });

  it('server bindings read lazily: the same types and data as computed at once; the served certificate is read only for tls-server-end-point', async () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const { srv, cli, done } = await connect(version);
      try {
        let reads = 0;
        const lazy = serverChannelBindings(srv, der, () => (reads++, srv.getX509Certificate()!.raw));
        const eager = channelBindingsFor(srv);
        const client = channelBindingsFor(cli, cli.getPeerCertificate().raw, { role: 'client' });
        assert.deepEqual(lazy.types, eager.types, version);
        for (const type of lazy.types.filter((t) => t !== 'tls-server-end-point')) {
          assert.deepEqual(lazy.get(type), eager.get(type), `${version} ${type}`);
          assert.deepEqual(lazy.get(type), client.get(type), `${version} ${type} as the client computes it`);
        }
        assert.equal(reads, 0, 'no certificate read for the other types');
        assert.deepEqual(lazy.get('tls-server-end-point'), sha('sha256', der));
        assert.deepEqual(lazy.get('tls-server-end-point'), sha('sha256', der));
        assert.equal(reads, 1, 'read once');
        assert.deepEqual(serverChannelBindings(srv, der, () => srv.getX509Certificate()!.raw, { tlsUnique: 'never' }).types,
          eager.types.filter((t) => t !== 'tls-unique'));
      } finally {
        done();
      }
    }
  });

  it('server bindings hash the certificate the socket was served, not the one configured since (a renewal mid-handshake)', async () => {
    const { srv, done } = await connect('TLSv1.3');
    try {
      const renewed = makeCert().der;
      const cb = serverChannelBindings(srv, renewed, () => srv.getX509Certificate()!.raw);
      assert.ok(cb.types.includes('tls-server-end-point'));
      assert.deepEqual(cb.get('tls-server-end-point'), sha('sha256', der));
      assert.equal(serverChannelBindings(srv, undefined, () => der).types.includes('tls-server-end-point'), false, 'no certificate held: not offered');
    } finally {
      done();
    }
  });

  it('tls-exporter differs per connection', async () => {
    const a = await connect('TLSv1.3');
    const b = await connect('TLSv1.3');
    try {
      assert.notDeepEqual(tlsExporter(a.srv), tlsExporter(b.srv));
    } finally {
      a.done();
      b.done();
    }
  });

  it('TLS 1.2: tls-exporter is not offered (no EMS detection), tls-server-end-point is', async () => {
    const { srv, cli, done } = await connect('TLSv1.2');
    try {
      assert.equal(cli.getProtocol(), 'TLSv1.2');
      assert.equal(tlsExporter(srv), null);
      const s = channelBindingsFor(srv);
      assert.deepEqual(s.types, ['tls-server-end-point', 'tls-unique']);
      assert.equal(s.get('tls-exporter'), null);
    } finally {
      done();
    }
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: tls-unique is the client's Finished on a full handshake, the same at both ends (as OpenSSL peers compute it)`, async () => {
      const { srv, cli, done } = await connect(version);
      try {
        assert.equal(cli.getProtocol(), version);
        assert.equal(srv.isSessionReused(), false);
        const s = tlsUnique(srv, 'server')!;
        assert.ok(s.length >= 12, 'a Finished verify_data (12 bytes on TLS 1.2, a hash length on TLS 1.3)');
        assert.deepEqual(s, cli.getFinished(), 'the first Finished of the handshake: the client’s');
        assert.deepEqual(tlsUnique(cli, 'client'), s);
        assert.deepEqual(channelBindingsFor(srv).get('tls-unique'), s);
        assert.notDeepEqual(s, srv.getFinished(), 'not the server’s own Finished');
      } finally {
        done();
      }
    });
  }

  it('TLS 1.2 resumed session: tls-unique is the server’s Finished (sent first), the same at both ends', async () => {
    const first = await connect('TLSv1.2');
    const session = first.cli.getSession();
    first.done();
    assert.ok(session, 'the server issued a session');
    const { srv, cli, done } = await connect('TLSv1.2', session);
    try {
      assert.equal(cli.isSessionReused(), true);
      const s = tlsUnique(srv, 'server')!;
      assert.deepEqual(s, srv.getFinished());
      assert.deepEqual(tlsUnique(cli, 'client'), s);
    } finally {
      done();
    }
  });

  it('policy: tls_unique tls12 drops it on TLS 1.3 only; never drops it everywhere', async () => {
    const v13 = await connect('TLSv1.3');
    const v12 = await connect('TLSv1.2');
    try {
      assert.deepEqual(channelBindingsFor(v13.srv, undefined, { tlsUnique: 'tls12' }).types, ['tls-exporter', 'tls-server-end-point']);
      assert.deepEqual(channelBindingsFor(v12.srv, undefined, { tlsUnique: 'tls12' }).types, ['tls-server-end-point', 'tls-unique']);
      assert.deepEqual(channelBindingsFor(v12.srv, undefined, { tlsUnique: 'never' }).types, ['tls-server-end-point']);
      assert.equal(channelBindingsFor(v13.srv, undefined, { tlsUnique: 'never' }).get('tls-unique'), null);
    } finally {
      v13.done();
      v12.done();
    }
  });

  it('SCRAM-SHA-256-PLUS: alice binds to her TLS connection; data from another connection fails', async () => {
    const creds = await deriveCredentials('pencil');
    const a = await connect('TLSv1.3');
    const b = await connect('TLSv1.3');
    try {
      const serverCb = channelBindingsFor(a.srv);
      const ctx: SaslContext = {
        lookup: async (u) => (u === 'alice' ? creds : null),
        secure: true,
        channelBinding: (t: ChannelBindingType) => serverCb.get(t),
        advertisedChannelBindings: serverCb.types,
      };
      for (const [cli, expect] of [[a.cli, 'success'], [b.cli, 'failure']] as const) {
        const cb = channelBindingsFor(cli, cli.getPeerCertificate().raw, { role: 'client' });
        for (const cbType of ['tls-exporter', 'tls-server-end-point', 'tls-unique'] as const) {
          const client = new ScramClient({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'alice', password: 'pencil', cbType, cbData: cb.get(cbType)! });
          const server = new ScramServerSession('SHA-256', true, ctx);
          const first = await server.step(client.clientFirst());
          assert.equal(first.kind, 'challenge');
          const final = await server.step(await client.clientFinal(first.kind === 'challenge' ? first.data : Buffer.alloc(0)));
          // tls-server-end-point is the same certificate on both connections, so it cannot tell them apart;
          // tls-unique and tls-exporter differ per connection.
          const want = cbType === 'tls-server-end-point' ? 'success' : expect;
          assert.equal(final.kind, want, `${cbType}: ${JSON.stringify(final)}`);
          if (final.kind === 'success') client.verifyServerFinal(final.data!);
        }
      }
    } finally {
      a.done();
      b.done();
    }
  });
});
