// SASL2 inline-feature hooks (XEP-0388 §2.1 <inline/>, XEP-0386 Bind2 inline features): modules offer what a
// client can enable while binding (carbons, CSI, stream management) and answer it for the new session.
import type { Element } from '@xmpp/xml';
import type { Session } from '../src/core/session.js';
import type { HookSpec } from './spec.js';

export interface Sasl2Hooks {
  bind2_features: { kind: 'filter'; drop: false; value: string[]; ctx: { host: string } };
  bind2_inline: { kind: 'filter'; drop: false; value: Element[]; ctx: { session: Session; element: Element } };
}

export const SASL2_HOOKS: Record<keyof Sasl2Hooks, HookSpec> = {
  bind2_features: {
    kind: 'filter', host: "the stream's (ctx.host)", drop: false, value: 'string[] (feature namespaces)', ctx: '{ host }',
    doc: "The namespaces listed in SASL2's <inline><bind xmlns='urn:xmpp:bind:0'><inline><feature var/> (XEP-0386 §2); append the ones your module can enable inline.",
  },
  bind2_inline: {
    kind: 'filter', host: "the session's", drop: false, value: 'Element[] (children of <bound/>)', ctx: '{ session: Session; element: Element }',
    doc: 'Once per child of a Bind2 <bind/> request other than <tag/>, after the resource is bound and before <success/> is sent or any stanza routed to the session: the module of element\'s namespace enables it for ctx.session and may append its answer (such as <enabled/>) to the <bound/> element.',
  },
};
