// ACL groups and ordered access rules (DESIGN.md "Access control"), ejabberd style: first match wins.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { AccessRule, AclSpec } from './config/types.js';
import type { Jid } from './jid.js';

export interface AclSubject {
  jid?: Jid;
  ip?: string;
  /** The virtual host the decision is for: its host_config ACLs and rules take precedence. */
  host?: string;
}

interface CompiledAcl {
  users: Set<string>;
  servers: Set<string>;
  regexps: RegExp[];
  resources: Set<string>;
  ips: BlockList | null;
}

export interface HostAcl { acl?: Record<string, AclSpec>; access_rules?: Record<string, AccessRule> }

export class Acl {
  private readonly acls = new Map<string, CompiledAcl>();
  private readonly hostAcls = new Map<string, Map<string, CompiledAcl>>();
  private readonly hostRules = new Map<string, Record<string, AccessRule>>();

  constructor(acl: Record<string, AclSpec>, private readonly rules: Record<string, AccessRule>, perHost: Record<string, HostAcl> = {}) {
    for (const [name, spec] of Object.entries(acl)) this.acls.set(name, compile(spec));
    for (const [host, h] of Object.entries(perHost)) {
      if (h.acl) this.hostAcls.set(host, new Map(Object.entries(h.acl).map(([n, spec]) => [n, compile(spec)])));
      if (h.access_rules) this.hostRules.set(host, h.access_rules);
    }
  }

  /** Does the subject belong to the named ACL? 'all' and 'none' are built in. */
  match(name: string, s: AclSubject): boolean {
    if (name === 'all') return true;
    if (name === 'none') return false;
    const a = (s.host !== undefined ? this.hostAcls.get(s.host)?.get(name) : undefined) ?? this.acls.get(name);
    if (!a) return false;
    if (s.jid) {
      const bare = s.jid.bareString();
      if (a.users.has(bare) || a.servers.has(s.jid.domain)) return true;
      if (s.jid.resource && a.resources.has(s.jid.resource)) return true;
      if (a.regexps.some((r) => r.test(bare))) return true;
    }
    if (s.ip && a.ips) {
      const ip = s.ip.startsWith('::ffff:') && isIPv4(s.ip.slice(7)) ? s.ip.slice(7) : s.ip;
      if (isIPv4(ip) ? a.ips.check(ip, 'ipv4') : isIPv6(ip) && a.ips.check(ip, 'ipv6')) return true;
    }
    return false;
  }

  /** Evaluate an access rule: the action of the first matching entry, else `fallback`. */
  access(rule: string, s: AclSubject, fallback = 'deny'): string {
    const entries = (s.host !== undefined ? this.hostRules.get(s.host)?.[rule] : undefined) ?? this.rules[rule];
    if (!entries) return fallback;
    for (const e of entries) if (this.match(e.acl, s)) return e.action;
    return fallback;
  }

  allowed(rule: string, s: AclSubject, fallback = 'deny'): boolean {
    return this.access(rule, s, fallback) === 'allow';
  }
}

function compile(spec: AclSpec): CompiledAcl {
  const out: CompiledAcl = { users: new Set(), servers: new Set(), regexps: [], resources: new Set(), ips: null };
  for (const v of spec.user ?? []) out.users.add(v.toLowerCase());
  for (const v of spec.server ?? []) out.servers.add(v.toLowerCase());
  for (const v of spec.resource ?? []) out.resources.add(v);
  for (const v of spec.user_regexp ?? []) out.regexps.push(new RegExp(v));
  for (const v of spec.ip ?? []) {
    out.ips ??= new BlockList();
    const [addr, bits] = v.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (bits !== undefined) out.ips.addSubnet(addr!, Number(bits), type);
    else out.ips.addAddress(addr!, type);
  }
  return out;
}
