// Presence and IM hooks (RFC 6121): where the roster/presence modules plug into the c2s and the router.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../src/core/jid.js';
import type { Session } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

export interface PresenceOutCtx { session: Session; to: Jid | null }
export interface PresenceInCtx { from: Jid; to: Jid }

export interface PresenceHooks {
  c2s_presence_out: { kind: 'filter'; drop: true; value: Element; ctx: PresenceOutCtx };
  presence_in: { kind: 'filter'; drop: true; value: Element; ctx: PresenceInCtx };
  user_available: { kind: 'notify'; ctx: { session: Session } };
  user_unavailable: { kind: 'notify'; ctx: { session: Session; stanza: Element | null; reason: string } };
  user_presence_updated: { kind: 'notify'; ctx: { session: Session; wasAvailable: boolean; oldPriority: number } };
}

export const PRESENCE_HOOKS: Record<keyof PresenceHooks, HookSpec> = {
  c2s_presence_out: {
    kind: 'filter', host: "the sender's (the session's)", drop: true, value: 'Element', ctx: '{ session: Session; to: Jid | null }',
    doc: 'A presence a local client sent (to is null for broadcast presence), after user_send_packet. DROP means a handler took it over.',
  },
  presence_in: {
    kind: 'filter', host: "the recipient's", drop: true, value: 'Element', ctx: '{ from: Jid; to: Jid }',
    doc: 'A presence addressed to a local account (bare or full JID), before default delivery. DROP means a handler took it over.',
  },
  user_available: {
    kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session }',
    doc: 'A session sent its first available presence (RFC 6121 §4.2): time for probes and offline messages.',
  },
  user_unavailable: {
    kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session; stanza: Element | null; reason: string }',
    doc: 'An available session became unavailable: its unavailable presence (stanza), or a disconnect (stanza null; the session is already gone from the session manager).',
  },
  user_presence_updated: {
    kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session; wasAvailable: boolean; oldPriority: number }',
    doc: "A session's broadcast presence or priority changed (after the state update; e.g. priority negative -> non-negative).",
  },
};
