// Builds the TLS contexts for every host from HostCertificates (configured files, a certificate directory,
// or a self-signed certificate made on first start under the data dir; RFC 6120 §13.7.1).
import type { ServerConfig } from '../../core/config/types.js';
import type { Logger } from '../../core/log.js';
import { HostCertificates } from './host-certificates.js';
import { TlsContexts } from './tls-contexts.js';

/** The contexts and the certificates behind them (start() them to follow renewals on disk). */
export async function loadTls(config: ServerConfig, log: Logger): Promise<{ tls: TlsContexts; certificates: HostCertificates }> {
  const certificates = await HostCertificates.load(config, log);
  const tls = new TlsContexts({ hosts: certificates.current(), defaultDomain: config.hosts[0]! });
  certificates.follow(tls);
  return { tls, certificates };
}

export async function loadTlsContexts(config: ServerConfig, log: Logger): Promise<TlsContexts> {
  return (await loadTls(config, log)).tls;
}
