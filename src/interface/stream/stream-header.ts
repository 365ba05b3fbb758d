// The one stream-header path of every stream kind: opening and closing tags (RFC 6120 §4.2, §4.4, §4.7;
// XEP-0114 §3 for components, which have no version), the checks on a peer's header (§4.8.1 invalid-namespace,
// §4.7.5 unsupported-version) and the features element (§4.3.2).
import xml, { escapeXML } from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { StreamError } from '../../core/errors.js';
import { NS } from '../../core/ns.js';
import { randomString } from '../../core/random-pool.js';

export interface HeaderAttrs {
  /** The content namespace (jabber:client, jabber:server, jabber:component:accept). */
  contentNs: string;
  id?: string;
  from?: string;
  to?: string;
  /** false: a pre-RFC 3920 stream without version and features (XEP-0114 components). */
  version?: boolean;
  /** More namespace declarations, e.g. { db: 'jabber:server:dialback' } (XEP-0220 §2.1.1). */
  prefixes?: Record<string, string>;
}

export function openingTag(h: HeaderAttrs): string {
  let s = `<?xml version='1.0'?><stream:stream xmlns='${h.contentNs}' xmlns:stream='${NS.STREAM}'`;
  if (h.prefixes) for (const [p, ns] of Object.entries(h.prefixes)) s += ` xmlns:${p}='${ns}'`;
  if (h.id) s += ` id='${h.id}'`;
  if (h.from) s += ` from='${escapeXML(h.from)}'`;
  if (h.to) s += ` to='${escapeXML(h.to)}'`;
  return h.version === false ? `${s}>` : `${s} version='1.0' xml:lang='en'>`;
}

export const CLOSING_TAG = '</stream:stream>';

/** A fresh stream ID (RFC 6120 §4.7.3: unique and unpredictable; XEP-0114 and dialback keys depend on it). */
export const newStreamId = (): string => randomString(12, 'base64url');

/**
 * The checks every stream makes on the peer's header, in the order of RFC 6120 §4.9.1.2's examples:
 * the content namespace, then (unless `version` is false) XMPP 1.0 or later. null when it is acceptable.
 */
export function checkHeader(attrs: Record<string, string>, contentNs: string, version = true): StreamError | null {
  if (attrs.xmlns !== contentNs) return new StreamError('invalid-namespace', `the content namespace must be ${contentNs}`);
  if (!version) return null;
  const major = Number((attrs.version ?? '0.9').split('.')[0]);
  if (!(major >= 1)) return new StreamError('unsupported-version', 'this server speaks XMPP 1.0 only');
  return null;
}

export function featuresElement(children: Element[]): Element {
  return xml('stream:features', {}, ...children);
}
