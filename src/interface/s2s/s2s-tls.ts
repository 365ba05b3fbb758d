// TLS for server-to-server streams (RFC 6120 §5, §13.7.2; XEP-0178; XEP-0368): each host's own certificate
// (chosen by SNI inbound, presented as the client certificate outbound), TLS 1.2+, and peer chains checked
// against the system CA store plus s2s.cafile, so a valid peer can use SASL EXTERNAL instead of dialback.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type ConnectionOptions, type SecureContext, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { domainToASCII } from 'node:url';
import type { ServerConfig } from '../../core/config/types.js';
import { ConfigError } from '../../core/config/load-config.js';
import { certificateMatchesDomain } from './cert-identity.js';

const MIN_VERSION = 'TLSv1.2' as const;
/** Where distributions keep the system trust store as one PEM bundle (Debian, RHEL, Alpine/BSD). */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export interface PeerCertificateStatus {
  /** A certificate was presented and its chain ends at a trust anchor. */
  chainValid: boolean;
  /** Why not (OpenSSL's code, or 'no certificate'). */
  chainError?: string;
  der?: Buffer;
}

export interface TlsDescription { version: string; cipher: string }

interface HostEntry { context: SecureContext; x509: X509Certificate; certPem: string; keyPem: string }

export class S2sTls {
  private readonly byName = new Map<string, HostEntry>();
  private fallback: HostEntry;
  private readonly defaultName: string;
  /** The s2s_tls listener's tls.Server: its no-SNI default certificate follows renewals. */
  private readonly servers = new Set<TlsServer>();

  private constructor(hosts: Array<{ domain: string; certPem: string; keyPem: string }>, defaultDomain: string, private readonly ca: string[]) {
    for (const h of hosts) this.byName.set(ascii(h.domain), this.entry(h.certPem, h.keyPem));
    this.defaultName = ascii(defaultDomain);
    this.fallback = this.byName.get(this.defaultName)!;
  }

  private entry(certPem: string, keyPem: string): HostEntry {
    return {
      context: createSecureContext({ cert: certPem, key: keyPem, ca: this.ca, minVersion: MIN_VERSION }),
      x509: new X509Certificate(certPem),
      certPem,
      keyPem,
    };
  }

  /** The certificates HostCertificates loaded (the same as c2s: host-certificates.ts), with the trust anchors. */
  static async load(config: ServerConfig, hosts: Array<{ domain: string; certPem: string; keyPem: string }>): Promise<S2sTls> {
    return new S2sTls(hosts, config.hosts[0]!, trustAnchors(config));
  }

  /** A renewed certificate of one of our hosts: streams from now on present it, established ones keep theirs. */
  replace(domain: string, certPem: string, keyPem: string): void {
    const name = ascii(domain);
    if (!this.byName.has(name)) return;
    const entry = this.entry(certPem, keyPem);
    this.byName.set(name, entry);
    if (name === this.defaultName) {
      this.fallback = entry;
      for (const server of this.servers) server.setSecureContext(this.serverOptions());
    }
  }

  /** Keeps a tls.Server's no-SNI default certificate in step with replace(). */
  follow(server: TlsServer): void {
    this.servers.add(server);
  }

  /** The context of one of our hosts (SNI inbound, client certificate outbound); the default host's otherwise. */
  contextFor(name?: string): SecureContext {
    if (!name) return this.fallback.context;
    const n = ascii(name);
    const exact = this.byName.get(n);
    if (exact) return exact.context;
    for (const e of this.byName.values()) if (e.x509.checkHost(n) !== undefined) return e.context;
    return this.fallback.context;
  }

  /** Inbound: request the peer's certificate (for SASL EXTERNAL) but accept any, dialback decides then. */
  serverOptions(): TlsOptions {
    return {
      minVersion: MIN_VERSION,
      // tls.createServer builds its default context from these; a STARTTLS TLSSocket takes secureContext
      cert: this.fallback.certPem,
      key: this.fallback.keyPem,
      ca: this.ca,
      secureContext: this.fallback.context,
      SNICallback: (servername, cb) => cb(null, this.contextFor(servername)),
      requestCert: true,
      rejectUnauthorized: false,
    };
  }

  /** Outbound: our host's certificate as client certificate, SNI = the peer domain (XEP-0368 §3). */
  clientOptions(local: string, remote: string): ConnectionOptions {
    return {
      minVersion: MIN_VERSION,
      secureContext: this.contextFor(local),
      servername: ascii(remote),
      rejectUnauthorized: false,
      // The identity check is ours (RFC 6125 with SRV-ID and xmppAddr), not Node's dNSName-only one.
      checkServerIdentity: () => undefined,
    };
  }

  /** Chain status of the peer's certificate on an established TLS socket. */
  static peerStatus(sock: TLSSocket, isServer: boolean): PeerCertificateStatus {
    const cert = sock.getPeerX509Certificate();
    if (!cert) return { chainValid: false, chainError: 'no certificate' };
    let error: string | null;
    if (isServer) {
      // A TLSSocket made for STARTTLS (not by a tls.Server) never sets `authorized`; Node's own server
      // path reads the handle's verify result the same way. If that ever changes we fail closed.
      const handle = (sock as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
      const err = typeof handle?.verifyError === 'function' ? handle.verifyError() : new Error('verification result unavailable');
      error = err ? ((err as NodeJS.ErrnoException).code ?? err.message) : null;
    } else {
      error = sock.authorized ? null : String(sock.authorizationError ?? 'not authorized');
    }
    return error ? { chainValid: false, chainError: error, der: cert.raw } : { chainValid: true, der: cert.raw };
  }

  /** RFC 6125 identity of a peer whose chain validated. */
  static peerIsDomain(status: PeerCertificateStatus, domain: string): boolean {
    return status.chainValid && status.der !== undefined && certificateMatchesDomain(status.der, domain);
  }

  static describe(sock: TLSSocket): TlsDescription {
    return { version: sock.getProtocol() ?? '', cipher: sock.getCipher()?.name ?? '' };
  }
}

function ascii(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  return /^[\x00-\x7f]*$/.test(n) ? n : domainToASCII(n) || n;
}

/** System store (or Node's bundled Mozilla roots when none is found) plus s2s.cafile. */
function trustAnchors(config: ServerConfig): string[] {
  const out: string[] = [];
  if (config.s2s.system_ca) {
    const bundle = SYSTEM_BUNDLES.find((p) => existsSync(p));
    if (bundle) out.push(readFileSync(bundle, 'utf8'));
    else out.push(...rootCertificates);
  }
  if (config.s2s.cafile) {
    let pem: string;
    try {
      pem = readFileSync(config.s2s.cafile, 'utf8');
    } catch (err) {
      throw new ConfigError(config.path, 's2s.cafile', `cannot read ${config.s2s.cafile} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(config.path, 's2s.cafile', `${config.s2s.cafile} holds no PEM certificate`);
    out.push(pem);
  }
  return out;
}
