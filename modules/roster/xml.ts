// Roster items on the wire (RFC 6121 §2.1) and the validation of a roster set (§2.3.3, §2.5).
import { Jid, JidError, StanzaError, xml, type Element } from '../../src/sdk.js';
import type { RosterItem } from './api.js';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_ROSTERVER = 'urn:xmpp:features:rosterver'; // XEP-0237 / RFC 6121 §2.6.1

/** An item as the client sees it: 'ask' and 'approved' only when set (§2.1.2.1, §2.1.2.2). */
export function itemElement(item: RosterItem): Element {
  const attrs: Record<string, string> = { jid: item.jid };
  if (item.name) attrs.name = item.name;
  attrs.subscription = item.subscription;
  if (item.ask) attrs.ask = 'subscribe';
  if (item.approved) attrs.approved = 'true';
  return xml('item', attrs, ...item.groups.map((g) => xml('group', {}, g)));
}

export function removedElement(jid: string): Element {
  return xml('item', { jid, subscription: 'remove' });
}

export function queryElement(ver: string | undefined, items: Element[]): Element {
  return xml('query', ver === undefined ? { xmlns: NS_ROSTER } : { xmlns: NS_ROSTER, ver }, ...items);
}

export interface RosterSet {
  contact: Jid;
  remove: boolean;
  name?: string;
  groups: string[];
}

export interface ItemLimits { maxNameLength: number; maxGroupLength: number }

const length = (s: string) => [...s].length;

/** Parse and check a roster set payload; throws the StanzaError RFC 6121 §2.3.3 names. */
export function parseRosterSet(query: Element, limits: ItemLimits): RosterSet {
  const items = query.getChildElements().filter((c) => c.name === 'item');
  if (items.length !== 1) throw new StanzaError('bad-request', 'a roster set carries exactly one item');
  const item = items[0]!;
  const raw = item.attrs.jid as string | undefined;
  if (!raw) throw new StanzaError('bad-request', "the item has no 'jid'");
  let contact: Jid;
  try {
    contact = Jid.parse(raw);
  } catch (err) {
    if (err instanceof JidError) throw new StanzaError('jid-malformed', `"${raw}" is not a valid JID`);
    throw err;
  }
  if (!contact.isBare()) throw new StanzaError('bad-request', 'roster items are bare JIDs');
  // §2.1.2.5: in a roster set every 'subscription' value other than "remove" is ignored (so are
  // 'ask' and 'approved': subscriptions change only through presence, §3).
  if (item.attrs.subscription === 'remove') return { contact, remove: true, groups: [] };
  const name = (item.attrs.name as string | undefined) || undefined;
  if (name !== undefined && length(name) > limits.maxNameLength) {
    throw new StanzaError('not-acceptable', `the name is longer than ${limits.maxNameLength} characters`);
  }
  const groups: string[] = [];
  for (const g of item.getChildElements().filter((c) => c.name === 'group')) {
    const text = g.getText();
    if (text === '') throw new StanzaError('not-acceptable', 'a group name is empty');
    if (length(text) > limits.maxGroupLength) throw new StanzaError('not-acceptable', `a group name is longer than ${limits.maxGroupLength} characters`);
    if (groups.includes(text)) throw new StanzaError('bad-request', `the group "${text}" is listed twice`);
    groups.push(text);
  }
  return { contact, remove: false, name, groups };
}
