// Reads and validates the YAML configuration; every error names the YAML path and what to fix (buildConfig
// stops at the first, readConfigFile reports them all with their lines: collect-config.ts, yaml-source.ts).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve, dirname, isAbsolute } from 'node:path';
import { ConfigError, ConfigErrors } from './config-error.js';
import { collectConfig } from './collect-config.js';
import { YamlSource } from './yaml-source.js';
import type { ConfigProblem } from './config-problem.js';
import { prepDomainpart } from '../jid.js';
import { parseAuthConfig } from '../auth/auth-config.js';
import { buildLimits } from '../limits/limits-config.js';
import { buildAdminFilesDir, buildImportLimits } from './admin-files-config.js';
import { parseDurability } from './durability-config.js';
import { parseCluster } from './cluster-config.js';
import { parseChannelBinding } from './channel-binding-config.js';
import { parseWebSocket } from './websocket-config.js';
import { parseBosh } from './bosh-config.js';
import { parseSasl2 } from './sasl2-config.js';
import { parseHostModules } from './host-modules.js';
import { applyEnv, buildWithEnv } from './env-overrides.js';
import { asWorker, parseWorkers } from './workers.js';
import type { AccessRule, AclSpec, ComponentConfig, ListenerConfig, ListenerType, S2sConfig, S2sPolicy, S2sTargetOverride, ServerConfig, TlsSettings } from './types.js';
import { parseTlsSettings } from './cert-dir-config.js';

const LISTENER_TYPES: ListenerType[] = ['c2s', 'c2s_tls', 's2s', 's2s_tls', 'http', 'https', 'component'];
/** The keys each listener type takes (starttls_required: where STARTTLS is negotiated at all). */
const LISTENER_KEYS: Record<ListenerType, string[]> = {
  c2s: ['port', 'ip', 'type', 'starttls_required'],
  c2s_tls: ['port', 'ip', 'type'],
  s2s: ['port', 'ip', 'type', 'starttls_required'],
  s2s_tls: ['port', 'ip', 'type'],
  http: ['port', 'ip', 'type', 'websocket', 'bosh'],
  https: ['port', 'ip', 'type', 'websocket', 'bosh'],
  component: ['port', 'ip', 'type'],
};
const HOST_CONFIG_KEYS = ['tls', 'auth', 'acl', 'access_rules', 'modules'];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];
const DEFAULT_PORT: Record<ListenerType, number> = { c2s: 5222, c2s_tls: 5223, s2s: 5269, s2s_tls: 5270, http: 5280, https: 5443, component: 5347 };
/** What runs without a config file: everything a standard client expects from a single server. */
const DEFAULT_MODULES: Record<string, Record<string, unknown>> = {
  disco: {}, ping: {}, version: {}, time: {}, roster: {}, presence: {}, offline: {}, vcard: {},
  private: {}, last: {}, blocking: {}, register: {}, mam: {}, carbons: {}, csi: {}, push: {}, stream_management: {},
  caps: {}, muc: {}, pep: {}, pubsub: {}, bookmarks: {},
};
/**
 * What listens without a `listen` section (config/xmppd.example.yaml shows it): clients on every address,
 * /metrics and the admin API on loopback only. No s2s: federation needs a public DNS name and a real certificate.
 */
export const DEFAULT_LISTEN: ReadonlyArray<Readonly<Record<string, unknown>>> = [
  { port: 5222, ip: '::', type: 'c2s', starttls_required: true },
  { port: 5223, ip: '::', type: 'c2s_tls' },
  { port: 5280, ip: '127.0.0.1', type: 'http' },
];
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'hosts', 'data_dir', 'log_level', 'control_socket', 'listen', 'tls', 'host_config', 'max_stanza_size',
  'max_xml_depth', 'max_xml_attributes', 'max_xml_name_length',
  'c2s_idle_timeout', 'c2s_negotiation_timeout', 'sasl_max_failures', 'max_send_queue', 'scram_iterations',
  'module_paths', 'modules', 'acl', 'access_rules', 's2s', 'api_tokens', 'auth', 'components', 'limits',
  'admin_files_dir', 'import_limits',
  'durability', 'memory_trim_interval', 'channel_binding', 'sasl2', 'cluster', 'workers',
]);
const S2S_KEYS = new Set([
  'enabled', 'policy', 'domain_policy', 'require_encryption', 'cafile', 'system_ca', 'dialback_secret',
  'overrides', 'dns_servers', 'idle_timeout', 'connect_timeout', 'max_queue',
]);
export { ConfigError, ConfigErrors };

