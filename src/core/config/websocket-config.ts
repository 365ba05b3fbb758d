// listen[i].websocket on http/https listeners: XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156).
import { endpointPath, originList } from './http-endpoint-options.js';
import { isIP } from 'node:net';

export interface WebSocketConfig {
  /** Serve XMPP over WebSocket on this listener (default true). */
  enabled: boolean;
  /** The URL path of the endpoint. */
  path: string;
  /**
   * Origins (scheme://host[:port]) whose pages may connect; null: any origin, as ejabberd (websocket_origin:
   * ignore) — a WebSocket login needs the user's credentials, no cookie is involved. Requests without an Origin
   * header (non-browser clients) are always accepted.
   */
  origins: string[] | null;
  /** Count plain ws:// connections from any address as secure (Prosody's consider_websocket_secure; for a
   *  TLS-terminating proxy). Otherwise only https listeners and loopback peers are. */
  consider_secure: boolean;
  /** Seconds between WebSocket pings (a peer that misses one is disconnected); 0: none. */
  ping_interval: number;
  /** ws:// or wss:// URL every new connection is sent to instead of being served (RFC 7395 §3.6.1); null: serve. */
  see_other_uri: string | null;
  /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client: its address is then the
   *  one limits, ACLs, the login throttle and logs see (ejabberd's and Prosody's trusted_proxies). */
  trusted_proxies: string[];
}

export const DEFAULT_WEBSOCKET: WebSocketConfig = { enabled: true, path: '/xmpp-websocket', origins: null, consider_secure: false, ping_interval: 30, see_other_uri: null, trusted_proxies: [] };

const KEYS = ['enabled', 'path', 'origins', 'consider_secure', 'ping_interval', 'see_other_uri', 'trusted_proxies'];

export function parseWebSocket(raw: unknown, p: string, fail: (p: string, problem: string) => never): WebSocketConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_WEBSOCKET };
  if (typeof raw === 'boolean') return { ...DEFAULT_WEBSOCKET, enabled: raw };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail(p, `must be true, false or a mapping {${KEYS.join(', ')}}`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KEYS.includes(key)) fail(`${p}.${key}`, `unknown option (known: ${KEYS.join(', ')})`);
  const out = { ...DEFAULT_WEBSOCKET };
  for (const key of ['enabled', 'consider_secure'] as const) {
    if (r[key] === undefined) continue;
    if (typeof r[key] !== 'boolean') fail(`${p}.${key}`, 'must be true or false');
    out[key] = r[key] as boolean;
  }
  if (r.path !== undefined) out.path = endpointPath(r.path, p, '/xmpp-websocket', fail);

  if (r.origins !== undefined) out.origins = originList(r.origins, p, fail);
  if (r.ping_interval !== undefined) {
    const v = r.ping_interval;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3600) fail(`${p}.ping_interval`, 'must be a whole number of seconds from 0 (no pings) to 3600');
    out.ping_interval = v as number;
  }
  if (r.see_other_uri !== undefined && r.see_other_uri !== null) {
    let u: URL | null = null;
    try {
      u = typeof r.see_other_uri === 'string' ? new URL(r.see_other_uri) : null;
    } catch { /* reported below */ }
    if (!u || (u.protocol !== 'ws:' && u.protocol !== 'wss:')) fail(`${p}.see_other_uri`, 'must be a ws:// or wss:// URL (RFC 7395 §3.6.1)');
    out.see_other_uri = r.see_other_uri as string;
  }
  if (r.trusted_proxies !== undefined) {
    if (!Array.isArray(r.trusted_proxies)) fail(`${p}.trusted_proxies`, 'must be a list of addresses or CIDR ranges such as 127.0.0.1 or 10.0.0.0/8');
    out.trusted_proxies = (r.trusted_proxies as unknown[]).map((v, i) => {
      const [addr, bits, more] = typeof v === 'string' ? v.split('/') : [];
      const family = addr ? isIP(addr) : 0;
      const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
      if (!family || !bitsOk || more !== undefined) fail(`${p}.trusted_proxies[${i}]`, `"${String(v)}" is not an address or CIDR range`);
      return v as string;
    });
  }
  return out;
}
