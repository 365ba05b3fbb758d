// An element as XML text (XML 1.0 §2.4 character data, §3.1 attribute values), the same text ltx's
// Element.toString() writes: built by concatenation, and strings with nothing to escape are kept as they are
// (ltx runs a replace with a callback per piece through a writer closure, which showed in per-stanza profiles).
import { Element } from '@xmpp/xml';

const ATTR_SPECIAL = /["&'<>]/;
const ATTR_SPECIAL_G = /["&'<>]/g;
const TEXT_SPECIAL = /[&<>]/;
const TEXT_SPECIAL_G = /[&<>]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const entity = (c: string): string => ENTITIES[c]!;

export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_SPECIAL_G, entity) : s;
}

export function escapeText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_SPECIAL_G, entity) : s;
}

/** ltx's own writer: an element that has it serializes as below. */
const ltxWrite = (Element.prototype as unknown as { write: unknown }).write;
const writerOf = (el: object): unknown => (el as { write?: unknown }).write;

/** `el` as XML text, identical to `el.toString()`. */
export function serialize(el: Element): string {
  if (writerOf(el) !== ltxWrite) return el.toString(); // an element class with its own writer
  let s = '<' + el.name;
  const attrs = el.attrs;
  for (const k in attrs) {
    const v = attrs[k];
    if (v != null) s += ' ' + k + '="' + escapeAttr(typeof v === 'string' ? v : (v as number).toString(10)) + '"';
  }
  const children = el.children;
  if (children.length === 0) return s + '/>';
  s += '>';
  for (const child of children) {
    if (child == null) continue;
    if (typeof child === 'string') s += escapeText(child);
    else if (typeof writerOf(child) === 'function') s += serialize(child as Element);
    else s += escapeText((child as { toString(radix?: number): string }).toString(10));
  }
  return s + '</' + el.name + '>';
}
