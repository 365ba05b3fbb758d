// The `limits` section of the configuration (shapers and limits, in ejabberd's spirit): validation and
// defaults; every error names the YAML path. 0 means unlimited everywhere.
import type { AclSpec, LimitsConfig, ShaperConfig } from '../config/types.js';
import { buildAuthLimits, DEFAULT_AUTH_LIMITS } from './auth-throttle-config.js';

type Fail = (yamlPath: string, problem: string) => never;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const SHAPER_KEYS = ['bytes_per_second', 'stanzas_per_second', 'max_burst'];
const LIMIT_KEYS = [
  'c2s', 's2s', 'max_sessions_per_user', 'max_connections_per_ip', 'registrations_per_ip_per_hour', 'exempt',
  'max_s2s_connections_per_ip', 'max_component_connections_per_ip', 'max_http_connections_per_ip',
  'tls_handshake_timeout', 'http_request_timeout', 'pre_auth_bytes', 'dialback_pending_per_stream', 'dialback_pending_per_ip', 'auth',
];

/**
 * Defaults: generous enough for modern clients (ejabberd's shipped c2s "normal" shaper of 1000 B/s is
 * not; Prosody's default is 10 kB/s) while still bounding one connection. Stanza rates are off by
 * default (the byte rate bounds them already). max_sessions_per_user follows ejabberd's shipped config.
 */
export const DEFAULT_LIMITS: LimitsConfig = {
  c2s: { bytes_per_second: 100_000, stanzas_per_second: 0, max_burst: 0 },
  s2s: { bytes_per_second: 500_000, stanzas_per_second: 0, max_burst: 0 },
  max_sessions_per_user: 10,
  max_connections_per_ip: 100,
  registrations_per_ip_per_hour: 10,
  exempt: [],
  // Before authentication a connection is anyone's: bound it by count per address, time and bytes. Peer
  // servers multiplex domains over few streams (XEP-0220 §2.6) and components are few, hence the lower counts.
  max_s2s_connections_per_ip: 50,
  max_component_connections_per_ip: 10,
  max_http_connections_per_ip: 20,
  tls_handshake_timeout: 10,
  http_request_timeout: 30,
  pre_auth_bytes: 65_536,
  dialback_pending_per_stream: 5,
  dialback_pending_per_ip: 20,
  auth: DEFAULT_AUTH_LIMITS,
};

export function buildLimits(raw: unknown, acl: Record<string, AclSpec>, fail: Fail): LimitsConfig {
  if (raw === undefined || raw === null) return structuredClone(DEFAULT_LIMITS);
  if (!isObj(raw)) return fail('limits', `must be a mapping (${LIMIT_KEYS.join(', ')})`);
  for (const key of Object.keys(raw)) if (!LIMIT_KEYS.includes(key)) fail(`limits.${key}`, `unknown option (known: ${LIMIT_KEYS.join(', ')})`);
  const count = (v: unknown, p: string, def: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return fail(p, 'must be a whole number, 0 for unlimited');
    return v;
  };
  const shaper = (v: unknown, p: string, def: ShaperConfig): ShaperConfig => {
    if (v === undefined || v === null) return { ...def };
    if (!isObj(v)) return fail(p, 'must be a mapping such as {bytes_per_second: 100000, stanzas_per_second: 200}');
    for (const key of Object.keys(v)) if (!SHAPER_KEYS.includes(key)) fail(`${p}.${key}`, `unknown option (known: ${SHAPER_KEYS.join(', ')})`);
    return {
      bytes_per_second: count(v.bytes_per_second, `${p}.bytes_per_second`, def.bytes_per_second),
      stanzas_per_second: count(v.stanzas_per_second, `${p}.stanzas_per_second`, def.stanzas_per_second),
      max_burst: count(v.max_burst, `${p}.max_burst`, def.max_burst),
    };
  };
  const exemptRaw = raw.exempt ?? [];
  if (!Array.isArray(exemptRaw)) fail('limits.exempt', 'must be a list of ACL names, such as [admin, loopback]');
  const exempt = (exemptRaw as unknown[]).map((name, i) => {
    const p = `limits.exempt[${i}]`;
    if (typeof name !== 'string' || name === '') return fail(p, 'must be an ACL name');
    if (name !== 'all' && name !== 'none' && !Object.hasOwn(acl, name)) fail(p, `ACL "${name}" is not defined under acl`);
    return name;
  });
  const seconds = (v: unknown, p: string, def: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 3600) return fail(p, 'must be a whole number of seconds from 1 to 3600');
    return v;
  };
  const d = DEFAULT_LIMITS;
  return {
    c2s: shaper(raw.c2s, 'limits.c2s', d.c2s),
    s2s: shaper(raw.s2s, 'limits.s2s', d.s2s),
    max_sessions_per_user: count(raw.max_sessions_per_user, 'limits.max_sessions_per_user', d.max_sessions_per_user),
    max_connections_per_ip: count(raw.max_connections_per_ip, 'limits.max_connections_per_ip', d.max_connections_per_ip),
    registrations_per_ip_per_hour: count(raw.registrations_per_ip_per_hour, 'limits.registrations_per_ip_per_hour', d.registrations_per_ip_per_hour),
    exempt,
    max_s2s_connections_per_ip: count(raw.max_s2s_connections_per_ip, 'limits.max_s2s_connections_per_ip', d.max_s2s_connections_per_ip),
    max_component_connections_per_ip: count(raw.max_component_connections_per_ip, 'limits.max_component_connections_per_ip', d.max_component_connections_per_ip),
    max_http_connections_per_ip: count(raw.max_http_connections_per_ip, 'limits.max_http_connections_per_ip', d.max_http_connections_per_ip),
    tls_handshake_timeout: seconds(raw.tls_handshake_timeout, 'limits.tls_handshake_timeout', d.tls_handshake_timeout),
    http_request_timeout: seconds(raw.http_request_timeout, 'limits.http_request_timeout', d.http_request_timeout),
    pre_auth_bytes: count(raw.pre_auth_bytes, 'limits.pre_auth_bytes', d.pre_auth_bytes),
    dialback_pending_per_stream: count(raw.dialback_pending_per_stream, 'limits.dialback_pending_per_stream', d.dialback_pending_per_stream),
    dialback_pending_per_ip: count(raw.dialback_pending_per_ip, 'limits.dialback_pending_per_ip', d.dialback_pending_per_ip),
    auth: buildAuthLimits(raw.auth, fail),
  };
}
