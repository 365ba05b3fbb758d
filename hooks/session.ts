// c2s session hooks (RFC 6120 §4.3 stream features, §7 resource binding).
import type { Element } from '@xmpp/xml';
import type { Session, UnboundStream } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

export type FeatureStage = 'pre-tls' | 'pre-auth' | 'post-auth';
export interface StreamFeaturesCtx { host: string; stage: FeatureStage; secure: boolean; ip: string; session?: Session }

export interface SessionHooks {
  c2s_stream_features: { kind: 'filter'; drop: false; value: Element[]; ctx: StreamFeaturesCtx };
  session_opened: { kind: 'notify'; ctx: { session: Session } };
  session_closed: { kind: 'notify'; ctx: { session: Session; reason: string; movedTo?: string } };
  session_resumed: { kind: 'notify'; ctx: { session: Session } };
  c2s_unauthenticated_iq: { kind: 'filter'; drop: false; value: Element | null; ctx: { host: string; ip: string; secure: boolean; iq: Element } };
  c2s_nonza: { kind: 'filter'; drop: false; value: boolean; ctx: { session: Session; element: Element } };
  c2s_unbound_nonza: { kind: 'filter'; drop: false; value: boolean; ctx: { stream: UnboundStream; element: Element } };
}

export const SESSION_HOOKS: Record<keyof SessionHooks, HookSpec> = {
  c2s_stream_features: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'Element[]', ctx: '{ host; stage: pre-tls | pre-auth | post-auth; secure; ip; session? }',
    doc: 'The children of <stream:features/> offered at each stage; add or remove features.',
  },
  session_opened: { kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session }', doc: 'A resource was bound.' },
  session_closed: {
    kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session; reason: string; movedTo?: string }',
    doc: 'A bound session ended (any cause). movedTo: it goes on on that cluster node (XEP-0198 resumption there): no end-of-session presence.',
  },
  session_resumed: {
    kind: 'notify', host: "the session's", drop: false, ctx: '{ session: Session }',
    doc: 'A detached session was taken over by a new stream (XEP-0198 resumption), after its unacknowledged stanzas were sent again.',
  },
  c2s_unauthenticated_iq: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'Element | null', ctx: '{ host; ip; secure; iq: Element }',
    doc: 'An IQ on a stream that has not authenticated (XEP-0077 registration); return the reply element, or leave null (not-authorized).',
  },
  c2s_nonza: {
    kind: 'filter', host: "the session's", drop: false, value: 'boolean (handled)', ctx: '{ session: Session; element: Element }',
    doc: 'A top-level element of a bound session that is not a stanza (XEP-0198, XEP-0352); return true once handled, else the stream ends with unsupported-stanza-type.',
  },
  c2s_unbound_nonza: {
    kind: 'filter', host: "the stream's", drop: false, value: 'boolean (handled)', ctx: '{ stream: UnboundStream (account, host, writeNonza, takeOver); element: Element }',
    doc: 'A nonza on an authenticated stream before resource binding (XEP-0198 <resume/>); return true once handled. stream.takeOver(session) carries an existing session on this stream instead of a new binding.',
  },
};
