// Which messages go to offline storage: XEP-0160 §3 (by type), XEP-0085 (standalone chat states are
// not stored) and XEP-0334 message processing hints (<no-store/>, <store/>).
import type { Element } from '../../src/sdk.js';

export const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
export const NS_HINTS = 'urn:xmpp:hints';
const NS_SID = 'urn:xmpp:sid:0'; // XEP-0359 origin-id: an id, not content

/**
 * store: keep it for later delivery. discard: nothing worth keeping (a standalone chat state, an empty
 * message): drop it without an error, so a typing notification to an offline contact doesn't come back
 * as a failure. refuse: not stored; the sender gets the RFC 6121 §8.5.2.2.1 service-unavailable.
 */
export type Decision = 'store' | 'discard' | 'refuse';

export function storageDecision(stanza: Element): Decision {
  // XEP-0160 §3: normal and chat are stored, groupchat, headline and error are not (the router bounces
  // or drops those before offline_message anyway). An unknown type counts as normal (RFC 6121 §5.2.2).
  const type = stanza.attrs.type;
  if (type === 'groupchat' || type === 'headline' || type === 'error') return 'refuse';
  const children = stanza.getChildElements();
  const hint = (name: string) => children.some((c) => c.getName() === name && c.getNS() === NS_HINTS);
  if (hint('no-store')) return 'refuse'; // XEP-0334 §4.3: not even temporarily
  if (hint('store')) return 'store'; // XEP-0334 §4.4
  return children.some(isContent) ? 'store' : 'discard';
}

/** Anything but chat states, hints, the thread and origin-id counts as content (body, receipts, forms...). */
function isContent(c: Element): boolean {
  const ns = c.getNS();
  if (ns === NS_CHATSTATES || ns === NS_HINTS || ns === NS_SID) return false;
  return c.getName() !== 'thread';
}