const S2S_POLICIES: S2sPolicy[] = ['require_valid_cert', 'allow_dialback'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Load and validate a YAML file, XMPPD_* environment variables applied over it (env-overrides.ts); every problem
 * is reported at once (ConfigErrors), each with its YAML path, line, column and source line. Module options are
 * checked by check-config.ts (they need the modules).
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const { config, problems } = readConfigFile(file, env);
  if (problems.length || !config) throw new ConfigErrors(problems);
  return config;
}

/** The embedded default (domain localhost, data under ./data, c2s on 5222 and 5223, http on loopback), XMPPD_* variables applied. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  return asWorker(buildWithEnv({}, '', KNOWN_KEYS, (r) => buildConfig(r), env), env);
}

/**
 * The file read, parsed and validated, XMPPD_* variables applied: the config (with defaults in place of bad values)
 * and every error; a value an environment variable set is named by it (the file does not show it).
 */
export function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): { config: ServerConfig | null; problems: ConfigProblem[]; source?: YamlSource; raw?: unknown } {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { config: null, problems: [{ severity: 'error', file: path, yamlPath: '', problem: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? err})` }] };
  }
  const source = new YamlSource(path, text);
  const syntax = source.syntaxErrors();
  if (syntax.length) {
    return { config: null, source, problems: syntax.map((e) => ({ severity: 'error', file: path, yamlPath: '', problem: `invalid YAML: ${e.problem}`, at: e.at })) };
  }
  let raw: unknown;
  try {
    raw = source.doc.toJS() ?? {};
  } catch (err) {
    // e.g. aliases expanding past yaml's limit (a "billion laughs" file)
    return { config: null, source, problems: [{ severity: 'error', file: path, yamlPath: '', problem: `invalid YAML: ${(err as Error).message}` }] };
  }
  let applied: { variable: string; path: string }[] = [];
  if (isObj(raw)) {
    try {
      ({ raw, applied } = applyEnv(raw, path, KNOWN_KEYS, env));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { config: null, source, problems: [{ severity: 'error', file: path, yamlPath: err.yamlPath, problem: err.problem }] };
    }
  }
  const { config, errors } = collectConfig(raw, path, dirname(path));
  const problems: ConfigProblem[] = errors.map((e) => {
    const by = applied.filter((a) => e.yamlPath === a.path || e.yamlPath.startsWith(`${a.path}.`) || e.yamlPath.startsWith(`${a.path}[`)).pop();
    if (by) return { severity: 'error', file: path, yamlPath: e.yamlPath, problem: `${e.problem} (set by the environment variable ${by.variable})` };
    return {
      severity: 'error', file: path, yamlPath: e.yamlPath, problem: e.problem,
      at: source.locate(e.segments, e.rest !== '' || /^(unknown|is an option|is not listed)/.test(e.problem) ? 'key' : 'value'),
    };
  });
  // In file order, as an operator reads (and fixes) them.
  problems.sort((a, b) => (a.at?.line ?? 0) - (b.at?.line ?? 0) || (a.at?.column ?? 0) - (b.at?.column ?? 0));
  return { config: config && asWorker(config, env), problems, source, raw };
}

/** Validate a plain object (from YAML or from tests) and apply defaults. */
export function buildConfig(raw: unknown, path = '', baseDir = process.cwd()): ServerConfig {
  const fail = (p: string, problem: string): never => { throw new ConfigError(path, p, problem); };
  if (!isObj(raw)) fail('', 'the configuration must be a mapping of keys to values');
  const r = raw as Obj;
  // An empty key ("": in YAML) would otherwise print as "(top level)".
  for (const key of Object.keys(r)) if (!KNOWN_KEYS.has(key)) fail(key || '""', `unknown option (known: ${[...KNOWN_KEYS].join(', ')})`);

  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const str = (v: unknown, p: string, def?: string): string => {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || v === '') return fail(p, 'must be a non-empty string');
    return v;
  };
  const int = (v: unknown, p: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(p, `must be an integer from ${min} to ${max}`);
    return v;
  };
  const tlsFiles = (v: unknown, p: string): TlsSettings | undefined => parseTlsSettings(v, p, { fail, abs });

  const hostsRaw = r.hosts ?? ['localhost'];
  if (!Array.isArray(hostsRaw) || hostsRaw.length === 0) fail('hosts', 'must be a non-empty list of domain names');
  const hosts = (hostsRaw as unknown[]).map((h, i) => {
    const s = str(h, `hosts[${i}]`);
    try {
      return prepDomainpart(s);
    } catch (err) {
      return fail(`hosts[${i}]`, `"${s}" is not a valid domain name (${(err as Error).message})`);
    }
  });
  const twice = hosts.findIndex((h, i) => hosts.indexOf(h) !== i);
  if (twice >= 0) fail(`hosts[${twice}]`, `lists ${hosts[twice]} a second time`);

  const data_dir = abs(str(r.data_dir, 'data_dir', './data'));
  const log_level = str(r.log_level, 'log_level', 'info');
  if (!LOG_LEVELS.includes(log_level)) fail('log_level', `must be one of ${LOG_LEVELS.join(', ')}`);

  const listenRaw = r.listen ?? DEFAULT_LISTEN;
  if (!Array.isArray(listenRaw)) fail('listen', 'must be a list of listeners');
  const listen: ListenerConfig[] = (listenRaw as unknown[]).map((l, i) => {
    const p = `listen[${i}]`;
    if (!isObj(l)) return fail(p, 'must be a mapping with port, ip and type');
    const type = str(l.type, `${p}.type`, 'c2s') as ListenerType;
    if (!LISTENER_TYPES.includes(type)) fail(`${p}.type`, `must be one of ${LISTENER_TYPES.join(', ')}`);
    // A mistyped key must not fall back to a default silently: `adress: 127.0.0.1` would listen on every address.
    const known = LISTENER_KEYS[type];
    for (const key of Object.keys(l)) {
      if (known.includes(key)) continue;
      const owners = LISTENER_TYPES.filter((t) => LISTENER_KEYS[t].includes(key));
      fail(`${p}.${key || '""'}`, owners.length
        ? `is an option of ${owners.slice(0, -1).join(', ')}${owners.length > 1 ? ' and ' : ''}${owners[owners.length - 1]} listeners only (this one is ${type})`
        : `unknown option (known for ${type}: ${known.join(', ')})${/^(ad+res+e?s?|addr|host|bind|interface|listen)$/i.test(key) ? '; the address to listen on is "ip"' : ''}`);
    }
    const starttls = l.starttls_required ?? true;
    if (typeof starttls !== 'boolean') fail(`${p}.starttls_required`, 'must be true or false');
    const web = type === 'http' || type === 'https';
    const websocket = web ? parseWebSocket(l.websocket, `${p}.websocket`, fail) : undefined;
    return {
      ...(websocket ? { websocket, bosh: parseBosh(l.bosh, `${p}.bosh`, websocket, fail) } : {}),
      port: int(l.port, `${p}.port`, DEFAULT_PORT[type], 0, 65535),
      // components speak plaintext (XEP-0114 has no TLS): loopback unless an address is given
      ip: str(l.ip, `${p}.ip`, type === 'component' ? '127.0.0.1' : '::'),
      type,
      starttls_required: starttls as boolean,
    };
  });

  // Two listeners on one port would fail at start with EADDRINUSE; "::" and "0.0.0.0" take the port on every address.
  const wildcard = (ip: string) => ip === '::' || ip === '0.0.0.0';
  listen.forEach((l, i) => {
    const j = listen.findIndex((o, k) => k < i && o.port === l.port && l.port !== 0 && (o.ip === l.ip || wildcard(o.ip) || wildcard(l.ip)));
    if (j >= 0) fail(`listen[${i}].port`, `${l.port} on ${l.ip} is already taken by listen[${j}] (${listen[j]!.type} on ${listen[j]!.ip})`);
  });

  const auth = parseAuthConfig(r.auth, 'auth', { fail, abs }, hosts);
  const host_config: ServerConfig['host_config'] = {};
  if (r.host_config !== undefined) {
    if (!isObj(r.host_config)) fail('host_config', 'must be a mapping from a host to its options');
    for (const [h, hc] of Object.entries(r.host_config as Obj)) {
      if (!hosts.includes(h)) fail(`host_config.${h}`, `"${h}" is not listed in hosts`);
      if (!isObj(hc)) fail(`host_config.${h}`, 'must be a mapping');
      for (const key of Object.keys(hc as Obj)) {
        if (!HOST_CONFIG_KEYS.includes(key)) fail(`host_config.${h}.${key || '""'}`, `unknown option (known: ${HOST_CONFIG_KEYS.join(', ')})`);
      }
      host_config[h] = { tls: tlsFiles((hc as Obj).tls, `host_config.${h}.tls`) };
      if ((hc as Obj).auth !== undefined) host_config[h]!.auth = parseAuthConfig((hc as Obj).auth, `host_config.${h}.auth`, { fail, abs }, [h], auth);
      if ((hc as Obj).modules !== undefined) host_config[h]!.modules = parseHostModules((hc as Obj).modules, `host_config.${h}.modules`, fail);
    }
  }

  const module_paths = r.module_paths ?? [];
  if (!Array.isArray(module_paths)) fail('module_paths', 'must be a list of directories');
  const modulesRaw = r.modules ?? DEFAULT_MODULES;
  if (!isObj(modulesRaw)) fail('modules', 'must be a mapping from a module name to its options');
  const modules: ServerConfig['modules'] = {};
  for (const [name, opts] of Object.entries(modulesRaw as Obj)) {
    if (opts !== null && opts !== undefined && !isObj(opts)) fail(`modules.${name}`, 'must be a mapping of options (or empty)');
    modules[name] = (opts as Obj | null) ?? {};
  }

  const acl = parseAcl(r.acl, 'acl', {}, fail);
  const access_rules = parseAccessRules(r.access_rules, 'access_rules', acl, fail);
  // Per-host ACLs and access rules (ejabberd's host_config): they add to / override the global ones.
  for (const [h, hc] of Object.entries((r.host_config ?? {}) as Obj)) {
    const hostAcl = parseAcl((hc as Obj).acl, `host_config.${h}.acl`, acl, fail);
    const hostRules = parseAccessRules((hc as Obj).access_rules, `host_config.${h}.access_rules`, { ...acl, ...hostAcl }, fail);
    if (Object.keys(hostAcl).length) host_config[h]!.acl = hostAcl;
    if (Object.keys(hostRules).length) host_config[h]!.access_rules = hostRules;
  }

  const s2s = buildS2s(r.s2s, listen, { fail, str, int, abs });
  const cluster = parseCluster(r.cluster, baseDir, fail);

  return {
    path,
    hosts,
    data_dir,
    durability: parseDurability(r.durability, fail),
    cluster,
    workers: parseWorkers(r.workers, cluster, fail),
    log_level: log_level as ServerConfig['log_level'],
    control_socket: abs(str(r.control_socket, 'control_socket', resolve(data_dir, 'xmppd.sock'))),
    listen,
    tls: tlsFiles(r.tls, 'tls'),
    host_config,
    max_stanza_size: int(r.max_stanza_size, 'max_stanza_size', 262144, 1024),
    // XML bounds of the stream parser (RFC 6120 §13.12); the minimums keep ordinary stanzas parseable.
    max_xml_depth: int(r.max_xml_depth, 'max_xml_depth', 100, 16, 1000),
    max_xml_attributes: int(r.max_xml_attributes, 'max_xml_attributes', 64, 8, 10000),
    max_xml_name_length: int(r.max_xml_name_length, 'max_xml_name_length', 1024, 64, 65536),
    c2s_idle_timeout: int(r.c2s_idle_timeout, 'c2s_idle_timeout', 600, 1),
    c2s_negotiation_timeout: int(r.c2s_negotiation_timeout, 'c2s_negotiation_timeout', 60, 1),
    sasl_max_failures: int(r.sasl_max_failures, 'sasl_max_failures', 3, 1, 10),
    channel_binding: parseChannelBinding(r.channel_binding, fail),
    sasl2: parseSasl2(r.sasl2, fail),
    max_send_queue: int(r.max_send_queue, 'max_send_queue', 4 * 1024 * 1024, 65536),
    scram_iterations: int(r.scram_iterations, 'scram_iterations', 4096, 4096, 1_000_000),
    module_paths: (module_paths as unknown[]).map((p, i) => abs(str(p, `module_paths[${i}]`))),
    api_tokens: apiTokens(r.api_tokens, fail),
    modules,
    s2s,
    components: buildComponents(r.components, hosts, listen, fail),
    auth,
    acl,
    access_rules,
    limits: buildLimits(r.limits, acl, fail),
    admin_files_dir: buildAdminFilesDir(r.admin_files_dir, data_dir, abs, fail),
    import_limits: buildImportLimits(r.import_limits, fail),
    memory_trim_interval: int(r.memory_trim_interval, 'memory_trim_interval', 60, 0, 86400),
  };
}

interface Checkers {
  fail: (p: string, problem: string) => never;
  str: (v: unknown, p: string, def?: string) => string;
  int: (v: unknown, p: string, def: number, min: number, max?: number) => number;
  abs: (p: string) => string;
}

/** The `s2s` section (federation, RFC 6120 §13.7.2, XEP-0178, XEP-0220, XEP-0368). */
function buildS2s(raw: unknown, listen: ListenerConfig[], c: Checkers): S2sConfig {
  const { fail, str, int, abs } = c;
  if (raw !== undefined && raw !== null && !isObj(raw)) fail('s2s', 'must be a mapping of federation options');
  const s = (raw ?? {}) as Obj;
  for (const key of Object.keys(s)) if (!S2S_KEYS.has(key)) fail(`s2s.${key}`, `unknown option (known: ${[...S2S_KEYS].join(', ')})`);
  const bool = (v: unknown, p: string, def: boolean): boolean => {
    if (v === undefined) return def;
    if (typeof v !== 'boolean') fail(p, 'must be true or false');
    return v as boolean;
  };
  const domain = (d: string, p: string): string => {
    try {
      return prepDomainpart(d);
    } catch (err) {
      return fail(p, `"${d}" is not a valid domain name (${(err as Error).message})`);
    }
  };
  const policy = (v: unknown, p: string): S2sPolicy => {
    if (!S2S_POLICIES.includes(v as S2sPolicy)) fail(p, `must be one of ${S2S_POLICIES.join(', ')}`);
    return v as S2sPolicy;
  };
  const domain_policy: Record<string, S2sPolicy> = {};
  if (s.domain_policy !== undefined) {
    if (!isObj(s.domain_policy)) fail('s2s.domain_policy', 'must be a mapping from a domain to require_valid_cert or allow_dialback');
    for (const [d, v] of Object.entries(s.domain_policy as Obj)) {
      domain_policy[domain(d, `s2s.domain_policy.${d}`)] = policy(v, `s2s.domain_policy.${d}`);
    }
  }
  const overrides: Record<string, S2sTargetOverride> = {};
  if (s.overrides !== undefined) {
    if (!isObj(s.overrides)) fail('s2s.overrides', "must be a mapping from a domain to 'host:port' or {host, port, tls}");
    for (const [d, v] of Object.entries(s.overrides as Obj)) {
      const p = `s2s.overrides.${d}`;
      let target: S2sTargetOverride;
      if (typeof v === 'string') {
        // 'host:port', '[v6]:port' or a bare host (port 5269)
        const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d+))?$/.exec(v);
        if (!m) fail(p, `"${v}" is not host:port`);
        target = { host: (m![1] ?? m![2])!, port: int(m![3] === undefined ? undefined : Number(m![3]), p, 5269, 1, 65535), tls: 'starttls' };
      } else if (isObj(v)) {
        for (const key of Object.keys(v)) if (!['host', 'port', 'tls'].includes(key)) fail(`${p}.${key || '""'}`, 'unknown option (known: host, port, tls)');
        const tls = v.tls ?? 'starttls';
        if (tls !== 'direct' && tls !== 'starttls') fail(`${p}.tls`, 'must be direct (XEP-0368) or starttls');
        target = { host: str(v.host, `${p}.host`), port: int(v.port, `${p}.port`, tls === 'direct' ? 5270 : 5269, 1, 65535), tls: tls as 'direct' | 'starttls' };
      } else {
        return fail(p, "must be 'host:port' or a mapping {host, port, tls}");
      }
      overrides[domain(d, p)] = target;
    }
  }
  const dnsRaw = s.dns_servers ?? [];
  if (!Array.isArray(dnsRaw)) fail('s2s.dns_servers', "must be a list such as ['127.0.0.1:5353']");
  const dns_servers = (dnsRaw as unknown[]).map((v, i) => str(v, `s2s.dns_servers[${i}]`));
  const secret = s.dialback_secret;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16)) fail('s2s.dialback_secret', 'must be a string of at least 16 characters');
  const hasListener = listen.some((l) => l.type === 's2s' || l.type === 's2s_tls');
  const enabled = bool(s.enabled, 's2s.enabled', hasListener);
  if (!enabled && hasListener) fail('s2s.enabled', 'is false, but listen has an s2s/s2s_tls listener (remove it, or enable federation)');
  return {
    enabled,
    policy: s.policy === undefined ? 'allow_dialback' : policy(s.policy, 's2s.policy'),
    domain_policy,
    require_encryption: bool(s.require_encryption, 's2s.require_encryption', true),
    cafile: s.cafile === undefined ? undefined : abs(str(s.cafile, 's2s.cafile')),
    system_ca: bool(s.system_ca, 's2s.system_ca', true),
    dialback_secret: secret as string | undefined,
    overrides,
    dns_servers,
    idle_timeout: int(s.idle_timeout, 's2s.idle_timeout', 600, 1),
    connect_timeout: int(s.connect_timeout, 's2s.connect_timeout', 30, 1, 3600),
    max_queue: int(s.max_queue, 's2s.max_queue', 1000, 1),
  };
}

/** Bearer tokens of the HTTP admin API: 'sha256:<64 hex>' (recommended) or a token of 32+ characters. */
function apiTokens(v: unknown, fail: (p: string, problem: string) => never): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return fail('api_tokens', "must be a list of tokens ('sha256:<hex digest>' or the token itself)");
  return v.map((t, i) => {
    if (typeof t !== 'string') return fail(`api_tokens[${i}]`, 'must be a string');
    if (t.startsWith('sha256:')) {
      if (!/^sha256:[0-9a-f]{64}$/i.test(t)) fail(`api_tokens[${i}]`, "a 'sha256:' token needs 64 hex digits (the SHA-256 of the token)");
    } else if (t.length < 32) {
      fail(`api_tokens[${i}]`, 'a token must have at least 32 characters (or give its SHA-256 as sha256:<hex>)');
    }
    return t;
  });
}

/** The `components` section (XEP-0114): domain -> { secret }. */
function buildComponents(raw: unknown, hosts: string[], listen: ListenerConfig[], fail: (p: string, problem: string) => never): Record<string, ComponentConfig> {
  const out: Record<string, ComponentConfig> = {};
  if (raw !== undefined && raw !== null) {
    if (!isObj(raw)) fail('components', "must be a mapping from a component domain to {secret: '...'}");
    for (const [d, v] of Object.entries(raw as Obj)) {
      const p = `components.${d}`;
      let domain: string;
      try {
        domain = prepDomainpart(d);
      } catch (err) {
        return fail(p, `"${d}" is not a valid domain name (${(err as Error).message})`);
      }
      if (hosts.includes(domain)) fail(p, `"${domain}" is one of hosts; a component needs a domain of its own (e.g. gateway.${domain})`);
      if (domain in out) fail(p, `lists ${domain} twice`);
      if (!isObj(v)) fail(p, "must be a mapping such as {secret: 'a long random string'}");
      const secret = (v as Obj).secret;
      if (typeof secret !== 'string' || secret === '') fail(`${p}.secret`, 'must be a non-empty string (the shared secret of the handshake)');
      for (const key of Object.keys(v as Obj)) if (key !== 'secret') fail(`${p}.${key}`, 'unknown option (known: secret)');
      out[domain] = { secret: secret as string };
    }
  }
  const i = listen.findIndex((l) => l.type === 'component');
  if (i >= 0 && Object.keys(out).length === 0) fail(`listen[${i}].type`, 'a component listener needs at least one entry under components');
  return out;
}

type Fail = (p: string, problem: string) => never;

/** ACL groups: name -> kind (user, server, ip, user_regexp, resource) -> values. */
function parseAcl(raw: unknown, path: string, _global: Record<string, AclSpec>, fail: Fail): Record<string, AclSpec> {
  const acl: Record<string, AclSpec> = {};
  if (raw === undefined) return acl;
  if (!isObj(raw)) return fail(path, 'must be a mapping from an ACL name to its match specs');
  for (const [name, spec] of Object.entries(raw)) {
    if (!isObj(spec)) fail(`${path}.${name}`, 'must be a mapping such as {user: [admin@example.com]}');
    acl[name] = {};
    for (const [kind, vals] of Object.entries(spec as Obj)) {
      if (!['user', 'server', 'ip', 'user_regexp', 'resource'].includes(kind)) fail(`${path}.${name}.${kind}`, 'unknown ACL kind (user, server, ip, user_regexp, resource)');
      const list = Array.isArray(vals) ? vals : [vals];
      acl[name]![kind] = list.map((v, i) => {
        const at = `${path}.${name}.${kind}[${i}]`;
        if (typeof v !== 'string' || v === '') return fail(at, 'must be a non-empty string');
        // What the ACL compiles at start: a bad pattern or address would stop it there, without the YAML path.
        if (kind === 'user_regexp') {
          try {
            new RegExp(v);
          } catch (err) {
            fail(at, `not a valid regular expression (${(err as Error).message})`);
          }
        }
        if (kind === 'ip') {
          const [addr, bits, extra] = v.split('/');
          const family = isIP(addr!);
          const max = family === 6 ? 128 : 32;
          if (!family || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
            fail(at, `"${v}" is not an IP address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)`);
          }
        }
        return v;
      });
    }
  }
  return acl;
}

/** Access rules: name -> ordered [{allow|deny: acl}], first match wins; every ACL named must exist. */
function parseAccessRules(raw: unknown, path: string, acl: Record<string, AclSpec>, fail: Fail): Record<string, AccessRule> {
  const rules: Record<string, AccessRule> = {};
  if (raw === undefined) return rules;
  if (!isObj(raw)) return fail(path, 'must be a mapping from a rule name to a list of {allow|deny: acl}');
  for (const [name, list] of Object.entries(raw)) {
    if (!Array.isArray(list)) fail(`${path}.${name}`, 'must be a list such as [{allow: admin}, {deny: all}]');
    rules[name] = (list as unknown[]).map((rule, i) => {
      const p = `${path}.${name}[${i}]`;
      if (!isObj(rule) || Object.keys(rule).length !== 1) return fail(p, 'must be a single {allow: ACL} or {deny: ACL}');
      const [action, aclName] = Object.entries(rule)[0]!;
      if (action !== 'allow' && action !== 'deny') fail(p, `"${action}" is not allow or deny`);
      if (typeof aclName !== 'string' || aclName === '') return fail(`${p}.${action}`, 'must be a non-empty string');
      // Own keys only: `in` would also find Object members, so an ACL named "constructor" passed as defined.
      if (aclName !== 'all' && aclName !== 'none' && !Object.hasOwn(acl, aclName)) fail(`${p}.${action}`, `ACL "${aclName}" is not defined under acl`);
      return { action, acl: aclName };
    });
  }
  return rules;
}
