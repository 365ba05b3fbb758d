// The contract of the 'roster' service (RFC 6121 §2 items and their subscription states), provided per
// host by the roster module and used by presence, last activity, blocking and XEP-0227 import. The core
// owns the contract, as it owns the hook catalogue, so that neither side imports the other's code.
import type { ElementJson } from '../element-json.js';
import type { Jid } from '../jid.js';
import { serviceKey } from './service-key.js';

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
  /**
   * The item only records an inbound request from someone the user never added ("None + Pending In",
   * RFC 6121 Appendix A.1): it is not part of the roster the user sees and is never pushed.
   */
  hidden?: boolean;
  /** The inbound subscribe stanza to re-deliver while pendingIn is set (survives a restart). */
  pendingStanza?: ElementJson;
}

/**
 * A compare-and-set step: given the current item (undefined if none), return the new item, null to
 * delete it, or undefined to leave it as it is. It may run more than once (retries): keep it pure.
 */
export type RosterMutator = (current: RosterItem | undefined) => RosterItem | null | undefined;

export interface RosterChange {
  before?: RosterItem;
  after?: RosterItem;
  /** False when the mutator left the item alone. */
  changed: boolean;
  /** The roster version after the change (XEP-0237). */
  ver: string;
}

export interface RosterApi {
  /** The item for `contact` in `owner`'s roster, if any (both bare JIDs), hidden ones included. */
  get(owner: Jid, contact: Jid): Promise<RosterItem | undefined>;
  /** All items of `owner`'s roster; hidden "pending in" records only when asked for. */
  items(owner: Jid, opts?: { includeHidden?: boolean }): Promise<RosterItem[]>;
  /** True when `contact` may see `owner`'s presence (subscription from or both). */
  isSubscribedTo(owner: Jid, contact: Jid): Promise<boolean>;
  /**
   * Change one item atomically (compare-and-set on the item and the roster version, retried on a
   * concurrent change) and push it to `owner`'s interested resources (RFC 6121 §2.1.6). Throws
   * StanzaError resource-constraint when a new item would exceed the configured roster size.
   */
  update(owner: Jid, contact: Jid, fn: RosterMutator): Promise<RosterChange>;
}

/** The roster service's key: `ctx.service(ROSTER_SERVICE)` is a RosterApi (or undefined while it is not loaded). */
export const ROSTER_SERVICE = serviceKey<RosterApi>('roster');
