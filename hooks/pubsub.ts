// Personal eventing hooks (XEP-0115 / XEP-0163): what the caps and pep modules tell other modules.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../src/core/jid.js';
import type { HookSpec } from './spec.js';

export interface PubsubHooks {
  caps_updated: { kind: 'notify'; ctx: { jid: Jid; features: ReadonlySet<string> } };
  pep_item_published: { kind: 'notify'; ctx: { owner: Jid; node: string; itemId: string; payload: Element | null; publisher: Jid } };
}

export const PUBSUB_HOOKS: Record<keyof PubsubHooks, HookSpec> = {
  caps_updated: {
    kind: 'notify', host: "the client's account host", drop: false, ctx: '{ jid: Jid (full); features: ReadonlySet<string> }',
    doc: "A local client's capabilities became known or changed (verified XEP-0115/XEP-0390 hash, from its presence or the cache): e.g. PEP sends it the last items it now asks for.",
  },
  pep_item_published: {
    kind: 'notify', host: "the node owner's", drop: false, ctx: '{ owner: Jid (bare); node; itemId; payload: Element | null; publisher: Jid }',
    doc: "An item was published to (payload set) or retracted from (payload null) an account's PEP node, after it was stored: e.g. bookmarks and avatars keep their other views in step.",
  },
};
