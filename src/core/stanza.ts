// Stanza helpers (RFC 6120 §8): kinds, replies and error bounces.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { parse } from 'ltx';
import { StanzaError } from './errors.js';

export type StanzaKind = 'message' | 'presence' | 'iq';

export function stanzaKind(el: Element): StanzaKind | null {
  const n = el.name;
  return n === 'message' || n === 'presence' || n === 'iq' ? n : null;
}

/** RFC 6120 §8.3.1: never answer an error with an error; IQ results are not answered either. */
export function mayAnswerWithError(el: Element): boolean {
  const type = el.attrs.type;
  if (type === 'error') return false;
  if (el.name === 'iq' && type === 'result') return false;
  return true;
}

/**
 * The error stanza answering `el` (RFC 6120 §8.3): same kind and id, to/from swapped, the original
 * payload kept (§8.3.1 allows it; clients correlate on it) and an <error/> child added.
 */
export function errorReply(el: Element, error: StanzaError, replyFrom?: string): Element {
  const attrs: Record<string, string> = { type: 'error' };
  if (el.attrs.id !== undefined) attrs.id = el.attrs.id;
  const from = replyFrom ?? el.attrs.to;
  if (from) attrs.from = from;
  if (el.attrs.from) attrs.to = el.attrs.from;
  const reply = xml(el.name, attrs);
  // An IQ error carries the request payload (one answer per request). For messages and presence the
  // payload is kept only while small: a burst of bounced large messages (a failed s2s stream with
  // megabytes unacknowledged) must not overflow the sender's own send queue and cost it its session.
  const children = el.children.filter((c): c is Element => typeof c !== 'string' && c.name !== 'error');
  if (el.name === 'iq' || payloadSize(children) <= MAX_BOUNCED_PAYLOAD) {
    for (const child of children) reply.cnode(cloneShallowTree(child));
  }
  reply.cnode(error.toElement());
  return reply;
}

/** Bytes of a message's or presence's payload an error bounce still carries (RFC 6120 §8.3.1: MAY). */
export const MAX_BOUNCED_PAYLOAD = 4096;

function payloadSize(children: Element[]): number {
  let n = 0;
  for (const c of children) {
    n += c.toString().length;
    if (n > MAX_BOUNCED_PAYLOAD) break;
  }
  return n;
}

/** The result answering an IQ get/set (RFC 6120 §8.2.3). */
export function iqResult(iq: Element, payload?: Element | null, replyFrom?: string): Element {
  const attrs: Record<string, string> = { type: 'result', id: iq.attrs.id };
  const from = replyFrom ?? iq.attrs.to;
  if (from) attrs.from = from;
  if (iq.attrs.from) attrs.to = iq.attrs.from;
  const reply = xml('iq', attrs);
  if (payload) reply.cnode(payload);
  return reply;
}

function cloneShallowTree(el: Element): Element {
  const copy = xml(el.name, { ...el.attrs });
  for (const c of el.children) copy.children.push(typeof c === 'string' ? c : cloneShallowTree(c));
  for (const c of copy.children) if (typeof c !== 'string') c.parent = copy;
  return copy;
}

export { StanzaError };

/**
 * Parse stored XML (e.g. an offline message) back into an element. Only for XML the server wrote
 * itself: input from the network goes through the stream parser and its limits.
 */
export function parseXml(text: string): Element {
  return parse(text) as Element;
}
