// XEP-0352 §3.2 leaves "what can wait" to the server: this is xmppd's rule, modelled on Prosody's
// mod_csi_simple and ejabberd's mod_client_state. See index.ts for the rule in words.
import type { Element } from '../../src/sdk.js';

const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

/** Payload namespaces that make a body-less message urgent: encryption, call setup, invitations. */
export const URGENT_NAMESPACES: ReadonlySet<string> = new Set([
  'eu.siacs.conversations.axolotl', // OMEMO (legacy), XEP-0384 0.3
  'urn:xmpp:omemo:2', // OMEMO, XEP-0384 0.8
  'jabber:x:encrypted', // XEP-0027 OpenPGP
  'urn:xmpp:openpgp:0', // XEP-0373 OpenPGP for XMPP
  'urn:xmpp:eme:0', // XEP-0380 explicit encryption: an encrypted payload whose content cannot be judged
  'urn:xmpp:jingle-message:0', // XEP-0353 call propose/retract/accept: a phone must ring (or stop ringing) now
  'urn:xmpp:jingle-message:1',
  'jabber:x:conference', // XEP-0249 direct MUC invitation
]);

/** What the hold does with a stanza for an inactive session. */
export type Verdict =
  | { urgent: true }
  /** Hold it; a later stanza with the same `replaces` key makes it obsolete (presence coalescing). */
  | { urgent: false; replaces?: string };

const URGENT: Verdict = { urgent: true };
const HOLD: Verdict = { urgent: false };

/** `extra`: the operator's urgent_payloads (namespaces), on top of URGENT_NAMESPACES. */
export function judge(el: Element, extra: ReadonlySet<string>): Verdict {
  switch (el.name) {
    case 'presence': {
      const type = el.attrs.type;
      // Availability updates: only the latest per sender full JID matters to a client that looks later.
      if (type === undefined || type === 'unavailable') return { urgent: false, replaces: String(el.attrs.from ?? '') };
      // Subscription requests and answers (a person waits on them) and errors (they answer the user's own
      // presence, a MUC join for instance) are passed on.
      return URGENT;
    }
    case 'message':
      return urgentMessage(el, extra, true) ? URGENT : HOLD;
    default:
      // IQs are never held: the other side would time out. Nothing else reaches a client's stream.
      return URGENT;
  }
}

function urgentMessage(el: Element, extra: ReadonlySet<string>, unwrap: boolean): boolean {
  if (el.attrs.type === 'error') return true; // a message of the user's that failed
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    const ns = c.getNS();
    if (c.name === 'body' || c.name === 'subject') {
      if (ns === 'jabber:client' || ns === undefined) return true; // subject: a MUC join's last step, a topic change
      continue;
    }
    if (ns === undefined) continue;
    if (URGENT_NAMESPACES.has(ns) || extra.has(ns)) return true;
    if (ns === NS_MUC_USER && c.name === 'x' && c.getChild('invite')) return true; // XEP-0045 mediated invitation
    // XEP-0280 copies are judged by the message they carry: a copy of a chat state waits, a copy of a text does not.
    if (unwrap && ns === NS_CARBONS && (c.name === 'sent' || c.name === 'received')) {
      const inner = c.getChild('forwarded', NS_FORWARD)?.getChild('message');
      if (inner && urgentMessage(inner, extra, false)) return true;
    }
  }
  // Chat states, receipts, markers, reactions, PEP events (headlines), empty messages: they can wait.
  return false;
}
