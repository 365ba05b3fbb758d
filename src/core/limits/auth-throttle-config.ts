// The `limits.auth` section: throttling of failed authentication (src/core/limits/auth-throttle.ts).
// Validation and defaults; every error names the YAML path.
import type { AuthLimitsConfig } from '../config/types.js';

type Fail = (yamlPath: string, problem: string) => never;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Defaults: a user who mistypes a few times is answered at once; a guesser from one address gets answers
 * after 0.5, 1, 2, 4, 8, 10 s and is locked out for 5 minutes after 10 failures, then for 10, 20, 40,
 * 60 minutes on each further failure (ejabberd's mod_fail2ban bans for an hour after 20 failures; Prosody's
 * mod_limit_auth tolerates 5 failures in 30 s). Each failure is forgotten after two quiet minutes.
 */
export const DEFAULT_AUTH_LIMITS: AuthLimitsConfig = {
  failures_before_delay: 3,
  delay_ms: 500,
  max_delay_ms: 10_000,
  max_failures_per_ip: 10,
  lock_seconds: 300,
  max_lock_seconds: 3600,
  failure_decay_seconds: 120,
  max_tracked: 10_000,
};

const KEYS = Object.keys(DEFAULT_AUTH_LIMITS) as (keyof AuthLimitsConfig)[];

export function buildAuthLimits(raw: unknown, fail: Fail): AuthLimitsConfig {
  const p = 'limits.auth';
  if (raw === undefined || raw === null) return { ...DEFAULT_AUTH_LIMITS };
  if (!isObj(raw)) return fail(p, `must be a mapping (${KEYS.join(', ')})`);
  for (const key of Object.keys(raw)) if (!(KEYS as string[]).includes(key)) fail(`${p}.${key}`, `unknown option (known: ${KEYS.join(', ')})`);
  const num = (key: keyof AuthLimitsConfig, min: number, max: number, what: string): number => {
    const v = raw[key];
    if (v === undefined) return DEFAULT_AUTH_LIMITS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(`${p}.${key}`, `must be a whole number from ${min} to ${max} (${what})`);
    return v;
  };
  const c: AuthLimitsConfig = {
    failures_before_delay: num('failures_before_delay', 0, 1000, 'failures answered without delay'),
    delay_ms: num('delay_ms', 0, 60_000, 'milliseconds, 0 for no delays'),
    max_delay_ms: num('max_delay_ms', 0, 60_000, 'milliseconds'),
    max_failures_per_ip: num('max_failures_per_ip', 0, 100_000, 'failures, 0 to never lock an address'),
    lock_seconds: num('lock_seconds', 1, 86_400, 'seconds'),
    max_lock_seconds: num('max_lock_seconds', 1, 604_800, 'seconds'),
    failure_decay_seconds: num('failure_decay_seconds', 1, 86_400, 'seconds until one failure is forgotten'),
    max_tracked: num('max_tracked', 100, 10_000_000, 'addresses and accounts remembered'),
  };
  if (c.max_delay_ms < c.delay_ms) fail(`${p}.max_delay_ms`, `must be at least delay_ms (${c.delay_ms})`);
  if (c.max_lock_seconds < c.lock_seconds) fail(`${p}.max_lock_seconds`, `must be at least lock_seconds (${c.lock_seconds})`);
  return c;
}
