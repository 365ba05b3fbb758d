// listen[i].bosh on http/https listeners: XMPP over BOSH (XEP-0124 with XEP-0206) and its XEP-0156 discovery.
import { endpointPath, originList } from './http-endpoint-options.js';
import type { WebSocketConfig } from './websocket-config.js';

export interface BoshConfig {
  /** Serve BOSH on this listener (default true). */
  enabled: boolean;
  /** The URL path of the connection manager. */
  path: string;
  /** Origins whose pages may use it (CORS); null: any origin. Requests without Origin are always accepted. */
  origins: string[] | null;
  /** Count plain http:// sessions from any address as secure (a TLS-terminating proxy); otherwise only https and loopback. */
  consider_secure: boolean;
  /** Upper bound, in seconds, of the long-poll 'wait' a client may ask for (XEP-0124 §7.1). */
  max_wait: number;
  /** Upper bound of 'hold', the requests the server keeps waiting (XEP-0124 §7.1). */
  max_hold: number;
  /** Seconds without a request after which the session ends (XEP-0124 §7.1 'inactivity'). */
  inactivity: number;
  /** Longest pause a client may ask for, in seconds (XEP-0124 §10). */
  max_pause: number;
}

export const DEFAULT_BOSH: BoshConfig = { enabled: true, path: '/http-bind', origins: null, consider_secure: false, max_wait: 60, max_hold: 1, inactivity: 60, max_pause: 300 };

const KEYS = ['enabled', 'path', 'origins', 'consider_secure', 'max_wait', 'max_hold', 'inactivity', 'max_pause'];
const RANGES = { max_wait: [1, 3600], max_hold: [1, 5], inactivity: [5, 3600], max_pause: [0, 86400] } as const;

export function parseBosh(raw: unknown, p: string, ws: WebSocketConfig | undefined, fail: (p: string, problem: string) => never): BoshConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_BOSH };
  if (typeof raw === 'boolean') return { ...DEFAULT_BOSH, enabled: raw };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail(p, `must be true, false or a mapping {${KEYS.join(', ')}}`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KEYS.includes(key)) fail(`${p}.${key}`, `unknown option (known: ${KEYS.join(', ')})`);
  const out = { ...DEFAULT_BOSH };
  for (const key of ['enabled', 'consider_secure'] as const) {
    if (r[key] === undefined) continue;
    if (typeof r[key] !== 'boolean') fail(`${p}.${key}`, 'must be true or false');
    out[key] = r[key] as boolean;
  }
  for (const [key, [min, max]] of Object.entries(RANGES) as Array<[keyof typeof RANGES, readonly [number, number]]>) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${p}.${key}`, `must be a whole number from ${min} to ${max}`);
    out[key] = v as number;
  }
  if (r.path !== undefined) out.path = endpointPath(r.path, p, '/http-bind', fail);

  if (out.enabled && ws?.enabled && ws.path === out.path) fail(`${p}.path`, `"${out.path}" is the WebSocket path of this listener`);
  if (r.origins !== undefined) out.origins = originList(r.origins, p, fail);
  return out;
}
