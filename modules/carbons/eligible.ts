// XEP-0280 §6 "Messages Eligible for Carbons Delivery", with the XEP-0280 §9 <private/> element and the
// XEP-0334 <no-copy/> hint that keep a single message from being copied.
import type { Element } from '../../src/sdk.js';

export const NS_CARBONS = 'urn:xmpp:carbons:2';
export const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_HINTS = 'urn:xmpp:hints';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
/** Payloads of body-less IM messages of type normal (§6: "follow the general intent"): receipts, markers, chat states. */
const IM_PAYLOADS = new Set(['urn:xmpp:receipts', 'urn:xmpp:chat-markers:0', 'http://jabber.org/protocol/chatstates']);

/**
 * §6: chat messages, and normal ones with a body (or an IM payload such as a receipt); never groupchat,
 * headline or error (errors would need correlation with what they answer), never a message from or to a
 * MUC occupant (muc#user <x/>: MUC private messages), and never a carbon copy itself (no loops).
 */
export function eligible(el: Element): boolean {
  if (el.name !== 'message') return false;
  const type = el.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return false;
  let im = type === 'chat';
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    const ns = c.attrs.xmlns;
    if (ns === NS_CARBONS && (c.name === 'sent' || c.name === 'received' || c.name === 'private')) return false;
    if (ns === NS_HINTS && c.name === 'no-copy') return false;
    if (ns === NS_MUC_USER && c.name === 'x') return false;
    if (!im && (c.name === 'body' || IM_PAYLOADS.has(ns))) im = true;
  }
  return im;
}
