// Self-signed certificates (SAN + XmppAddr, RFC 6120 §13.7.1.4) and SNI-selected TLS contexts
// (RFC 6125, XEP-0368), over real loopback TLS connections.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { ensureSelfSignedCertificate, CERT_FILE, KEY_FILE, OID_XMPP_ADDR } from '../../../src/interface/tls/self-signed.js';
import { TlsContexts, loadFromFiles } from '../../../src/interface/tls/tls-contexts.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'xmppd-tls-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The XmppAddr otherName values in a certificate's subjectAltName, decoded with forge's ASN.1. */
function xmppAddrs(certPem: string): string[] {
  const cert = forge.pki.certificateFromPem(certPem);
  const ext = cert.getExtension('subjectAltName') as { value: string } | undefined;
  assert.ok(ext, 'certificate has a subjectAltName');
  const seq = forge.asn1.fromDer(ext.value);
  const out: string[] = [];
  for (const gn of seq.value as forge.asn1.Asn1[]) {
    if (gn.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || gn.type !== 0) continue;
    const [oid, wrapped] = gn.value as forge.asn1.Asn1[];
    if (forge.asn1.derToOid(oid!.value as string) !== OID_XMPP_ADDR) continue;
    const utf8 = (wrapped!.value as forge.asn1.Asn1[])[0]!;
    assert.equal(utf8.type, forge.asn1.Type.UTF8);
    out.push(forge.util.decodeUtf8(utf8.value as string));
  }
  return out;
}

describe('ensureSelfSignedCertificate', () => {
  test('generates RSA-2048/SHA-256 with dNSName and XmppAddr per host, key file 0600', async () => {
    const dir = join(root, 'gen');
    const res = await ensureSelfSignedCertificate(dir, ['example.test', 'Conference.Example.Test.', 'bücher.test']);
    assert.equal(res.created, true);
    assert.equal(await readFile(join(dir, CERT_FILE), 'utf8'), res.certPem);
    assert.equal(await readFile(join(dir, KEY_FILE), 'utf8'), res.keyPem);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);

    const x509 = new X509Certificate(res.certPem);
    assert.equal(res.fingerprint256, x509.fingerprint256);
    assert.match(res.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const san = x509.subjectAltName ?? '';
    for (const dns of ['DNS:example.test', 'DNS:conference.example.test', 'DNS:xn--bcher-kva.test']) {
      assert.ok(san.includes(dns), `${dns} in ${san}`);
    }
    assert.deepEqual(xmppAddrs(res.certPem), ['example.test', 'conference.example.test', 'bücher.test']);
    assert.equal(x509.checkHost('conference.example.test'), 'conference.example.test');

    const fcert = forge.pki.certificateFromPem(res.certPem);
    assert.equal(fcert.siginfo.algorithmOid, forge.pki.oids['sha256WithRSAEncryption']);
    const days = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 86_400_000;
    assert.ok(days >= 364 && days <= 366, `validity ${days} days`);
    assert.ok(x509.verify(x509.publicKey), 'self-signed signature verifies');
    assert.equal(createPrivateKey(res.keyPem).asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(x509.checkPrivateKey(createPrivateKey(res.keyPem)));
  });

  test('reuses the pair while it covers the hosts, regenerates when a host is added', async () => {
    const dir = join(root, 'reuse');
    const first = await ensureSelfSignedCertificate(dir, ['a.test', 'b.test']);
    assert.equal(first.created, true);
    await chmod(join(dir, KEY_FILE), 0o644);
    const second = await ensureSelfSignedCertificate(dir, ['b.test', 'A.test']);
    assert.equal(second.created, false);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
    assert.equal(second.fingerprint256, first.fingerprint256);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600, 'loosened key mode is restored');

    const third = await ensureSelfSignedCertificate(dir, ['a.test', 'b.test', 'c.test']);
    assert.equal(third.created, true);
    assert.notEqual(third.fingerprint256, first.fingerprint256);
    assert.deepEqual(xmppAddrs(third.certPem), ['a.test', 'b.test', 'c.test']);
    assert.equal(await readFile(join(dir, CERT_FILE), 'utf8'), third.certPem);
  });

  test('replaces a cached pair whose key does not match the certificate', async () => {
    const dir = join(root, 'mismatch-cache');
    const other = await ensureSelfSignedCertificate(join(root, 'other-cache'), ['a.test']);
    const first = await ensureSelfSignedCertificate(dir, ['a.test']);
    await writeFile(join(dir, KEY_FILE), other.keyPem);
    const again = await ensureSelfSignedCertificate(dir, ['a.test']);
    assert.equal(again.created, true);
    assert.notEqual(again.fingerprint256, first.fingerprint256);
  });

  test('IP literal hosts get an iPAddress SAN', async () => {
    const res = await ensureSelfSignedCertificate(join(root, 'ip'), ['127.0.0.1', '[::1]']);
    const x509 = new X509Certificate(res.certPem);
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x509.checkIP('::1'), '::1');
    assert.deepEqual(xmppAddrs(res.certPem), ['127.0.0.1', '[::1]']);
  });
});

