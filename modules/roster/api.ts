// The roster service other modules use (presence, last activity, blocking): RFC 6121 §2 items and
// their subscription states. Provided as ctx.provide('roster', api) by the roster module.
import type { Jid } from '../../src/sdk.js';

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  /** An outbound subscription request is pending (RFC 6121 §3.1.2 "ask"). */
  ask: boolean;
  /** The user pre-approved an inbound request (RFC 6121 §3.4). */
  approved: boolean;
  /** An inbound request is pending; the stored presence stanza is re-sent on login (RFC 6121 §3.1.3). */
  pendingIn: boolean;
}

export interface RosterApi {
  /** The item for `contact` in `owner`'s roster, if any (both bare JIDs). */
  get(owner: Jid, contact: Jid): Promise<RosterItem | undefined>;
  /** All items of `owner`'s roster. */
  items(owner: Jid): Promise<RosterItem[]>;
  /** True when `contact` may see `owner`'s presence (subscription from or both). */
  isSubscribedTo(owner: Jid, contact: Jid): Promise<boolean>;
}
