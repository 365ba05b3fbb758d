// Config reload, step 1: what differs between the running configuration and the file, which changes
// can be applied to a running server (hot) and which only take effect after a restart.
import { isDeepStrictEqual } from 'node:util';
import type { ServerConfig } from '../types.js';
import { moduleHosts, type HostModule } from '../host-modules.js';

/**
 * Top-level keys whose readers look them up at use time (core.config / core.acl are read per use), so
 * swapping the object applies them. Timeouts, sizes and limits apply from the next connection or check.
 */
const HOT = new Set([
  'acl', 'access_rules', 'modules', 'module_paths', 'max_stanza_size', 'max_xml_depth', 'max_xml_attributes',
  'max_xml_name_length', 'c2s_idle_timeout', 'c2s_negotiation_timeout',
  'sasl_max_failures', 'max_send_queue', 'limits', 'log_level', 'api_tokens', 'admin_files_dir', 'import_limits',
  'memory_trim_interval', 'channel_binding', 'sasl2',
]);
/** Federation options the s2s manager and its streams read per use; the rest is fixed when it is built. */
const HOT_S2S = new Set(['policy', 'domain_policy', 'require_encryption', 'idle_timeout', 'connect_timeout', 'max_queue']);

/** Why a key needs a restart, for the report (any key not listed: "read only at start"). */
const WHY: Record<string, string> = {
  hosts: 'routing, TLS certificates, auth providers and module instances are set up per host at start',
  data_dir: 'the database is opened at start',
  durability: 'the database is opened at start',
  control_socket: 'the control socket is bound at start',
  listen: 'listening sockets are bound at start',
  tls: 'TLS contexts are built at start',
  host_config: 'per-host TLS contexts and auth providers are built at start',
  scram_iterations: 'the account store is set up at start',
  auth: 'auth providers (and extauth programs) are started at start',
  's2s.enabled': 'the federation manager and its listeners are set up at start',
  's2s.cafile': 'the trust anchors are loaded at start',
  's2s.system_ca': 'the trust anchors are loaded at start',
  's2s.dialback_secret': 'the dialback key is derived at start',
  's2s.overrides': 'the s2s resolver is built at start',
  's2s.dns_servers': 'the s2s resolver is built at start',
};

export interface RestartNeeded { key: string; reason: string }

/** A module whose options changed, or that appeared or went away, on some hosts (host -> null: removed there). */
export interface ModuleChange { name: string; hosts: Map<string, HostModule | null> }

export interface ConfigDiff {
  /** Keys applied to the running server ('s2s.<key>' for federation options; 'modules.<name>' per module). */
  hot: string[];
  restart: RestartNeeded[];
  modules: ModuleChange[];
}

const keysOf = (a: object, b: object): string[] => [...new Set([...Object.keys(a), ...Object.keys(b)])];

export function diffConfig(old: ServerConfig, next: ServerConfig): ConfigDiff {
  const diff: ConfigDiff = { hot: [], restart: [], modules: [] };
  const restart = (key: string) => diff.restart.push({ key, reason: WHY[key] ?? 'read only at start' });
  const o = old as unknown as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  for (const key of keysOf(o, n)) {
    if (key === 'path' || isDeepStrictEqual(o[key], n[key])) continue;
    if (key === 'modules') {
      continue; // below, with host_config.<host>.modules
    } else if (key === 'host_config') {
      if (!isDeepStrictEqual(withoutModules(old.host_config), withoutModules(next.host_config))) restart(key);
    } else if (key === 's2s') {
      const os = old.s2s as unknown as Record<string, unknown>;
      const ns = next.s2s as unknown as Record<string, unknown>;
      for (const sub of keysOf(os, ns)) {
        if (isDeepStrictEqual(os[sub], ns[sub])) continue;
        if (HOT_S2S.has(sub)) diff.hot.push(`s2s.${sub}`);
        else restart(`s2s.${sub}`);
      }
    } else if (HOT.has(key)) {
      diff.hot.push(key);
    } else {
      restart(key);
    }
  }
  diffModules(old, next, diff);
  return diff;
}

/** Per module and host (the running hosts: changing them needs a restart), what starts, changes or stops. */
function diffModules(old: ServerConfig, next: ServerConfig, diff: ConfigDiff): void {
  const before = moduleHosts(old);
  const after = moduleHosts({ ...next, hosts: old.hosts });
  const hot = new Set<string>();
  for (const name of keysOf(Object.fromEntries(after), Object.fromEntries(before))) { // file order: the start order among independent modules
    const hosts = new Map<string, HostModule | null>();
    for (const host of old.hosts) {
      const o = before.get(name)?.get(host);
      const n = after.get(name)?.get(host);
      if (isDeepStrictEqual(o?.options, n?.options)) continue;
      hosts.set(host, n ?? null);
      hot.add(n?.path ?? (next.host_config[host]?.modules?.[name] === false ? `host_config.${host}.modules.${name}` : o!.path));
    }
    if (hosts.size) diff.modules.push({ name, hosts });
  }
  diff.hot.push(...hot);
}

/** host_config without its modules and without keys left unset, to compare what needs a restart. */
function withoutModules(hc: ServerConfig['host_config']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [h, c] of Object.entries(hc)) {
    const rest = Object.fromEntries(Object.entries(c).filter(([k, v]) => k !== 'modules' && v !== undefined));
    if (Object.keys(rest).length) out[h] = rest;
  }
  return out;
}

/** The configuration to run with: the new file, except that keys needing a restart keep their running values. */
export function mergeConfig(old: ServerConfig, next: ServerConfig, diff: ConfigDiff): ServerConfig {
  const merged = { ...next, path: old.path, s2s: { ...next.s2s } } as unknown as Record<string, unknown>;
  const keep = (into: Record<string, unknown>, from: Record<string, unknown>, key: string) => {
    if (key in from) into[key] = from[key];
    else delete into[key];
  };
  for (const { key } of diff.restart) {
    if (key.startsWith('s2s.')) keep(merged.s2s as Record<string, unknown>, old.s2s as unknown as Record<string, unknown>, key.slice(4));
    else keep(merged, old as unknown as Record<string, unknown>, key);
  }
  if (diff.restart.some((r) => r.key === 'host_config')) { // host_config.<host>.modules applies; the rest waits
    const hc: ServerConfig['host_config'] = {};
    for (const h of keysOf(old.host_config, next.host_config)) {
      const modules = next.host_config[h]?.modules;
      hc[h] = { ...old.host_config[h], ...(modules ? { modules } : {}) };
      if (!modules) delete hc[h]!.modules;
    }
    merged.host_config = hc;
  }
  return merged as unknown as ServerConfig;
}
