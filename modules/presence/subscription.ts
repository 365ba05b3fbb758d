// The subscription state machine of RFC 6121 §3 and Appendix A as pure functions: given the current
// roster item, what the item becomes and what the server does (route, deliver, auto-reply, presence).
import type { ElementJson, RosterItem, Subscription } from '../../src/sdk.js';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
export const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

export const hasTo = (s: Subscription) => s === 'to' || s === 'both';
export const hasFrom = (s: Subscription) => s === 'from' || s === 'both';
const addTo = (s: Subscription): Subscription => (s === 'none' ? 'to' : s === 'from' ? 'both' : s);
const removeTo = (s: Subscription): Subscription => (s === 'to' ? 'none' : s === 'both' ? 'from' : s);
const addFrom = (s: Subscription): Subscription => (s === 'none' ? 'from' : s === 'to' ? 'both' : s);
const removeFrom = (s: Subscription): Subscription => (s === 'from' ? 'none' : s === 'both' ? 'to' : s);

export function freshItem(jid: string): RosterItem {
  return { jid, groups: [], subscription: 'none', ask: false, approved: false, pendingIn: false };
}

/** A record kept only for an inbound request goes away once nothing is pending any more. */
function settle(item: RosterItem): RosterItem | null {
  const empty = item.subscription === 'none' && !item.ask && !item.pendingIn && !item.approved;
  return item.hidden && empty ? null : item;
}

/** The roster item's new value for RosterApi.update: an item, null (delete) or undefined (unchanged). */
type Next = RosterItem | null | undefined;

export interface OutboundPlan {
  item: Next;
  /** Route the stanza to the contact. */
  route: boolean;
  /** Send the user's available presence to the contact (§3.1.5 after approving). */
  sendPresence?: boolean;
  /** Send unavailable presence to the contact (§3.2.2 after revoking). */
  sendUnavailable?: boolean;
}

/** The user sends a subscription stanza to the contact (Appendix A.2; §3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4.2). */
export function outbound(type: SubscriptionType, cur: RosterItem | undefined, jid: string): OutboundPlan {
  switch (type) {
    case 'subscribe': {
      // None -> None+PendingOut, From -> From+PendingOut; the request is routed in every state so a
      // contact whose server lost track can answer again.
      const item = { ...(cur ?? freshItem(jid)), hidden: false };
      if (!hasTo(item.subscription)) item.ask = true;
      return { item, route: true };
    }
    case 'unsubscribe':
      if (!cur) return { item: undefined, route: true };
      return { item: settle({ ...cur, subscription: removeTo(cur.subscription), ask: false }), route: true };
    case 'subscribed':
      if (cur?.pendingIn) {
        const item = { ...cur, subscription: addFrom(cur.subscription), pendingIn: false, approved: false, hidden: false };
        delete item.pendingStanza;
        return { item, route: true, sendPresence: true };
      }
      if (cur && hasFrom(cur.subscription)) return { item: undefined, route: false };
      // §3.4.2 pre-approval: noted on the item (created if need be), not routed.
      return { item: { ...(cur ?? freshItem(jid)), approved: true, hidden: false }, route: false };
    case 'unsubscribed': {
      if (!cur) return { item: undefined, route: true };
      const item = { ...cur, subscription: removeFrom(cur.subscription), pendingIn: false, approved: false };
      delete item.pendingStanza;
      return { item: settle(item), route: true, sendUnavailable: hasFrom(cur.subscription) };
    }
  }
}

export interface InboundPlan {
  item: Next;
  /** Deliver the stanza to the user's available resources. */
  deliver: boolean;
  /** Answer 'subscribed' on the user's behalf (§3.1.3 already subscribed, §3.4 pre-approved). */
  autoReply?: boolean;
  /** Send the user's available presence to the contact. */
  sendPresence?: boolean;
  /** Send unavailable presence to the contact (it no longer sees the user's presence). */
  sendUnavailable?: boolean;
}

/** The contact sends a subscription stanza to the user (Appendix A.3; §3.1.3, §3.1.6, §3.2.3, §3.3.3). */
export function inbound(type: SubscriptionType, cur: RosterItem | undefined, jid: string, stanza: ElementJson): InboundPlan {
  switch (type) {
    case 'subscribe':
      if (cur && hasFrom(cur.subscription)) return { item: undefined, deliver: false, autoReply: true, sendPresence: true };
      if (cur?.approved) {
        return { item: { ...cur, subscription: addFrom(cur.subscription), approved: false }, deliver: false, autoReply: true, sendPresence: true };
      }
      if (cur?.pendingIn) return { item: undefined, deliver: false };
      // Kept with the stanza so it reaches the user at the next login too (§3.1.3); a stranger's request
      // is a hidden record, not a roster item.
      return {
        item: cur ? { ...cur, pendingIn: true, pendingStanza: stanza } : { ...freshItem(jid), hidden: true, pendingIn: true, pendingStanza: stanza },
        deliver: true,
      };
    case 'subscribed':
      if (cur?.ask) return { item: { ...cur, ask: false, subscription: addTo(cur.subscription) }, deliver: true };
      return { item: undefined, deliver: false };
    case 'unsubscribe': {
      if (!cur || (!cur.pendingIn && !hasFrom(cur.subscription))) return { item: undefined, deliver: false };
      const item = { ...cur, subscription: removeFrom(cur.subscription), pendingIn: false };
      delete item.pendingStanza;
      return { item: settle(item), deliver: true, sendUnavailable: hasFrom(cur.subscription) };
    }
    case 'unsubscribed':
      if (!cur || (!cur.ask && !hasTo(cur.subscription))) return { item: undefined, deliver: false };
      return { item: settle({ ...cur, ask: false, subscription: removeTo(cur.subscription) }), deliver: true };
  }
}
