// Where to connect for a peer domain (RFC 6120 §3.2, XEP-0368): s2s.overrides first; else SRV records for
// _xmpps-server._tcp (direct TLS) and _xmpp-server._tcp (STARTTLS) ordered per RFC 2782; else the domain's
// own A/AAAA on 5269. DNS goes through s2s.dns_servers when set, the system resolver otherwise.
import { Resolver, lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import type { S2sTargetOverride } from '../../core/config/types.js';
import { orderSrv } from './srv-order.js';

export interface S2sTarget { host: string; port: number; tls: 'direct' | 'starttls' }
export interface SrvRecordLike { name: string; port: number; priority: number; weight: number }

/** The DNS operations resolution needs (injected by unit tests). */
export interface DnsClient {
  resolveSrv(name: string): Promise<SrvRecordLike[]>;
  /** IPv6 and IPv4 addresses of a host name. */
  addresses(host: string): Promise<string[]>;
}

/** The domain has no XMPP server service (remote-server-not-found). */
export class ResolveError extends Error {}

const DEFAULT_PORT = 5269;

export function dnsClient(servers: string[]): DnsClient {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return {
    resolveSrv: (name) => resolver.resolveSrv(name),
    async addresses(host) {
      if (!servers.length) {
        // getaddrinfo honours /etc/hosts, which operators of private federations rely on
        return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
      }
      const [v6, v4] = await Promise.all([
        resolver.resolve6(host).catch(() => [] as string[]),
        resolver.resolve4(host).catch(() => [] as string[]),
      ]);
      return [...v6, ...v4];
    },
  };
}

export class S2sResolver {
  constructor(
    private readonly overrides: Record<string, S2sTargetOverride>,
    readonly dns: DnsClient,
    private readonly random: () => number = Math.random,
  ) {}

  /** Ordered targets to try; throws ResolveError when the domain explicitly offers no service. */
  async targets(domain: string): Promise<S2sTarget[]> {
    const o = this.overrides[domain];
    if (o) return [{ host: o.host, port: o.port, tls: o.tls }];
    const name = domainToASCII(domain) || domain;
    const [tls, plain] = await Promise.all([
      this.srv(`_xmpps-server._tcp.${name}`),
      this.srv(`_xmpp-server._tcp.${name}`),
    ]);
    // RFC 2782: a single record with target "." means the service is decidedly not available.
    const decline = (rs: SrvRecordLike[]) => rs.length === 1 && (rs[0]!.name === '.' || rs[0]!.name === '');
    const usable = [
      ...(decline(tls) ? [] : tls.map((r) => ({ ...r, tls: 'direct' as const }))),
      ...(decline(plain) ? [] : plain.map((r) => ({ ...r, tls: 'starttls' as const }))),
    ];
    if (usable.length === 0) {
      if (decline(plain)) throw new ResolveError(`${domain} declares it offers no XMPP server service (SRV target ".")`);
      return [{ host: name, port: DEFAULT_PORT, tls: 'starttls' }]; // RFC 6120 §3.2.2 fallback
    }
    return orderSrv(usable, this.random).map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port, tls: r.tls }));
  }

  /** Addresses for one target host (an IP literal is its own address). */
  async addresses(host: string): Promise<string[]> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare)) return [bare];
    try {
      return await this.dns.addresses(bare);
    } catch {
      return [];
    }
  }

  private async srv(name: string): Promise<SrvRecordLike[]> {
    try {
      return await this.dns.resolveSrv(name);
    } catch {
      // NXDOMAIN/NODATA, and also SERVFAIL or a timeout: RFC 6120 §3.2.1 falls back to A/AAAA alike
      return [];
    }
  }
}
