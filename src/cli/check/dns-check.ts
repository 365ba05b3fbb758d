// DNS of each host, as `prosodyctl check dns` looks at it: the SRV records clients (RFC 6120 §3.2.1,
// XEP-0368 _xmpps-client) and servers (_xmpp-server, _xmpps-server) use, their targets' addresses, and
// that their ports are ones this config listens on. Findings are warnings only: DNS may legitimately be
// managed elsewhere, and a check must never fail because DNS is unreachable.
import { isIP } from 'node:net';
import type { ServerConfig, ListenerType } from '../../core/config/types.js';
import type { ConfigProblem } from '../../core/config/config-problem.js';
import { dnsClient, type DnsClient } from '../../interface/s2s/s2s-resolver.js';

type Finding = Omit<ConfigProblem, 'file' | 'at'>;

/** Names never in the public DNS (RFC 6761, RFC 2606, RFC 6762 .local): nothing to look up. */
export function isPrivateName(host: string): boolean {
  if (isIP(host.replace(/^\[|\]$/g, ''))) return true;
  if (!host.includes('.')) return true;
  // example.com/.net/.org (RFC 2606 §3) are real zones, but never an operator's: no test ever asks about them
  return /\.(localhost|test|invalid|example|local|internal|home\.arpa)$/i.test(host) || /^(localhost|(.+\.)?example\.(com|net|org))$/i.test(host);
}

const SERVICES: Array<{ srv: string; type: ListenerType; fallback?: number; who: string }> = [
  { srv: '_xmpp-client._tcp', type: 'c2s', fallback: 5222, who: 'clients' },
  { srv: '_xmpps-client._tcp', type: 'c2s_tls', who: 'clients (direct TLS)' },
  { srv: '_xmpp-server._tcp', type: 's2s', fallback: 5269, who: 'servers' },
  { srv: '_xmpps-server._tcp', type: 's2s_tls', who: 'servers (direct TLS)' },
];

/** Codes meaning "no such record" (the answer came); anything else means DNS did not answer. */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

/**
 * `dns` defaults to s2s.dns_servers (the system resolver when empty) — the resolver the server itself uses
 * for federation. Tests pass their own (a loopback responder) and never reach the system resolver.
 */
export async function checkDns(config: ServerConfig, dns: DnsClient = dnsClient(config.s2s.dns_servers)): Promise<Finding[]> {
  const out: Finding[] = [];
  const warn = (yamlPath: string, problem: string) => out.push({ severity: 'warning', yamlPath, problem });
  const ok = (yamlPath: string, problem: string) => out.push({ severity: 'ok', yamlPath, problem });
  const listening = (type: ListenerType) => config.listen.filter((l) => l.type === type).map((l) => l.port);
  const skipped = config.hosts.filter(isPrivateName);
  if (skipped.length) ok('hosts', `DNS not checked for ${skipped.join(', ')} (not names of the public DNS)`);
  for (const [i, host] of config.hosts.entries()) {
    if (isPrivateName(host)) continue;
    const at = `hosts[${i}]`;
    for (const s of SERVICES) {
      const ports = listening(s.type);
      const federation = s.type === 's2s' || s.type === 's2s_tls';
      if (federation && !config.s2s.enabled) continue;
      const name = `${s.srv}.${host}`;
      let records: Array<{ name: string; port: number }>;
      try {
        records = await dns.resolveSrv(name);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!NO_RECORD.has(code)) {
          warn(at, `DNS did not answer for ${name} (${code || (err as Error).message}): DNS checks skipped`);
          return out;
        }
        records = [];
      }
      if (!records.length) {
        if (!ports.length) continue;
        if (s.fallback === undefined) {
          warn(at, `no ${name} SRV record: ${s.who} only find the ${s.type} listener on port ${ports.join(', ')} if told so`);
          continue;
        }
        const addrs = await dns.addresses(host).catch(() => [] as string[]);
        if (!addrs.length) warn(at, `no ${name} SRV record and no A/AAAA record for ${host}: ${s.who} cannot find this server`);
        else if (!ports.includes(s.fallback)) warn(at, `no ${name} SRV record: ${s.who} try ${host}:${s.fallback}, but ${s.type} listens on ${ports.join(', ')}`);
        else ok(at, `no ${name} SRV record; ${s.who} fall back to ${host}:${s.fallback} (${addrs.join(', ')})`);
        continue;
      }
      if (records.every((r) => r.name === '' || r.name === '.')) {
        if (ports.length) warn(at, `${name} says the service is not offered (target "."), but a ${s.type} listener is configured`);
        continue;
      }
      if (!ports.length) {
        warn(at, `${name} points ${s.who} to ${records.map((r) => `${r.name}:${r.port}`).join(', ')}, but no ${s.type} listener is configured`);
        continue;
      }
      for (const r of records) {
        const addrs = await dns.addresses(r.name).catch(() => [] as string[]);
        if (!addrs.length) warn(at, `${name} names ${r.name}, which has no A/AAAA record`);
        else if (!ports.includes(r.port)) warn(at, `${name} gives port ${r.port} (${r.name}), but ${s.type} listens on ${ports.join(', ')}`);
        else ok(at, `${name} -> ${r.name}:${r.port} (${addrs.join(', ')})`);
      }
    }
  }
  return out;
}
