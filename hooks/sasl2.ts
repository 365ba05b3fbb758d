// SASL2 inline-feature hooks (XEP-0388 §2.1 <inline/>, XEP-0386 Bind2 inline features): modules offer what a
// client can enable while binding (carbons, CSI, stream management) and answer it for the new session.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../src/core/jid.js';
import type { Session, UnboundStream } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

/** What a sasl2_inline handler may decide for the whole login (XEP-0198 resumption inside SASL2). */
export interface Sasl2Outcome {
  /** Set to the full JID of a session this stream resumed: no Bind2, the JID is the authorization identifier,
   *  and the stream is the module's from now on (it sends what the resumed session owes after <success/>). */
  resumed: string | null;
}

export interface Sasl2Hooks {
  sasl2_features: { kind: 'filter'; drop: false; value: Element[]; ctx: { host: string } };
  sasl2_inline: { kind: 'filter'; drop: false; value: Element[]; ctx: { host: string; user: Jid; stream: UnboundStream; element: Element; outcome: Sasl2Outcome } };
  bind2_features: { kind: 'filter'; drop: false; value: string[]; ctx: { host: string } };
  bind2_inline: { kind: 'filter'; drop: false; value: Element[]; ctx: { session: Session; element: Element } };
}

export const SASL2_HOOKS: Record<keyof Sasl2Hooks, HookSpec> = {
  sasl2_features: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'Element[] (children of <inline/>)', ctx: '{ host }',
    doc: "Elements offered in SASL2's <authentication><inline/> (XEP-0388 §2.1) beside Bind2 and FAST, such as XEP-0198's <sm xmlns='urn:xmpp:sm:3'/>.",
  },
  sasl2_inline: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'Element[] (children of <success/>)', ctx: '{ host; user: Jid (bare); stream: UnboundStream (authenticated, not bound: account, writeNonza, takeOver); element; outcome: { resumed } }',
    doc: "Once per child of <authenticate/> the core does not handle (not <initial-response/>, <user-agent/>, Bind2 or FAST), after the credentials were proven and before Bind2: the module of element's namespace acts on it (XEP-0198 <resume/>) and may append its answer (<resumed/>, <failed/>) to <success/>. Setting ctx.outcome.resumed to a full JID skips Bind2 and hands the stream to the module (after stream.takeOver(session)); what the session owes goes out after <success/>, so write it from a later turn (setImmediate).",
  },
  bind2_features: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'string[] (feature namespaces)', ctx: '{ host }',
    doc: "The namespaces listed in SASL2's <inline><bind xmlns='urn:xmpp:bind:0'><inline><feature var/> (XEP-0386 §2); append the ones your module can enable inline.",
  },
  bind2_inline: {
    kind: 'filter', host: "the session's", drop: false, value: 'Element[] (children of <bound/>)', ctx: '{ session: Session; element: Element }',
    doc: 'Once per child of a Bind2 <bind/> request other than <tag/>, after the resource is bound and before <success/> is sent or any stanza routed to the session: the module of element\'s namespace enables it for ctx.session and may append its answer (such as <enabled/>) to the <bound/> element.',
  },
};
