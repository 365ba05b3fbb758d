// Stanza-path hooks (RFC 6120 §10): every routed stanza, and the c2s send/receive points.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../src/core/jid.js';
import type { Session } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

export interface StanzaCtx { from: Jid; to: Jid; session?: Session }
export interface UserPacketCtx { session: Session; from: Jid; to: Jid }

export interface StanzaHooks {
  filter_packet: { kind: 'filter'; drop: true; value: Element; ctx: StanzaCtx };
  user_send_packet: { kind: 'filter'; drop: true; value: Element; ctx: UserPacketCtx };
  user_receive_packet: { kind: 'filter'; drop: true; value: Element; ctx: UserPacketCtx };
  offline_message: { kind: 'filter'; drop: false; value: { handled: boolean }; ctx: { stanza: Element; from: Jid; to: Jid } };
}

export const STANZA_HOOKS: Record<keyof StanzaHooks, HookSpec> = {
  filter_packet: {
    kind: 'filter', drop: true, value: 'Element', ctx: '{ from: Jid; to: Jid; session?: Session }',
    doc: 'Every stanza the router sees, before the local/remote split. Replace the stanza, or DROP it.',
  },
  user_send_packet: {
    kind: 'filter', drop: true, value: 'Element', ctx: '{ session: Session; from: Jid; to: Jid }',
    doc: 'A stanza a local client sent, after its from was stamped and before routing.',
  },
  user_receive_packet: {
    kind: 'filter', drop: true, value: 'Element', ctx: '{ session: Session; from: Jid; to: Jid }',
    doc: 'A stanza about to be written to a local client session.',
  },
  offline_message: {
    kind: 'filter', drop: false, value: '{ handled: boolean }', ctx: '{ stanza: Element; from: Jid; to: Jid }',
    doc: 'A message for a local account with no session that can take it; set handled to keep it from bouncing.',
  },
};
