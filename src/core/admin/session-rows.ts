// One row of `xmppd sessions` (admin command sessions.list): presence (RFC 6121 §4.7.2 show/status), address,
// TLS, login mechanism, client (its disco#info identity name as the caps module learnt it, else the XEP-0115
// caps node of its last presence, else the resource), XEP-0198 state
// and idle time (since the client's last stanza).
import type { Session } from '../session.js';

const NS_CAPS = 'http://jabber.org/protocol/caps';
const SHOWS = new Set(['away', 'chat', 'dnd', 'xa']);

export interface SessionRow {
  jid: string;
  /** available, away, chat, dnd, xa; unavailable before the first presence (or after an unavailable one). */
  show: string;
  status: string;
  priority: number;
  ip: string;
  /** Encrypted: TLS on the stream, or an encrypted transport under it (wss, https). */
  tls: boolean;
  tls_version: string | null;
  mechanism: string;
  client: string;
  /** Where `client` comes from: its disco#info identity (caps), the caps node of its presence, or its resource. */
  client_source: 'identity' | 'caps_node' | 'resource';
  stream_management: 'off' | 'enabled' | 'resumable';
  /** Kept for XEP-0198 resumption with no connection under it. */
  detached: boolean;
  since: string;
  idle_s: number;
}

export function sessionRow(s: Session, now = Date.now(), clientName?: string): SessionRow {
  const p = s.presence;
  const shown = p?.getChildText('show') ?? null;
  const caps = p?.getChild('c', NS_CAPS)?.attrs.node;
  return {
    jid: s.jid.toString(),
    show: p === null ? 'unavailable' : shown && SHOWS.has(shown) ? shown : 'available',
    status: p?.getChildText('status') ?? '',
    priority: s.priority,
    ip: s.ip,
    tls: s.secure,
    tls_version: s.tlsVersion ?? null,
    mechanism: s.authMechanism,
    client: clientName || (typeof caps === 'string' && caps ? caps : s.jid.resource),
    client_source: clientName ? 'identity' : typeof caps === 'string' && caps ? 'caps_node' : 'resource',
    stream_management: s.streamManagement ?? 'off',
    detached: s.detached,
    since: new Date(s.startedAt).toISOString(),
    idle_s: Math.max(0, Math.round((now - (s.lastActiveAt ?? s.startedAt)) / 1000)),
  };
}
