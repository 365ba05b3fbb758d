// The top-level `sasl2` option: SASL2 (XEP-0388) with Bind2 (XEP-0386) on c2s, and FAST tokens (XEP-0484)
// that let a client log in again with HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht) instead of its password.

export interface Sasl2Config {
  /** Offer <authentication xmlns='urn:xmpp:sasl:2'/> after TLS (the classic SASL path stays offered). */
  enabled: boolean;
  /** Offer FAST inside SASL2 and issue tokens on request. */
  fast: boolean;
  /** Seconds a FAST token stays valid after it is issued. */
  fast_token_lifetime: number;
}

export const DEFAULT_SASL2: Sasl2Config = { enabled: true, fast: true, fast_token_lifetime: 14 * 86400 };

const KEYS = ['enabled', 'fast', 'fast_token_lifetime'];

export function parseSasl2(raw: unknown, fail: (p: string, problem: string) => never): Sasl2Config {
  if (raw === undefined || raw === null) return { ...DEFAULT_SASL2 };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('sasl2', 'must be a mapping {enabled, fast, fast_token_lifetime}');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!KEYS.includes(key)) fail(`sasl2.${key}`, `unknown option (known: ${KEYS.join(', ')})`);
  }
  const out = { ...DEFAULT_SASL2 };
  for (const key of ['enabled', 'fast'] as const) {
    if (r[key] === undefined) continue;
    if (typeof r[key] !== 'boolean') fail(`sasl2.${key}`, 'must be true or false');
    out[key] = r[key] as boolean;
  }
  if (r.fast_token_lifetime !== undefined) {
    const v = r.fast_token_lifetime;
    // At least a minute; at most a year (a token is a password substitute: it must expire).
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 60 || v > 366 * 86400) {
      fail('sasl2.fast_token_lifetime', 'must be a whole number of seconds from 60 to 31622400');
    }
    out.fast_token_lifetime = v as number;
  }
  return out;
}