interface Handshake { protocol: string | null; der: Buffer; authorized: boolean; authError?: string }

function handshake(port: number, opts: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, ...opts }, () => {
      const res: Handshake = {
        protocol: sock.getProtocol(),
        der: sock.getPeerCertificate().raw,
        authorized: sock.authorized,
      };
      if (sock.authorizationError) res.authError = String(sock.authorizationError);
      sock.end();
      resolve(res);
    });
    sock.once('error', reject);
  });
}

function listen(server: tls.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: tls.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('TlsContexts over loopback TLS', () => {
  let a: { certPem: string; keyPem: string };
  let b: { certPem: string; keyPem: string };
  let d: { certPem: string; keyPem: string };
  let contexts: TlsContexts;
  let server: tls.Server;
  let port: number;
  const clientErrors: Error[] = [];

  before(async () => {
    a = await ensureSelfSignedCertificate(join(root, 'sni-a'), ['a.test']);
    b = await ensureSelfSignedCertificate(join(root, 'sni-b'), ['b.test']);
    d = await ensureSelfSignedCertificate(join(root, 'sni-d'), ['default.test']);
    contexts = new TlsContexts({
      hosts: [{ domain: 'default.test', ...d }, { domain: 'a.test', ...a }, { domain: 'B.Test.', ...b }],
      defaultDomain: 'default.test',
    });
    server = tls.createServer(contexts.serverOptions(), (sock) => sock.end());
    server.on('tlsClientError', (err) => clientErrors.push(err));
    port = await listen(server);
  });
  after(async () => {
    await close(server);
  });

  const derOf = (pem: string): Buffer => new X509Certificate(pem).raw;

  test('serverOptions requires TLS 1.2 or newer', () => {
    assert.equal(contexts.serverOptions().minVersion, 'TLSv1.2');
  });

  test('servername a.test gets the a.test certificate over TLS 1.3, verified against it', async () => {
    const res = await handshake(port, { servername: 'a.test', ca: [a.certPem], minVersion: 'TLSv1.3' });
    assert.equal(res.protocol, 'TLSv1.3');
    assert.equal(res.authorized, true, res.authError);
    assert.deepEqual(res.der, derOf(a.certPem));
    assert.deepEqual(contexts.certificateDerFor('a.test'), res.der);
  });

  test('servername b.test gets the b.test certificate', async () => {
    const res = await handshake(port, { servername: 'b.test', ca: [b.certPem], minVersion: 'TLSv1.3' });
    assert.equal(res.authorized, true, res.authError);
    assert.deepEqual(res.der, derOf(b.certPem));
    assert.deepEqual(contexts.certificateDerFor('B.TEST'), res.der);
  });

  test('an unknown servername and no SNI at all get the default certificate', async () => {
    const unknown = await handshake(port, { servername: 'nobody.test', rejectUnauthorized: false });
    assert.deepEqual(unknown.der, derOf(d.certPem));
    assert.deepEqual(contexts.certificateDerFor('nobody.test'), unknown.der);
    // Connecting to an IP address sends no SNI.
    const none = await handshake(port, { rejectUnauthorized: false });
    assert.deepEqual(none.der, derOf(d.certPem));
    assert.deepEqual(contexts.certificateDerFor(), none.der);
  });

  test('a TLS 1.1-only client is refused (while a permissive server would accept it)', async () => {
    const old: tls.ConnectionOptions = {
      servername: 'a.test', rejectUnauthorized: false,
      minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0',
    };
    // Control: the same client handshakes with a server that allows TLS 1.1, so the refusal
    // below comes from our minVersion and not from the client's own OpenSSL policy.
    const permissive = tls.createServer({ cert: a.certPem, key: a.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
    const permissivePort = await listen(permissive);
    try {
      const ok = await handshake(permissivePort, old);
      assert.equal(ok.protocol, 'TLSv1.1');
    } finally {
      await close(permissive);
    }

    clientErrors.length = 0;
    await assert.rejects(handshake(port, old), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code ?? err.message), /VERSION|PROTOCOL/i);
      return true;
    });
    await new Promise((r) => setImmediate(r));
    assert.ok(clientErrors.some((e) => /unsupported protocol|UNSUPPORTED_PROTOCOL|version/i.test(
      `${(e as NodeJS.ErrnoException).code} ${e.message}`)), `server-side error: ${clientErrors.map(String)}`);
  });
});

