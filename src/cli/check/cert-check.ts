// Certificates of a config, as `prosodyctl check certs` checks them: each host's certificate and key are
// readable, the key belongs to the certificate, the certificate names the host (RFC 6125 / RFC 6120
// §13.7.1.4 xmppAddr), is valid now, and how many days it has left.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerConfig } from '../../core/config/types.js';
import type { ConfigProblem } from '../../core/config/config-problem.js';
import { identifiersMatch, presentedIdentifiers } from '../../interface/s2s/cert-identity.js';
import { CERT_FILE } from '../../interface/tls/self-signed.js';
import { findCertFiles } from '../../interface/tls/cert-layouts.js';
import { moduleHosts } from '../../core/config/host-modules.js';
import { resolveOptions } from '../../core/module-runtime/options.js';
import type { ModuleDefinition } from '../../core/module-runtime/module-definition.js';

/** Fewer days left than this is a warning (certbot renews at 30, so a working renewal never shows it). */
export const EXPIRY_WARNING_DAYS = 14;
const DAY = 86_400_000;

type Finding = Omit<ConfigProblem, 'file' | 'at'>;

/** A module's service domain on a host (muc's conference.<host>, pubsub's, upload's): its `host` option. */
export interface ServiceDomain { host: string; domain: string; yamlPath: string }

/** The service domains the modules of each host serve, from their `host` option (@HOST@ replaced). */
export function serviceDomains(config: ServerConfig, bundled: Record<string, ModuleDefinition<any, any>>): ServiceDomain[] {
  const out: ServiceDomain[] = [];
  for (const [name, hosts] of moduleHosts(config)) {
    const def = bundled[name];
    if (!def?.options || !Object.hasOwn(def.options, 'host')) continue;
    for (const [host, hm] of hosts) {
      const value = resolveOptions(def.options, hm.options, hm.path).host;
      const domain = typeof value === 'string' ? value.replace(/@HOST@/g, host) : '';
      if (domain && domain !== host) out.push({ host, domain, yamlPath: `${hm.path}.host` });
    }
  }
  return out;
}

/**
 * Findings with YAML paths (tls.cert, host_config.<host>.tls.key...); `now` is injectable for tests. With
 * federation on, service domains the certificate does not name are warnings: other servers reaching
 * conference.<host> check the certificate against that name.
 */
export function checkCertificates(config: ServerConfig, now = Date.now(), services: ServiceDomain[] = []): Finding[] {
  const out: Finding[] = [];
  // Hosts sharing a cert/key pair are checked once, the names against each of them.
  const groups = new Map<string, { where: string; cert: string; key: string; hosts: string[] }>();
  const selfSigned: string[] = [];
  for (const host of config.hosts) {
    const own = config.host_config[host]?.tls;
    const settings = own ?? config.tls;
    const where = own ? `host_config.${host}.tls` : 'tls';
    let files: { cert: string; key: string } | undefined;
    if (settings && 'cert' in settings) {
      files = settings;
    } else {
      // A certificate directory (tls.certificates, or data_dir/certs without a tls setting): the pair the
      // server would pick for the host (the first layout found; a parent's only if it names the host).
      const dir = settings ? settings.certificates : join(config.data_dir, 'certs');
      const found = findCertFiles(dir, host);
      files = found.find((c) => c.name === host) ?? found[0];
      if (!files) {
        if (settings) out.push({ severity: 'error', yamlPath: `${where}.certificates`, problem: `no certificate for ${host} in ${dir} (looked for certbot live/${host}/fullchain.pem, acmetool live/${host}/fullchain, lego certificates/${host}.crt, Prosody ${host}.crt)` });
        else selfSigned.push(host);
        continue;
      }
    }
    const id = `${files.cert}\n${files.key}`;
    const g = groups.get(id) ?? { where: settings && !('cert' in settings) ? `${where}.certificates` : where, cert: files.cert, key: files.key, hosts: [] };
    g.hosts.push(host);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    const findings = checkPair(g.where, g.cert, g.key, g.hosts, now);
    out.push(...findings);
    if (!config.s2s.enabled || findings.some((f) => f.severity === 'error')) continue;
    const ids = presentedIdentifiers(new X509Certificate(readFileSync(g.cert)).raw);
    for (const svc of services.filter((x) => g.hosts.includes(x.host))) {
      if (!identifiersMatch(ids, svc.domain)) {
        out.push({ severity: 'warning', yamlPath: svc.yamlPath, problem: `${svc.domain} is not named by ${g.cert}: servers federating with it will refuse the certificate (add the name, or a *.${svc.host} wildcard)` });
      }
    }
  }
  if (selfSigned.length) {
    const dir = join(config.data_dir, 'certs');
    const cert = join(dir, CERT_FILE);
    if (!existsSync(cert)) {
      out.push({ severity: 'warning', yamlPath: 'tls', problem: `no certificate configured for ${selfSigned.join(', ')}: a self-signed one will be made in ${dir} at start (clients will ask the user to trust it)` });
    } else {
      out.push({ severity: 'warning', yamlPath: 'tls', problem: `no certificate configured for ${selfSigned.join(', ')}: the self-signed ${cert} is used (clients will ask the user to trust it; it is remade when it no longer fits)` });
    }
  }
  return out;
}

