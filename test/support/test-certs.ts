// Test certificates made with node-forge (signed; the RSA key from node:crypto, which is fast), and the
// directory layouts ACME clients write them in: certbot (live/ symlinks into archive/), acmetool, lego.
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestCert { certPem: string; keyPem: string; sha256: string; sha1: string }

/** A self-signed certificate naming `names` (dNSName SANs), valid from an hour ago for `days` days. */
export function makeCert(names: string[], opts: { days?: number; notBefore?: Date } = {}): TestCert {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  const notBefore = opts.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (opts.days ?? 90) * 86_400_000);
  const attrs = [{ shortName: 'CN', value: names[0]! }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const x509 = new X509Certificate(certPem);
  return { certPem, keyPem: privateKey, sha256: x509.fingerprint256, sha1: x509.fingerprint };
}

/** The same certificate with the private key of another: a pair that does not belong together. */
export function mismatched(cert: TestCert, other: TestCert): TestCert {
  return { ...cert, keyPem: other.keyPem };
}

function write(path: string, data: string, mode = 0o644): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data, { mode });
}

/** Replaces a symlink the way certbot does: a new link beside it, renamed over the old one. */
function relink(target: string, link: string): void {
  const tmp = `${link}.new`;
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

/** certbot: archive/<host>/fullchainN.pem + privkeyN.pem, live/<host>/{fullchain,privkey}.pem symlinks to them. */
export function writeCertbot(dir: string, host: string, c: TestCert, n = 1): void {
  write(join(dir, 'archive', host, `fullchain${n}.pem`), c.certPem);
  write(join(dir, 'archive', host, `privkey${n}.pem`), c.keyPem, 0o600);
  mkdirSync(join(dir, 'live', host), { recursive: true });
  relink(`../../archive/${host}/privkey${n}.pem`, join(dir, 'live', host, 'privkey.pem'));
  relink(`../../archive/${host}/fullchain${n}.pem`, join(dir, 'live', host, 'fullchain.pem'));
}

export function writeAcmetool(dir: string, host: string, c: TestCert): void {
  write(join(dir, 'live', host, 'fullchain'), c.certPem);
  write(join(dir, 'live', host, 'privkey'), c.keyPem, 0o600);
}

/** lego: certificates/<host>.crt + .key (a wildcard *.example.com as _.example.com). */
export function writeLego(dir: string, host: string, c: TestCert): void {
  const name = host.replace(/^\*\./, '_.');
  write(join(dir, 'certificates', `${name}.crt`), c.certPem);
  write(join(dir, 'certificates', `${name}.key`), c.keyPem, 0o600);
}

export function writeProsodyFlat(dir: string, host: string, c: TestCert): void {
  write(join(dir, `${host}.crt`), c.certPem);
  write(join(dir, `${host}.key`), c.keyPem, 0o600);
}

export function writeProsodyDir(dir: string, host: string, c: TestCert): void {
  write(join(dir, host, 'fullchain.pem'), c.certPem);
  write(join(dir, host, 'privkey.pem'), c.keyPem, 0o600);
}
