// Builds the TLS contexts for every host: configured cert/key files, or a self-signed certificate made
// on first start under the data dir (RFC 6120 §13.7.1; the SHA-256 fingerprint is logged for pinning).
import { join } from 'node:path';
import type { ServerConfig } from '../../core/config/types.js';
import type { Logger } from '../../core/log.js';
import { ConfigError } from '../../core/config/load-config.js';
import { ensureSelfSignedCertificate } from './self-signed.js';
import { TlsContexts, loadFromFiles } from './tls-contexts.js';

export async function loadTlsContexts(config: ServerConfig, log: Logger): Promise<TlsContexts> {
  const hosts: Array<{ domain: string; certPem: string; keyPem: string }> = [];
  const unconfigured: string[] = [];
  for (const domain of config.hosts) {
    const files = config.host_config[domain]?.tls ?? config.tls;
    if (!files) {
      unconfigured.push(domain);
      continue;
    }
    const where = config.host_config[domain]?.tls ? `host_config.${domain}.tls` : 'tls';
    try {
      const { certPem, keyPem } = loadFromFiles(files.cert, files.key);
      hosts.push({ domain, certPem, keyPem });
    } catch (err) {
      throw new ConfigError(config.path, where, (err as Error).message);
    }
  }
  if (unconfigured.length) {
    const cert = await ensureSelfSignedCertificate(join(config.data_dir, 'certs'), unconfigured);
    log[cert.created ? 'warn' : 'info']('using a self-signed certificate (clients must accept or pin it)', {
      hosts: unconfigured, sha256: cert.fingerprint256, created: cert.created,
    });
    for (const domain of unconfigured) hosts.push({ domain, certPem: cert.certPem, keyPem: cert.keyPem });
  }
  return new TlsContexts({ hosts, defaultDomain: config.hosts[0]! });
}
