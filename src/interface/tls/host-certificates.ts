// Each host's certificate and key: configured files, a certificate directory (certbot, lego, acmetool,
// Prosody layouts), or the self-signed one (RFC 6120 §13.7.1). Re-read when they change on disk — watched
// directories plus a periodic re-check, as certbot renews by swapping symlinks — and handed to the TLS
// contexts (c2s, https, s2s); a bad new pair is refused and the loaded one stays. Fingerprints are logged
// as SHA-256 and SHA-1 (what clients such as Profanity show).
import { createHash, type X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { domainToASCII } from 'node:url';
import type { ServerConfig } from '../../core/config/types.js';
import { ConfigError } from '../../core/config/load-config.js';
import type { Logger } from '../../core/log.js';
import { candidateDirs, findCertFiles, layoutCandidates } from './cert-layouts.js';
import { ensureSelfSignedCertificate } from './self-signed.js';
import { checkPair, loadFromFiles, type TlsHostCredentials } from './tls-contexts.js';

/** Something that serves a host's certificate (TlsContexts, S2sTls). */
export interface CertificateTarget { replace(domain: string, certPem: string, keyPem: string): void }

type Source =
  | { kind: 'files'; cert: string; key: string; where: string }
  /** selfSigned: the default directory (data_dir/certs): nothing there means the self-signed certificate. */
  | { kind: 'dir'; dir: string; where: string; selfSigned: boolean };

interface HostState {
  domain: string;
  source: Source;
  certPem: string;
  keyPem: string;
  digest: string;
  /** The certificate file served ('self-signed' for the generated one). */
  file: string;
  sha256: string;
  /** The last problem logged for this host (a refused pair's digest, 'missing', a read error), logged once. */
  reported?: string;
}

export interface CertificateEvent { host: string; file: string; sha256: string; sha1: string; reason?: string }

/** Re-check every minute even without a watch event: reading a few small files costs nothing. */
const RECHECK_MS = 60_000;
/** Renewals write several files (chain, key, symlinks): wait for the burst of events to settle. */
const SETTLE_MS = 250;

export class HostCertificates extends EventEmitter {
  readonly #hosts: HostState[];
  readonly #targets: CertificateTarget[] = [];
  readonly #watchers = new Map<string, { watcher: FSWatcher; ino: number }>();
  #interval: NodeJS.Timeout | null = null;
  #settle: NodeJS.Timeout | null = null;
  #stopped = false;

  private constructor(hosts: HostState[], private readonly log: Logger, private readonly recheckMs: number) {
    super();
    this.#hosts = hosts;
  }

  /** Reads every host's pair (a broken one fails the start with its YAML path), self-signed where none is set. */
  static async load(config: ServerConfig, log: Logger, opts: { recheckMs?: number } = {}): Promise<HostCertificates> {
    const states: HostState[] = [];
    const selfSigned: Array<{ domain: string; source: Source }> = [];
    for (const domain of config.hosts) {
      const source = sourceOf(config, domain);
      let picked: Picked | null;
      let x509: X509Certificate | undefined;
      try {
        picked = pick(domain, source);
        if (picked) x509 = checkPair(picked.certPem, picked.keyPem, picked.cert, picked.key).x509;
      } catch (err) {
        throw new ConfigError(config.path, source.kind === 'files' || source.selfSigned ? source.where : `${source.where}.certificates`, (err as Error).message);
      }
      if (!picked) {
        if (source.kind === 'dir' && source.selfSigned) {
          selfSigned.push({ domain, source });
          continue;
        }
        const dir = (source as { dir: string }).dir;
        const looked = layoutCandidates(dir, domain).map((c) => c.cert.slice(dir.length + 1)).join(', ');
        throw new ConfigError(config.path, `${source.where}.certificates`, `no certificate for ${domain} in ${dir} (looked for ${looked}, and the same for its parent domain)`);
      }
      states.push(state(domain, source, picked, x509!));
      log.info('TLS certificate loaded', { host: domain, ...describe(x509!, picked) });
      const problem = validityProblem(x509!, domain);
      if (problem) log.warn('TLS certificate problem (clients will refuse it)', { host: domain, cert: picked.cert, problem });
    }
    if (selfSigned.length) {
      const hosts = selfSigned.map((s) => s.domain);
      const cert = await ensureSelfSignedCertificate(join(config.data_dir, 'certs'), hosts);
      const x509 = checkPair(cert.certPem, cert.keyPem, 'the self-signed certificate', 'its key').x509;
      log[cert.created ? 'warn' : 'info']('using a self-signed certificate (clients must accept or pin it)', {
        hosts, sha256: x509.fingerprint256, sha1: x509.fingerprint, created: cert.created,
        // where a real certificate goes to replace it without a restart (or `xmppd cert import DIR`)
        certificates_dir: join(config.data_dir, 'certs'),
      });
      for (const s of selfSigned) {
        states.push(state(s.domain, s.source, { certPem: cert.certPem, keyPem: cert.keyPem, cert: 'self-signed', key: 'self-signed', layout: 'self-signed' }, x509));
      }
    }
    // configuration order, so the first host stays the default certificate
    states.sort((a, b) => config.hosts.indexOf(a.domain) - config.hosts.indexOf(b.domain));
    return new HostCertificates(states, log, opts.recheckMs ?? RECHECK_MS);
  }

  current(): TlsHostCredentials[] {
    return this.#hosts.map((h) => ({ domain: h.domain, certPem: h.certPem, keyPem: h.keyPem }));
  }

  /** Targets get every accepted renewal. */
  follow(target: CertificateTarget): void {
    this.#targets.push(target);
  }

  /** Watch the directories and re-check periodically. */
  start(): void {
    if (this.#stopped || this.#interval) return;
    this.#ensureWatches();
    this.#interval = setInterval(() => {
      this.recheck();
      this.#ensureWatches();
    }, this.recheckMs);
    this.#interval.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#interval) clearInterval(this.#interval);
    if (this.#settle) clearTimeout(this.#settle);
    this.#interval = this.#settle = null;
    for (const { watcher } of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /**
   * Reads every host's files again and applies the pairs that changed and pass the checks (key matches,
   * valid now, names the host). Emits 'reloaded' or 'refused' per host; returns what happened.
   */
  recheck(): Array<{ event: 'reloaded' | 'refused'; detail: CertificateEvent }> {
    const out: Array<{ event: 'reloaded' | 'refused'; detail: CertificateEvent }> = [];
    for (const h of this.#hosts) {
      const r = this.#recheckHost(h);
      if (r) {
        out.push(r);
        this.emit(r.event, r.detail);
      }
    }
    return out;
  }

  #recheckHost(h: HostState): { event: 'reloaded' | 'refused'; detail: CertificateEvent } | null {
    let picked: Picked | null;
    try {
      picked = pick(h.domain, h.source);
    } catch (err) {
      // a file that exists but cannot be read (permissions): the loaded certificate stays
      this.#reportOnce(h, `read:${(err as Error).message}`, () => this.log.error('TLS certificate cannot be read; the loaded one stays in use', {
        host: h.domain, reason: (err as Error).message, sha256: h.sha256,
      }));
      return null;
    }
    if (!picked) {
      if (h.file !== 'self-signed') {
        this.#reportOnce(h, 'missing', () => this.log.warn('TLS certificate files are gone; the loaded one stays in use', { host: h.domain, cert: h.file, sha256: h.sha256 }));
      }
      return null;
    }
    const digest = digestOf(picked);
    if (digest === h.digest) {
      h.reported = undefined;
      return null;
    }
    if (digest === h.reported) return null;
    let x509: X509Certificate;
    try {
      x509 = checkPair(picked.certPem, picked.keyPem, picked.cert, picked.key).x509;
      const problem = validityProblem(x509, h.domain);
      if (problem) throw new Error(`${picked.cert}: ${problem}`);
    } catch (err) {
      const reason = (err as Error).message;
      h.reported = digest;
      this.log.error('new TLS certificate refused; the loaded one stays in use', {
        host: h.domain, cert: picked.cert, key: picked.key, reason, sha256: h.sha256,
      });
      return { event: 'refused', detail: { host: h.domain, file: picked.cert, sha256: h.sha256, sha1: '', reason } };
    }
    try {
      for (const t of this.#targets) t.replace(h.domain, picked.certPem, picked.keyPem);
    } catch (err) {
      // checkPair built a context from the same PEM, so this is not expected; never leave a half-applied pair unreported
      this.log.error('applying the new TLS certificate failed', { host: h.domain, cert: picked.cert, err: err as Error });
      h.reported = digest;
      return { event: 'refused', detail: { host: h.domain, file: picked.cert, sha256: h.sha256, sha1: '', reason: (err as Error).message } };
    }
    const previous = h.sha256;
    Object.assign(h, state(h.domain, h.source, picked, x509), { reported: undefined });
    this.log.info('TLS certificate reloaded', { host: h.domain, ...describe(x509, picked), previous_sha256: previous });
    return { event: 'reloaded', detail: { host: h.domain, file: picked.cert, sha256: x509.fingerprint256, sha1: x509.fingerprint } };
  }

  #reportOnce(h: HostState, key: string, report: () => void): void {
    if (h.reported === key) return;
    h.reported = key;
    report();
  }

  /** Watches every directory a host's files live in (and where symlinks point); re-done as directories come and go. */
  #ensureWatches(): void {
    if (this.#stopped) return;
    const dirs = new Set<string>();
    for (const h of this.#hosts) {
      if (h.source.kind === 'files') {
        for (const f of [h.source.cert, h.source.key]) dirs.add(dirname(f));
      } else {
        for (const d of candidateDirs(h.source.dir, h.domain)) dirs.add(d);
      }
      if (h.file !== 'self-signed') {
        // certbot: live/<host>/fullchain.pem -> ../../archive/<host>/fullchainN.pem
        try {
          dirs.add(dirname(realpathSync(h.file)));
        } catch { /* gone: the re-check reports it */ }
      }
    }
    for (const [dir, w] of this.#watchers) {
      if (!dirs.has(dir) || inode(dir) !== w.ino) {
        w.watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      const ino = inode(dir);
      if (ino === null) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#schedule());
        watcher.on('error', () => {
          watcher.close();
          if (this.#watchers.get(dir)?.watcher === watcher) this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, { watcher, ino });
      } catch (err) {
        this.log.debug('cannot watch a certificate directory; the periodic re-check covers it', { dir, err: (err as Error).message });
      }
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#settle) clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      this.#settle = null;
      this.recheck();
      this.#ensureWatches();
    }, SETTLE_MS);
    this.#settle.unref();
  }
}

interface Picked { certPem: string; keyPem: string; cert: string; key: string; layout: string }

function sourceOf(config: ServerConfig, domain: string): Source {
  const own = config.host_config[domain]?.tls;
  const s = own ?? config.tls;
  const where = own ? `host_config.${domain}.tls` : 'tls';
  if (!s) return { kind: 'dir', dir: join(config.data_dir, 'certs'), where: 'data_dir', selfSigned: true };
  if ('cert' in s) return { kind: 'files', cert: s.cert, key: s.key, where };
  return { kind: 'dir', dir: s.certificates, where, selfSigned: false };
}

/** The pair a host would use now, read from disk (null: none there). A parent's pair only if it names the host. */
export function pick(domain: string, source: Source): Picked | null {
  if (source.kind === 'files') return { ...loadFromFiles(source.cert, source.key), cert: source.cert, key: source.key, layout: 'files' };
  for (const c of findCertFiles(source.dir, domain)) {
    const pair = loadFromFilesUnchecked(c.cert, c.key);
    if (c.name !== domain) {
      let covers = false;
      try {
        covers = coversHost(checkPair(pair.certPem, pair.keyPem, c.cert, c.key).x509, domain);
      } catch { /* a broken parent pair is not this host's */ }
      if (!covers) continue;
    }
    return { ...pair, cert: c.cert, key: c.key, layout: c.layout };
  }
  return null;
}

/** Both files as text; a renewal half-done (one of them unreadable) throws and is retried at the next event. */
function loadFromFilesUnchecked(cert: string, key: string): { certPem: string; keyPem: string } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`TLS ${what} file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  return { certPem: read(cert, 'certificate'), keyPem: read(key, 'private key') };
}

function state(domain: string, source: Source, p: Picked, x509: X509Certificate): HostState {
  return { domain, source, certPem: p.certPem, keyPem: p.keyPem, digest: digestOf(p), file: p.cert, sha256: x509.fingerprint256 };
}

function digestOf(p: { certPem: string; keyPem: string }): string {
  return createHash('sha256').update(p.certPem).update('\0').update(p.keyPem).digest('hex');
}

/** The log fields of a certificate: SHA-256 and SHA-1 fingerprints (colon hex, as clients show them), names, expiry. */
export function describe(x509: X509Certificate, p: { cert: string; layout: string }): Record<string, unknown> {
  const daysLeft = Math.floor((Date.parse(x509.validTo) - Date.now()) / 86_400_000);
  let resolved: string | undefined;
  try {
    resolved = realpathSync(p.cert); // certbot: which archive/<host>/fullchainN.pem the link points at
  } catch { /* self-signed, or gone since */ }
  return {
    cert: p.cert, ...(resolved && resolved !== p.cert ? { cert_file: resolved } : {}),
    layout: p.layout, sha256: x509.fingerprint256, sha1: x509.fingerprint,
    names: x509.subjectAltName ?? x509.subject, not_after: new Date(x509.validTo).toISOString(), days_left: daysLeft,
  };
}

/** Why clients would refuse this certificate for the host (RFC 6125 name, validity period), or null. */
export function validityProblem(x509: X509Certificate, host: string, now = Date.now()): string | null {
  if (Date.parse(x509.validFrom) > now) return `not valid before ${new Date(x509.validFrom).toISOString()}`;
  if (Date.parse(x509.validTo) <= now) return `expired on ${new Date(x509.validTo).toISOString()}`;
  if (!coversHost(x509, host)) return `does not name ${host} (${x509.subjectAltName ?? x509.subject})`;
  return null;
}

export function coversHost(x509: X509Certificate, host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return x509.checkIP(bare) !== undefined;
  const ascii = /^[\x00-\x7f]*$/.test(host) ? host : domainToASCII(host) || host;
  return x509.checkHost(ascii) !== undefined;
}

function inode(dir: string): number | null {
  try {
    const st = statSync(dir);
    return st.isDirectory() ? st.ino : null;
  } catch {
    return null;
  }
}
