// The top-level `channel_binding` option: whether c2s offers SCRAM -PLUS (RFC 5802 §6) and which
// channel-binding types it lists (XEP-0440): tls-exporter (RFC 9266), tls-server-end-point and tls-unique (RFC 5929).

export interface ChannelBindingConfig {
  /** Offer the SCRAM-*-PLUS mechanisms at all (false: plain SCRAM only, as Prosody 0.12 on TLS 1.3). */
  plus: boolean;
  /** tls-unique: on every TLS version, only below TLS 1.3, or never. */
  tls_unique: 'always' | 'tls12' | 'never';
}

/**
 * The default offers tls-unique on TLS 1.3 too, as ejabberd 23.01 does: RFC 9266 leaves it undefined
 * there, but OpenSSL-based clients (slixmpp 1.8.x, CPython's ssl) compute it from the client's Finished
 * and pick it with -PLUS; without it they fail to log in. tls-exporter stays listed first.
 */
export const DEFAULT_CHANNEL_BINDING: ChannelBindingConfig = { plus: true, tls_unique: 'always' };

const TLS_UNIQUE = ['always', 'tls12', 'never'] as const;

export function parseChannelBinding(raw: unknown, fail: (p: string, problem: string) => never): ChannelBindingConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_CHANNEL_BINDING };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('channel_binding', 'must be a mapping {plus, tls_unique}');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'plus' && key !== 'tls_unique') fail(`channel_binding.${key}`, 'unknown option (known: plus, tls_unique)');
  }
  const out = { ...DEFAULT_CHANNEL_BINDING };
  if (r.plus !== undefined) {
    if (typeof r.plus !== 'boolean') fail('channel_binding.plus', 'must be true or false');
    out.plus = r.plus as boolean;
  }
  if (r.tls_unique !== undefined) {
    if (typeof r.tls_unique !== 'string' || !(TLS_UNIQUE as readonly string[]).includes(r.tls_unique)) {
      fail('channel_binding.tls_unique', `must be one of ${TLS_UNIQUE.join(', ')}`);
    }
    out.tls_unique = r.tls_unique as ChannelBindingConfig['tls_unique'];
  }
  return out;
}
