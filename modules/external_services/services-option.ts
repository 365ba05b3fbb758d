// The `services` option of external_services (XEP-0215 §2 service attributes): a list of STUN/TURN
// services, each checked with its index in the error ("[1].port: must be ...").
import type { OptionSpec } from '../../src/sdk.js';

export type ServiceType = 'stun' | 'turn' | 'turns';
export type Transport = 'udp' | 'tcp';

/** One configured service, defaults applied. */
export interface ExternalService {
  type: ServiceType;
  host: string;
  port: number;
  transport: Transport;
  /** Needs credentials (XEP-0215 `restricted`): TURN REST API credentials from turn_secret. */
  restricted: boolean;
  name?: string;
}

/** As written in the YAML; resolved by resolveServices. */
export type RawService = Partial<ExternalService>;

const TYPES: readonly ServiceType[] = ['stun', 'turn', 'turns'];
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];
const KEYS = ['type', 'host', 'port', 'transport', 'restricted', 'name'];
// A DNS name or an IP literal (v4 or v6): what a client connects to.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|[0-9A-Fa-f:.]+)$/;

function checkOne(s: unknown): string | undefined {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return 'must be a mapping with type, host, port, transport, restricted';
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) return `.${k}: unknown key (known: ${KEYS.join(', ')})`;
  if (!TYPES.includes(o.type as ServiceType)) return `.type: must be one of ${TYPES.join(', ')}`;
  if (typeof o.host !== 'string' || !HOST.test(o.host) || o.host.length > 253) return '.host: must be a host name or IP address';
  if (o.port !== undefined && (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) return '.port: must be a whole number from 1 to 65535';
  if (o.transport !== undefined && !TRANSPORTS.includes(o.transport as Transport)) return `.transport: must be one of ${TRANSPORTS.join(', ')}`;
  if (o.type === 'turns' && o.transport === 'udp') return '.transport: turns is TURN over TLS, so tcp';
  if (o.restricted !== undefined && typeof o.restricted !== 'boolean') return '.restricted: must be true or false';
  if (o.name !== undefined && typeof o.name !== 'string') return '.name: must be a string';
  return undefined;
}

export const servicesOpt = (): OptionSpec<RawService[]> => ({
  kind: 'service[]',
  default: [],
  check(v) {
    if (!Array.isArray(v)) return 'must be a list of services (type, host, port, transport, restricted)';
    for (let i = 0; i < v.length; i++) {
      const problem = checkOne(v[i]);
      if (problem) return `[${i}]${problem.startsWith('.') ? problem : `: ${problem}`}`;
    }
    return undefined;
  },
});

/** Defaults: port 3478 (5349 for turns, RFC 7065), udp (tcp for turns), restricted for turn/turns. */
export function resolveServices(raw: RawService[]): ExternalService[] {
  return raw.map((s) => {
    const type = s.type!;
    const out: ExternalService = {
      type,
      host: s.host!,
      port: s.port ?? (type === 'turns' ? 5349 : 3478),
      transport: s.transport ?? (type === 'turns' ? 'tcp' : 'udp'),
      restricted: s.restricted ?? type !== 'stun',
    };
    if (s.name !== undefined) out.name = s.name;
    return out;
  });
}
