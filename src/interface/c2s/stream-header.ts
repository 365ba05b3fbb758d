// Opening and closing stream tags (RFC 6120 §4.2, §4.7) and the features element (§4.3.2).
import { escapeXML } from '@xmpp/xml';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { NS } from '../../core/ns.js';

export function openingTag(opts: { contentNs: string; id: string; from: string; to?: string }): string {
  const to = opts.to ? ` to='${escapeXML(opts.to)}'` : '';
  return (
    `<?xml version='1.0'?><stream:stream xmlns='${opts.contentNs}' xmlns:stream='${NS.STREAM}'` +
    ` id='${opts.id}' from='${escapeXML(opts.from)}'${to} version='1.0' xml:lang='en'>`
  );
}

export const CLOSING_TAG = '</stream:stream>';

export function featuresElement(children: Element[]): Element {
  return xml('stream:features', {}, ...children);
}