describe('TlsContexts selection without sockets', () => {
  test('wildcard entries and SAN coverage are used before the default', async () => {
    const host = await ensureSelfSignedCertificate(join(root, 'san'), ['example.test', 'conference.example.test']);
    const wild = await ensureSelfSignedCertificate(join(root, 'wild'), ['wild.test']);
    const def = await ensureSelfSignedCertificate(join(root, 'def'), ['default.test']);
    const contexts = new TlsContexts({
      hosts: [{ domain: 'default.test', ...def }, { domain: 'example.test', ...host }, { domain: '*.wild.test', ...wild }],
      defaultDomain: 'default.test',
    });
    const der = (pem: string): Buffer => new X509Certificate(pem).raw;
    assert.deepEqual(contexts.certificateDerFor('x.wild.test'), der(wild.certPem));
    assert.deepEqual(contexts.certificateDerFor('conference.example.test'), der(host.certPem));
    assert.deepEqual(contexts.certificateDerFor('a.b.wild.test'), der(def.certPem));
    assert.deepEqual(contexts.certificateDerFor('example.test.'), der(host.certPem));
  });

  test('a default domain without a certificate is an operator error', async () => {
    const c = await ensureSelfSignedCertificate(join(root, 'nodef'), ['a.test']);
    assert.throws(() => new TlsContexts({ hosts: [{ domain: 'a.test', ...c }], defaultDomain: 'b.test' }),
      /default domain b\.test/);
    assert.throws(() => new TlsContexts({ hosts: [], defaultDomain: 'b.test' }), /no certificate/);
  });
});

describe('loadFromFiles', () => {
  let a: { certPem: string; keyPem: string };
  let b: { certPem: string; keyPem: string };
  let dir: string;
  before(async () => {
    a = await ensureSelfSignedCertificate(join(root, 'files-a'), ['a.test']);
    b = await ensureSelfSignedCertificate(join(root, 'files-b'), ['b.test']);
    dir = await mkdtemp(join(root, 'files-'));
    await writeFile(join(dir, 'a.crt'), a.certPem);
    await writeFile(join(dir, 'a.key'), a.keyPem);
    await writeFile(join(dir, 'b.key'), b.keyPem);
    await writeFile(join(dir, 'garbage.crt'), 'hello\n');
  });

  test('loads a matching pair', () => {
    const got = loadFromFiles(join(dir, 'a.crt'), join(dir, 'a.key'));
    assert.equal(got.certPem, a.certPem);
    assert.equal(got.keyPem, a.keyPem);
  });

  test('a key that does not match the certificate names both files', () => {
    const keyPath = join(dir, 'b.key');
    const certPath = join(dir, 'a.crt');
    assert.throws(() => loadFromFiles(certPath, keyPath), (err: Error & { code?: string }) => {
      assert.ok(err.message.includes(keyPath), err.message);
      assert.ok(err.message.includes(certPath), err.message);
      assert.match(err.message, /does not match/);
      assert.equal(err.code, 'XMPPD_ERR_TLS_KEY_MISMATCH');
      return true;
    });
  });

  test('a file that is not a PEM certificate, a key in place of a cert, a missing file', () => {
    const garbage = join(dir, 'garbage.crt');
    assert.throws(() => loadFromFiles(garbage, join(dir, 'a.key')),
      (err: Error) => err.message.includes(garbage) && /not a PEM certificate/.test(err.message));
    const keyAsCert = join(dir, 'a.key');
    assert.throws(() => loadFromFiles(keyAsCert, join(dir, 'a.key')),
      (err: Error) => err.message.includes(keyAsCert) && /not a PEM certificate/.test(err.message));
    const certAsKey = join(dir, 'a.crt');
    assert.throws(() => loadFromFiles(join(dir, 'a.crt'), certAsKey),
      (err: Error) => err.message.startsWith(certAsKey) && /not a PEM private key/.test(err.message));
    const missing = join(dir, 'missing.key');
    assert.throws(() => loadFromFiles(join(dir, 'a.crt'), missing),
      (err: Error) => err.message.includes(missing) && /cannot be read \(ENOENT\)/.test(err.message));
  });

  test('mismatched PEMs passed directly name the domain', () => {
    assert.throws(() => new TlsContexts({
      hosts: [{ domain: 'a.test', certPem: a.certPem, keyPem: b.keyPem }], defaultDomain: 'a.test',
    }), /private key for a\.test does not match/);
  });
});
