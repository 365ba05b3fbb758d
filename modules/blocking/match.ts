// XEP-0191 §6 JID matching, the XEP-0016 §2.1 order: full JID, bare JID, domain/resource, domain.
// Block list items are stored as canonical JID strings (RFC 7622 prepared), so a match is set lookups.
import type { Jid } from '../../src/sdk.js';

/** One account's block list: canonical JID strings. */
export type BlockList = ReadonlySet<string>;

/** The shared empty list; the filter's fast path compares against it by identity. */
export const EMPTY: BlockList = new Set<string>();

/** True when `peer` matches an item of `list` (XEP-0191 §6). */
export function isBlocked(list: BlockList, peer: Jid): boolean {
  if (list.size === 0) return false;
  // 1. user@domain/resource: only that resource (also covers a peer that is itself bare or a domain).
  if (list.has(peer.toString())) return true;
  if (peer.resource === '') {
    // A bare peer: only a bare item (done above) or its domain match; items naming a resource do not.
    return peer.local !== '' && list.has(peer.domain);
  }
  // 2. user@domain: any resource.
  if (peer.local !== '' && list.has(peer.bareString())) return true;
  // 3. domain/resource: only that resource.
  if (peer.local !== '' && list.has(`${peer.domain}/${peer.resource}`)) return true;
  // 4. domain: the domain itself, any user@domain and any domain/resource (no subdomains, XEP-0191 1.3).
  return list.has(peer.domain);
}

/**
 * The address that hears about blocking or unblocking `item` on behalf of the roster contact
 * `contact` (a bare JID), or null when the item does not cover that contact. An item naming a
 * resource concerns that resource only; bare and domain items concern the contact's bare JID.
 */
export function presenceTarget(item: Jid, contact: Jid): Jid | null {
  if (item.resource !== '') {
    if (item.local !== '') return item.bare().equals(contact) ? item : null;
    // domain/resource: that resource of a contact at the domain (or the domain itself, e.g. a gateway).
    if (contact.domain !== item.domain) return null;
    return contact.local === '' ? item : contact.withResource(item.resource);
  }
  if (item.local !== '') return item.equals(contact) ? contact : null;
  return contact.domain === item.domain ? contact : null;
}
