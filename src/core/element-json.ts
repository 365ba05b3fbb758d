// Elements as plain JSON for the data layer (rows are JSON values): name, attributes and children,
// a child being a text string or another element. Also a deep copy built on the same walk.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';

export interface ElementJson { n: string; a: Record<string, string>; c: Array<string | ElementJson> }

export function elementToJson(el: Element): ElementJson {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(el.attrs)) if (v !== undefined && v !== null) a[k] = String(v);
  return { n: el.name, a, c: el.children.map((c) => (typeof c === 'string' ? c : elementToJson(c))) };
}

export function elementFromJson(j: ElementJson): Element {
  return xml(j.n, { ...j.a }, ...j.c.map((c) => (typeof c === 'string' ? c : elementFromJson(c))));
}

/** A deep copy, detached from any parent (safe to modify and to route). */
export function cloneElement(el: Element): Element {
  return elementFromJson(elementToJson(el));
}
