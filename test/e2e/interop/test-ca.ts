// A certificate authority for tests: a CA certificate and server certificates it signs (or self-signed ones),
// with the identities RFC 6120 §13.7.1.4 / RFC 6125 / XEP-0178 look at (dNSName, SRVName, id-on-xmppAddr).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';
const OID_SRV_NAME = '1.3.6.1.5.5.7.8.7';

export interface Identity {
  /** dNSName entries (wildcards allowed, e.g. '*.example.org'). */
  dns?: string[];
  /** id-on-xmppAddr entries. */
  xmppAddr?: string[];
  /** SRVName entries such as '_xmpp-server.example.org'. */
  srv?: string[];
  /** Subject CN (defaults to the first dNSName). */
  cn?: string;
}

export interface IssuedCert { certPem: string; keyPem: string; certFile: string; keyFile: string }

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

function sanValue(id: Identity): forge.asn1.Asn1 {
  const { asn1 } = forge;
  const otherName = (oid: string, value: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [value]),
  ]);
  const names: forge.asn1.Asn1[] = [];
  for (const d of id.dns ?? []) names.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, d));
  for (const x of id.xmppAddr ?? []) names.push(otherName(OID_XMPP_ADDR, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(x))));
  for (const s of id.srv ?? []) names.push(otherName(OID_SRV_NAME, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.IA5STRING, false, s)));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, names);
}

function build(id: Identity, publicKeyPem: string, issuer: { cert: forge.pki.Certificate; key: string } | null, signKey: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86400_000);
  const subject = [{ shortName: 'CN', value: id.cn ?? id.dns?.[0] ?? id.xmppAddr?.[0] ?? 'xmppd test' }, { shortName: 'O', value: 'xmppd tests' }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  const exts: unknown[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true }, // s2s certificates serve both roles
    { name: 'subjectKeyIdentifier' },
  ];
  if (id.dns?.length || id.xmppAddr?.length || id.srv?.length) exts.push({ id: '2.5.29.17', name: 'subjectAltName', value: sanValue(id) });
  cert.setExtensions(exts as never[]);
  cert.sign(forge.pki.privateKeyFromPem(signKey) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export class TestCa {
  readonly certPem: string;
  readonly certFile: string;
  private readonly cert: forge.pki.Certificate;
  private readonly keyPem: string;

  /** A new CA whose certificate is written to dir/ca.crt. */
  constructor(private readonly dir: string, name = 'xmppd test CA') {
    const { privateKey, publicKey } = keyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 30 * 86400_000);
    const attrs = [{ shortName: 'CN', value: name }, { shortName: 'O', value: 'xmppd tests' }];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    this.cert = cert;
    this.keyPem = privateKey;
    this.certPem = forge.pki.certificateToPem(cert);
    this.certFile = join(dir, 'ca.crt');
    writeFileSync(this.certFile, this.certPem);
  }

  /** A server certificate signed by this CA, written to dir/<name>.crt/.key. */
  issue(name: string, id: Identity): IssuedCert {
    const { privateKey, publicKey } = keyPair();
    return save(this.dir, name, build(id, publicKey, { cert: this.cert, key: this.keyPem }, this.keyPem), privateKey);
  }

  /** A self-signed server certificate (no chain to any trust anchor: peers fall back to dialback). */
  static selfSigned(dir: string, name: string, id: Identity): IssuedCert {
    const { privateKey, publicKey } = keyPair();
    return save(dir, name, build(id, publicKey, null, privateKey), privateKey);
  }
}

function save(dir: string, name: string, certPem: string, keyPem: string): IssuedCert {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  return { certPem, keyPem, certFile, keyFile };
}
