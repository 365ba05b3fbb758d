// Per-host TLS credentials chosen by SNI (RFC 6120 §13.7, RFC 6125 names, XEP-0368 direct TLS):
// TLS 1.2 minimum, and the leaf DER of whatever was served, for tls-server-end-point channel binding.
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type Server as TlsServer, type TlsOptions, type TLSSocketOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import { OperatorError } from '../../core/errors.js';

export interface TlsHostCredentials {
  /** A host name, or a wildcard such as '*.example.com'. */
  domain: string;
  /** Leaf first, then any intermediates. */
  certPem: string;
  keyPem: string;
}

export interface TlsContextsOptions {
  hosts: TlsHostCredentials[];
  /** Served to clients that send no SNI or an unknown name. */
  defaultDomain: string;
}

interface Entry {
  readonly domain: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly context: SecureContext;
  readonly x509: X509Certificate;
  readonly der: Buffer;
}

const MIN_VERSION = 'TLSv1.2' as const;
/** Bound on remembered servername → entry resolutions (SNI names are attacker-chosen). */
const RESOLVED_MAX = 1024;

export class TlsContexts {
  readonly defaultDomain: string;
  readonly #byName = new Map<string, Entry>();
  readonly #entries: Entry[] = [];
  #default: Entry;
  /** Direct-TLS servers (c2s_tls, https) whose default context (no SNI) follows renewals. */
  readonly #servers = new Set<TlsServer>();
  #resolved = new Map<string, Entry>();

  constructor(opts: TlsContextsOptions) {
    if (opts.hosts.length === 0) {
      throw new OperatorError('XMPPD_ERR_TLS_NO_CERT', 'TLS: no certificate is configured for any host');
    }
    for (const h of opts.hosts) {
      const name = normaliseName(h.domain);
      if (this.#byName.has(name)) continue; // first configuration of a name wins
      const entry = makeEntry(name, h);
      this.#byName.set(name, entry);
      this.#entries.push(entry);
    }
    this.defaultDomain = normaliseName(opts.defaultDomain);
    const def = this.#byName.get(this.defaultDomain);
    if (!def) {
      throw new OperatorError('XMPPD_ERR_TLS_NO_CERT',
        `TLS: no certificate is configured for the default domain ${opts.defaultDomain}`);
    }
    this.#default = def;
  }

  /** Picks the certificate for the name the client asked for (RFC 6066 SNI). */
  readonly #sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    try {
      cb(null, this.#resolve(servername).context);
    } catch (err) {
      cb(err as Error);
    }
  };

  /** Options for tls.createServer / new TLSSocket({ isServer: true }); spread and extend (ALPN…). */
  serverOptions(): TlsOptions {
    return {
      minVersion: MIN_VERSION,
      cert: this.#default.certPem,
      key: this.#default.keyPem,
      SNICallback: this.#sniCallback,
    };
  }

  /**
   * Options for `new TLSSocket(raw, { isServer: true, ... })` (STARTTLS): the prebuilt default context
   * instead of PEM strings, so no connection pays for parsing the certificate and key again.
   */
  socketOptions(): TLSSocketOptions {
    return {
      secureContext: this.#default.context,
      SNICallback: this.#sniCallback,
    };
  }

  /** The context SNI would select for this name. */
  contextFor(servername?: string): SecureContext {
    return this.#resolve(servername).context;
  }

  /**
   * DER of the leaf certificate served for this SNI name (default when absent/unknown): the input
   * to tls-server-end-point channel binding (RFC 5929 §4), which hashes the server's certificate.
   */
  certificateDerFor(servername?: string): Buffer {
    return this.#resolve(servername).der;
  }

