// `xmppd cert import DIR` (as prosodyctl's): copies each configured host's certificate chain and key from
// an ACME client's directory (certbot, lego, acmetool layouts; src/interface/tls/cert-layouts.ts) into the
// server's certificate directory as <host>.crt / <host>.key (key 0600), where a running server picks
// them up without a restart (host-certificates.ts watches it).
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ServerConfig } from '../../core/config/types.js';
import { OperatorError } from '../../core/errors.js';
import { findCertFiles } from './cert-layouts.js';
import { pick, validityProblem } from './host-certificates.js';
import { checkPair } from './tls-contexts.js';

export interface CertImportReport {
  imported: Array<{ host: string; from: string; layout: string; cert: string; key: string; sha256: string; sha1: string; not_after: string }>;
  /** Nothing for the host in the source directory. */
  not_found: Array<{ host: string }>;
  /** Found but not copied: why. */
  skipped: Array<{ host: string; reason: string }>;
}

/** Where the server reads a host's certificate directory from (null: the host uses fixed cert/key files). */
export function certificateDirOf(config: ServerConfig, host: string): string | null {
  const s = config.host_config[host]?.tls ?? config.tls;
  if (!s) return join(config.data_dir, 'certs');
  return 'certificates' in s ? s.certificates : null;
}

export function importCertificates(config: ServerConfig, sourceDir: string): CertImportReport {
  const from = resolve(sourceDir);
  const st = statOrNull(from);
  if (!st?.isDirectory()) throw new OperatorError('XMPPD_ERR_USAGE', `${from} is not a directory (give the directory certbot, lego or acmetool writes, e.g. /etc/letsencrypt)`);
  const report: CertImportReport = { imported: [], not_found: [], skipped: [] };
  for (const host of config.hosts) {
    let found;
    try {
      found = pick(host, { kind: 'dir', dir: from, where: '', selfSigned: false });
    } catch (err) {
      // typically /etc/letsencrypt/archive, readable by root only
      report.skipped.push({ host, reason: (err as Error).message });
      continue;
    }
    if (!found) {
      report.not_found.push({ host });
      continue;
    }
    const target = certificateDirOf(config, host);
    if (!target) {
      report.skipped.push({ host, reason: 'its tls setting names cert and key files; point them at the new files, or use tls: {certificates: DIR}' });
      continue;
    }
    if (resolve(target) === from) {
      report.skipped.push({ host, reason: `${from} is already the server's certificate directory for this host` });
      continue;
    }
    // An ACME client's own directory (tls.certificates: /etc/letsencrypt) is read in place: files copied
    // next to it would never be chosen, and would go stale at the next renewal.
    const managed = findCertFiles(target, host).find((c) => c.layout !== 'prosody');
    if (managed) {
      report.skipped.push({ host, reason: `the server reads ${managed.cert} (${managed.layout}) directly and follows its renewals` });
      continue;
    }
    let x509;
    try {
      x509 = checkPair(found.certPem, found.keyPem, found.cert, found.key).x509;
    } catch (err) {
      report.skipped.push({ host, reason: (err as Error).message });
      continue;
    }
    // what the running server would refuse anyway: expired, or for another name
    const problem = validityProblem(x509, host);
    if (problem) {
      report.skipped.push({ host, reason: `${found.cert} ${problem}` });
      continue;
    }
    const cert = join(target, `${host}.crt`);
    const key = join(target, `${host}.key`);
    mkdirSync(target, { recursive: true, mode: 0o700 });
    // The key first: the server re-reads on each change, refuses the mismatched pair in between, and
    // takes the new one once the certificate follows.
    writeAtomically(key, found.keyPem, 0o600, target);
    writeAtomically(cert, found.certPem, 0o644, target);
    report.imported.push({
      host, from: found.cert, layout: found.layout, cert, key, sha256: x509.fingerprint256, sha1: x509.fingerprint,
      not_after: new Date(x509.validTo).toISOString(),
    });
  }
  return report;
}

/** Lines for a person: what was imported (with fingerprints), what was not found, what was skipped and why. */
export function formatImportReport(r: CertImportReport, from: string): string {
  const lines: string[] = [];
  for (const i of r.imported) {
    lines.push(`imported ${i.host}: ${i.from} (${i.layout}) -> ${i.cert}, ${i.key}`);
    lines.push(`  SHA-256 ${i.sha256}`);
    lines.push(`  SHA-1   ${i.sha1}`);
    lines.push(`  valid until ${i.not_after}`);
  }
  for (const n of r.not_found) lines.push(`not found ${n.host}: no certificate for it in ${from} (certbot live/${n.host}/, lego certificates/${n.host}.crt, acmetool live/${n.host}/)`);
  for (const s of r.skipped) lines.push(`skipped ${s.host}: ${s.reason}`);
  if (r.imported.length) lines.push('a running server uses the imported certificates for new connections (no restart needed)');
  return lines.join('\n');
}

function writeAtomically(path: string, data: string, mode: number, dir: string): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, data, { mode, flag: 'wx' });
  chmodSync(tmp, mode); // the umask filters writeFileSync's mode
  // Run as root for a server that runs as its own user: the files belong to the directory's owner.
  if (process.getuid?.() === 0) {
    const st = statSync(dir);
    chownSync(tmp, st.uid, st.gid);
  }
  renameSync(tmp, path);
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
