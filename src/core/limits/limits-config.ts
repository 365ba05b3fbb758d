// The `limits` section of the configuration (shapers and limits, in ejabberd's spirit): validation and
// defaults; every error names the YAML path. 0 means unlimited everywhere.
import type { AclSpec, LimitsConfig, ShaperConfig } from '../config/types.js';
import { buildAuthLimits, DEFAULT_AUTH_LIMITS } from './auth-throttle-config.js';

type Fail = (yamlPath: string, problem: string) => never;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const SHAPER_KEYS = ['bytes_per_second', 'stanzas_per_second', 'max_burst'];
const LIMIT_KEYS = ['c2s', 's2s', 'max_sessions_per_user', 'max_connections_per_ip', 'registrations_per_ip_per_hour', 'exempt', 'auth'];

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
  auth: DEFAULT_AUTH_LIMITS,
};

export function buildLimits(raw: unknown, acl: Record<string, AclSpec>, fail: Fail): LimitsConfig {
  if (raw === undefined || raw === null) return structuredClone(DEFAULT_LIMITS);
  if (!isObj(raw)) return fail('limits', 'must be a mapping (c2s, s2s, max_sessions_per_user, max_connections_per_ip, registrations_per_ip_per_hour, exempt, auth)');
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
    if (name !== 'all' && name !== 'none' && !(name in acl)) fail(p, `ACL "${name}" is not defined under acl`);
    return name;
  });
  const d = DEFAULT_LIMITS;
  return {
    c2s: shaper(raw.c2s, 'limits.c2s', d.c2s),
    s2s: shaper(raw.s2s, 'limits.s2s', d.s2s),
    max_sessions_per_user: count(raw.max_sessions_per_user, 'limits.max_sessions_per_user', d.max_sessions_per_user),
    max_connections_per_ip: count(raw.max_connections_per_ip, 'limits.max_connections_per_ip', d.max_connections_per_ip),
    registrations_per_ip_per_hour: count(raw.registrations_per_ip_per_hour, 'limits.registrations_per_ip_per_hour', d.registrations_per_ip_per_hour),
    exempt,
    auth: buildAuthLimits(raw.auth, fail),
  };
}