function checkPair(where: string, certFile: string, keyFile: string, hosts: string[], now: number): Finding[] {
  const out: Finding[] = [];
  const err = (yamlPath: string, problem: string) => out.push({ severity: 'error', yamlPath, problem });
  let x509: X509Certificate | undefined;
  let key: KeyObject | undefined;
  try {
    x509 = new X509Certificate(readFileSync(certFile));
  } catch (e) {
    err(`${where}.cert`, readProblem(certFile, e, 'a PEM certificate'));
  }
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (e) {
    err(`${where}.key`, readProblem(keyFile, e, 'a PEM private key'));
  }
  if (!x509) return out;
  if (key && !x509.checkPrivateKey(key)) err(`${where}.key`, `${keyFile} is not the key of ${certFile} (the certificate's public key belongs to another private key)`);
  const ids = presentedIdentifiers(x509.raw);
  const names = [...new Set([...ids.xmppAddr, ...ids.dns, ...ids.srv, ...(ids.dns.length || ids.xmppAddr.length || ids.srv.length ? [] : ids.cn)])];
  for (const host of hosts) {
    if (!identifiersMatch(ids, host)) err(`${where}.cert`, `${certFile} does not cover ${host} (it names ${names.join(', ') || 'nothing'}); clients and servers will refuse it`);
  }
  const from = Date.parse(x509.validFrom);
  const to = Date.parse(x509.validTo);
  const days = Math.floor((to - now) / DAY);
  if (to <= now) err(`${where}.cert`, `${certFile} expired on ${iso(to)} (${Math.floor((now - to) / DAY)} days ago)`);
  else if (from > now) err(`${where}.cert`, `${certFile} is not valid before ${iso(from)}`);
  else if (days < EXPIRY_WARNING_DAYS) out.push({ severity: 'warning', yamlPath: `${where}.cert`, problem: `${certFile} expires on ${iso(to)}: ${days} days left (renew it)` });
  if (!out.some((f) => f.severity === 'error')) {
    out.push({ severity: 'ok', yamlPath: `${where}.cert`, problem: `${certFile} covers ${hosts.join(', ')}, valid until ${iso(to)} (${days} days left), issued by ${oneLine(x509.issuer)}` });
  }
  return out;
}

function readProblem(file: string, e: unknown, what: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return `cannot read ${file} (${code})`;
  return `${file} is not ${what} (${(e as Error).message})`;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const oneLine = (dn: string) => dn.split('\n').join(', ');
