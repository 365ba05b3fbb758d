// Stanza-path hooks (RFC 6120 §10): every routed stanza, the c2s send/receive points and the s2s receive
// point (RFC 6120 §13.7.2: after the peer domain was authenticated on the stream).
import type { Element } from '@xmpp/xml';
import type { Jid } from '../src/core/jid.js';
import type { Session } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

export interface StanzaCtx { from: Jid; to: Jid; session?: Session }
export interface UserPacketCtx { session: Session; from: Jid; to: Jid }
/** remote: the authenticated peer domain; local: our host it addressed; auth: how remote was authenticated. */
/** How an accepted message reaches its recipient: written to its sessions now, or stored for later. */
export interface MessageAcceptedCtx { from: Jid; to: Jid; via: 'session' | 'offline' }
/** A message written to local sessions: the stanza as accepted, and every session it was handed to. */
export interface MessageDeliveredCtx { stanza: Element; from: Jid; to: Jid; sessions: Session[] }
export interface S2sPacketCtx { from: Jid; to: Jid; remote: string; local: string; auth: 'EXTERNAL' | 'dialback' }

export interface StanzaHooks {
  filter_packet: { kind: 'filter'; drop: true; value: Element; ctx: StanzaCtx };
  user_send_packet: { kind: 'filter'; drop: true; value: Element; ctx: UserPacketCtx };
  user_receive_packet: { kind: 'filter'; drop: true; value: Element; ctx: UserPacketCtx };
  offline_message: { kind: 'filter'; drop: false; value: { handled: boolean; stored?: boolean }; ctx: { stanza: Element; from: Jid; to: Jid; accepted?: boolean } };
  message_accepted: { kind: 'filter'; drop: false; value: Element; ctx: MessageAcceptedCtx };
  message_delivered: { kind: 'notify'; ctx: MessageDeliveredCtx };
  s2s_receive_packet: { kind: 'filter'; drop: true; value: Element; ctx: S2sPacketCtx };
}

export const STANZA_HOOKS: Record<keyof StanzaHooks, HookSpec> = {
  filter_packet: {
    kind: 'filter', host: "the recipient's if local, else the sender's; a stanza between two local hosts runs the sender's host, then the recipient's", drop: true, value: 'Element', ctx: '{ from: Jid; to: Jid; session?: Session }',
    doc: 'Every stanza the router sees, before the local/remote split. Replace the stanza, or DROP it.',
  },
  user_send_packet: {
    kind: 'filter', host: "the sender's (the session's)", drop: true, value: 'Element', ctx: '{ session: Session; from: Jid; to: Jid }',
    doc: 'A stanza a local client sent, after its from was stamped and before routing.',
  },
  user_receive_packet: {
    kind: 'filter', host: "the recipient's (the session's)", drop: true, value: 'Element', ctx: '{ session: Session; from: Jid; to: Jid }',
    doc: 'A stanza about to be written to a local client session.',
  },
  offline_message: {
    kind: 'filter', host: "the recipient's", drop: false, value: '{ handled: boolean; stored?: boolean }', ctx: '{ stanza: Element; from: Jid; to: Jid; accepted?: boolean }',
    doc: 'A message for a local account with no session that can take it; set handled to keep it from bouncing, and stored (true or false) to say whether it was kept for the account (false: discarded, refused as the queue is full, or not written). accepted: message_accepted already ran for it (a message written to a session that never acknowledged it, XEP-0198): store it as it is.',
  },
  message_accepted: {
    kind: 'filter', host: "the recipient's", drop: false, value: 'Element', ctx: "{ from: Jid; to: Jid; via: 'session' | 'offline' }",
    doc: 'A message for a local account the server has taken on: run once, after every check that could bounce it, just before it is written to the recipient\'s sessions (router) or stored for later (the offline store, once it has room). The returned stanza is what the recipient gets, e.g. with an archive id stamped on it.',
  },
  message_delivered: {
    kind: 'notify', host: "the recipient's", drop: false, ctx: '{ stanza: Element; from: Jid; to: Jid; sessions: Session[] }',
    doc: 'A message for a local account was written to its sessions (RFC 6121 §8.5.2/§8.5.3 delivery; not when stored offline): `sessions` are all that got it, so copies (XEP-0280 carbons) skip them. Fired once per message, after delivery.',
  },
  s2s_receive_packet: {
    kind: 'filter', host: "the local host addressed (local)", drop: true, value: 'Element', ctx: "{ from: Jid; to: Jid; remote; local; auth: 'EXTERNAL' | 'dialback' }",
    doc: 'A stanza received from a peer server whose from/to passed the stream checks, before routing. Replace it, or DROP it.',
  },
};