  /** Configured domain names (normalised, A-label form). */
  domains(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * A renewed certificate for one configured name (src/interface/tls/host-certificates.ts): connections
   * from now on get it, established ones keep the one they negotiated. Throws (and changes nothing) on a
   * bad pair.
   */
  replace(domain: string, certPem: string, keyPem: string): void {
    const name = normaliseName(domain);
    const old = this.#byName.get(name);
    if (!old) return;
    const entry = makeEntry(name, { domain, certPem, keyPem });
    this.#byName.set(name, entry);
    this.#entries[this.#entries.indexOf(old)] = entry;
    this.#resolved = new Map();
    if (this.#default === old) {
      this.#default = entry;
      // tls.Server keeps its own default context for clients that send no SNI
      for (const server of this.#servers) server.setSecureContext(this.serverOptions());
    }
  }

  /** Keeps a tls.Server's no-SNI default certificate in step with replace(). */
  follow(server: TlsServer): void {
    this.#servers.add(server);
  }

  /** Exact name, then '*.parent' wildcard entry, then any certificate whose SANs cover the name
   * (RFC 6125 matching, e.g. a host cert that also names conference.example.com), then default. */
  #resolve(servername: string | undefined | null): Entry {
    if (!servername) return this.#default;
    const name = normaliseName(servername);
    const exact = this.#byName.get(name);
    if (exact) return exact;
    const cached = this.#resolved.get(name);
    if (cached) return cached;
    let found: Entry | undefined;
    const dot = name.indexOf('.');
    if (dot > 0) found = this.#byName.get('*' + name.slice(dot));
    if (!found) found = this.#entries.find((e) => e.x509.checkHost(name) !== undefined);
    const entry = found ?? this.#default;
    if (this.#resolved.size >= RESOLVED_MAX) this.#resolved = new Map();
    this.#resolved.set(name, entry);
    return entry;
  }
}

function makeEntry(name: string, h: TlsHostCredentials): Entry {
  const { x509, context } = checkPair(h.certPem, h.keyPem, `the certificate for ${h.domain}`, `the private key for ${h.domain}`);
  return { domain: name, certPem: h.certPem, keyPem: h.keyPem, context, x509, der: x509.raw };
}

/** Parses a certificate (chain) and key and checks they belong together; errors name where each came from. */
export function checkPair(certPem: string, keyPem: string, certWhere: string, keyWhere: string): { x509: X509Certificate; context: SecureContext } {
  const x509 = parseCertificate(certPem, certWhere);
  const key = parseKey(keyPem, keyWhere);
  assertKeyMatches(x509, key, keyWhere, certWhere);
  // What OpenSSL will say about the pair (an unsupported key type, a chain it cannot read), before use.
  try {
    return { x509, context: createSecureContext({ cert: certPem, key: keyPem, minVersion: MIN_VERSION }) };
  } catch (err) {
    throw new OperatorError('XMPPD_ERR_TLS_CERT', `${certWhere} and ${keyWhere} cannot be used for TLS (${(err as Error).message})`);
  }
}

/**
 * Reads a PEM certificate (chain) and private key from disk and checks that they belong together.
 * Errors name the file and what to fix, for the operator.
 */
export function loadFromFiles(certPath: string, keyPath: string): { certPem: string; keyPem: string } {
  const certPem = readText(certPath, 'certificate');
  const keyPem = readText(keyPath, 'private key');
  checkPair(certPem, keyPem, certPath, keyPath);
  return { certPem, keyPem };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new OperatorError('XMPPD_ERR_TLS_FILE', `TLS ${what} file ${path} cannot be read (${code})`);
  }
}

function parseCertificate(pem: string, where: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new OperatorError('XMPPD_ERR_TLS_CERT',
      `${where} is not a PEM certificate (expected a "-----BEGIN CERTIFICATE-----" block)`);
  }
  try {
    // X509Certificate reads the first certificate of a bundle: the leaf, by convention.
    return new X509Certificate(pem);
  } catch (err) {
    throw new OperatorError('XMPPD_ERR_TLS_CERT',
      `${where} contains a PEM certificate that cannot be parsed (${(err as Error).message})`);
  }
}

function parseKey(pem: string, where: string): KeyObject {
  if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    throw new OperatorError('XMPPD_ERR_TLS_KEY',
      `${where} is encrypted; xmppd needs an unencrypted private key (e.g. openssl pkey -in old.key -out new.key)`);
  }
  if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(pem)) {
    throw new OperatorError('XMPPD_ERR_TLS_KEY',
      `${where} is not a PEM private key (expected a "-----BEGIN PRIVATE KEY-----" block)`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new OperatorError('XMPPD_ERR_TLS_KEY',
      `${where} contains a private key that cannot be parsed (${(err as Error).message})`);
  }
}

function assertKeyMatches(x509: X509Certificate, key: KeyObject, keyWhere: string, certWhere: string): void {
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCert = x509.publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) {
    throw new OperatorError('XMPPD_ERR_TLS_KEY_MISMATCH',
      `${keyWhere} does not match the certificate in ${certWhere} (their public keys differ)`);
  }
}

/** SNI carries A-labels without a trailing dot (RFC 6066 §3); config may hold U-labels. */
function normaliseName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (!/^[\x00-\x7f]*$/.test(n)) {
    const wildcard = n.startsWith('*.');
    const ascii = domainToASCII(wildcard ? n.slice(2) : n);
    if (ascii !== '') n = wildcard ? '*.' + ascii : ascii;
  }
  return n;
}
