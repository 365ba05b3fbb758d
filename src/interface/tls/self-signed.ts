// Self-signed development certificates: RSA-2048/SHA-256 with SAN dNSName and XmppAddr
// (id-on-xmppAddr, RFC 6120 §13.7.1.4) for every virtual host; checked per RFC 6125 on reuse.
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { promisify } from 'node:util';
import forge from 'node-forge';

export const CERT_FILE = 'self-signed.crt';
export const KEY_FILE = 'self-signed.key';
/** RFC 6120 §13.7.1.4: id-on-xmppAddr. */
export const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';

const VALIDITY_DAYS = 365;
/** Regenerate a cached certificate that would expire within this window, not mid-session. */
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER, 'AB:CD:…' (what clients show when asking the user to trust it). */
  fingerprint256: string;
  created: boolean;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Loads dir/self-signed.{crt,key} when they still cover every host and match each other,
 * otherwise generates a new pair (key written 0600). Meant for development and first start;
 * production deployments configure real certificates.
 */
export async function ensureSelfSignedCertificate(dir: string, hosts: string[]): Promise<SelfSignedCertificate> {
  const names = normaliseHosts(hosts);
  const certPath = join(dir, CERT_FILE);
  const keyPath = join(dir, KEY_FILE);

  const existing = await loadIfUsable(certPath, keyPath, names);
  if (existing) return { ...existing, created: false };

  const { certPem, keyPem } = await generate(names);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write to temporaries and rename, so a crash never leaves a half-written file; the key goes
  // first, and a cert/key mismatch left by a crash in between is detected and regenerated.
  await writeAtomically(keyPath, keyPem, 0o600);
  await writeAtomically(certPath, certPem, 0o644);
  return { certPem, keyPem, fingerprint256: new X509Certificate(certPem).fingerprint256, created: true };
}

function normaliseHosts(hosts: string[]): string[] {
  const out = new Set<string>();
  for (const raw of hosts) {
    const h = raw.trim().toLowerCase().replace(/\.$/, '');
    if (h === '') throw new Error('ensureSelfSignedCertificate: empty host name');
    out.add(h);
  }
  if (out.size === 0) throw new Error('ensureSelfSignedCertificate: at least one host is needed');
  return [...out];
}

async function loadIfUsable(certPath: string, keyPath: string, hosts: string[]):
  Promise<{ certPem: string; keyPem: string; fingerprint256: string } | null> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch {
    return null; // missing or unreadable: generate a fresh pair
  }
  try {
    const x509 = new X509Certificate(certPem);
    if (Date.parse(x509.validTo) - Date.now() < RENEW_BEFORE_MS) return null;
    for (const host of hosts) {
      const ip = stripBrackets(host);
      const covered = isIP(ip) ? x509.checkIP(ip) !== undefined : x509.checkHost(toAscii(host)) !== undefined;
      if (!covered) return null;
    }
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = x509.publicKey.export({ type: 'spki', format: 'der' });
    if (!fromKey.equals(fromCert)) return null;
    // Keep the key private even if someone loosened the mode since it was written.
    await chmod(keyPath, 0o600).catch(() => undefined);
    return { certPem, keyPem, fingerprint256: x509.fingerprint256 };
  } catch {
    return null; // corrupt files in our own cache directory: replace them
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** dNSName is an IA5String, so IDNs go in as A-labels (RFC 6125 §6.4.2); XmppAddr keeps UTF-8. */
function toAscii(host: string): string {
  if (/^[\x00-\x7f]*$/.test(host)) return host;
  const ascii = domainToASCII(host);
  if (ascii === '') throw new Error(`ensureSelfSignedCertificate: "${host}" is not a valid domain name`);
  return ascii;
}

async function generate(hosts: string[]): Promise<{ certPem: string; keyPem: string }> {
  // node:crypto generates the key natively (forge's pure-JS keygen takes seconds); forge only
  // assembles and signs the certificate, which node:crypto cannot do.
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = serialNumberHex();
  const notBefore = new Date(Date.now() - 3600 * 1000); // tolerate client clock skew
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const first = hosts[0]!;
  const attrs = [
    { shortName: 'CN', value: isIP(stripBrackets(first)) ? stripBrackets(first) : toAscii(first) },
    { shortName: 'O', value: 'xmppd self-signed' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    // clientAuth too: s2s servers present the same certificate when they connect out.
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectKeyIdentifier' },
    { id: '2.5.29.17', name: 'subjectAltName', value: subjectAltName(hosts) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

/** A positive, non-zero-leading 128-bit serial (RFC 5280 §4.1.2.2: positive, ≤ 20 octets). */
function serialNumberHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

/**
 * SubjectAltName built by hand because forge cannot encode otherName: per host a dNSName
 * (or iPAddress) for RFC 6125 checks and an otherName XmppAddr (RFC 6120 §13.7.1.4), which is
 *   [0] { OID 1.3.6.1.5.5.7.8.5, [0] EXPLICIT UTF8String }.
 */
function subjectAltName(hosts: string[]): forge.asn1.Asn1 {
  const { asn1 } = forge;
  const names: forge.asn1.Asn1[] = [];
  for (const host of hosts) {
    const ip = stripBrackets(host);
    if (isIP(ip)) {
      names.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, bytesFromIP(ip)));
    } else {
      names.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, toAscii(host)));
    }
    names.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(OID_XMPP_ADDR).getBytes()),
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(host)),
      ]),
    ]));
  }
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, names);
}

/** forge has util.bytesFromIP at runtime, but @types/node-forge does not declare it. */
function bytesFromIP(ip: string): string {
  const bytes = (forge.util as unknown as { bytesFromIP(ip: string): string | null }).bytesFromIP(ip);
  if (!bytes) throw new Error(`ensureSelfSignedCertificate: "${ip}" is not a valid IP address`);
  return bytes;
}

async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await chmod(tmp, mode); // writeFile's mode is filtered by the umask
  await rename(tmp, path);
}
