// Structural stanza assertions for tests: parse serialized XML (ltx) and compare it with an expected shape,
// with namespaces resolved through xmlns/prefix declarations (XML Namespaces §6), so attribute order,
// quote style and prefixes do not matter. Failures list every mismatch with its path, then the stanza.
import assert from 'node:assert/strict';
import type { Element } from '@xmpp/xml';
import { parse } from 'ltx';

/** What a stanza (or one of its children) must look like. Omitted fields are not checked. */
export interface StanzaShape {
  /** Local name (without any prefix). */
  name: string;
  /** Namespace, resolved through xmlns / xmlns:prefix declarations and the inherited default. */
  ns?: string;
  /** A subset of the attributes (xmlns declarations excluded): exact string, pattern, or null for "absent". */
  attrs?: Record<string, string | RegExp | null>;
  /** The element's own text (all its direct text nodes joined): exact string or pattern. */
  text?: string | RegExp;
  /** Every child element, in this order (no others). */
  children?: StanzaShape[];
  /** Child elements that must each match a distinct child, in any order (others allowed). */
  has?: StanzaShape[];
  /** Child elements that must not be present. */
  without?: StanzaShape[];
}

export interface MatchOptions {
  /** The namespace in scope where the stanza was cut from its stream (default jabber:client). */
  ns?: string;
  /** What is being checked, to begin a failure message with (assertStanza). */
  what?: string;
}

const DEFAULT_NS = 'jabber:client';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** An IQ result (RFC 6120 §8.2.3); with `child`, that is its only child. */
export const iqResult = (child?: StanzaShape): StanzaShape => ({ name: 'iq', attrs: { type: 'result' }, ...(child ? { children: [child] } : {}) });

/** An error stanza (an IQ unless `name` says otherwise) with a defined condition (RFC 6120 §8.3.3). */
export const stanzaError = (condition: string, name = 'iq', errorType?: string): StanzaShape => ({
  name, attrs: { type: 'error' }, has: [{ name: 'error', ...(errorType ? { attrs: { type: errorType } } : {}), has: [{ name: condition, ns: NS_STANZAS }] }],
});

/** A disco#info result (XEP-0030) that lists `feature`. */
export const discoFeature = (feature: string): StanzaShape =>
  iqResult({ name: 'query', ns: 'http://jabber.org/protocol/disco#info', has: [{ name: 'feature', attrs: { var: feature } }] });

/** A parsed element with its namespace resolved. */
interface Resolved { el: Element; local: string; ns: string | undefined; scope: Map<string, string> }

function resolve(el: Element, parent: Map<string, string>): Resolved {
  let scope = parent;
  for (const [k, v] of Object.entries(el.attrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      if (scope === parent) scope = new Map(parent);
      scope.set(k === 'xmlns' ? '' : k.slice(6), String(v));
    }
  }
  const i = el.name.indexOf(':');
  const prefix = i < 0 ? '' : el.name.slice(0, i);
  return { el, local: i < 0 ? el.name : el.name.slice(i + 1), ns: scope.get(prefix), scope };
}

function childElements(r: Resolved): Resolved[] {
  return r.el.children.filter((c): c is Element => typeof c !== 'string').map((c) => resolve(c, r.scope));
}

function ownText(el: Element): string {
  return el.children.filter((c): c is string => typeof c === 'string').join('');
}

function show(v: string | RegExp | null | undefined): string {
  return v instanceof RegExp ? String(v) : JSON.stringify(v);
}

function label(s: StanzaShape): string {
  return s.ns ? `<${s.name} xmlns=${JSON.stringify(s.ns)}>` : `<${s.name}>`;
}

/** Mismatches between `r` and `shape`, each prefixed with its path. Empty when it matches. */
function compare(r: Resolved, shape: StanzaShape, path: string): string[] {
  const out: string[] = [];
  if (r.local !== shape.name) out.push(`${path}: name is ${JSON.stringify(r.local)}, expected ${JSON.stringify(shape.name)}`);
  if (shape.ns !== undefined && r.ns !== shape.ns) out.push(`${path}: namespace is ${show(r.ns)}, expected ${show(shape.ns)}`);
  for (const [k, want] of Object.entries(shape.attrs ?? {})) {
    const got = r.el.attrs[k] as string | undefined;
    if (want === null) {
      if (got !== undefined) out.push(`${path}@${k}: is ${show(got)}, expected absent`);
    } else if (got === undefined) {
      out.push(`${path}@${k}: missing, expected ${show(want)}`);
    } else if (want instanceof RegExp ? !want.test(got) : got !== want) {
      out.push(`${path}@${k}: is ${show(got)}, expected ${show(want)}`);
    }
  }
  if (shape.text !== undefined) {
    const got = ownText(r.el);
    if (shape.text instanceof RegExp ? !shape.text.test(got) : got !== shape.text) out.push(`${path} text: is ${show(got)}, expected ${show(shape.text)}`);
  }
  const kids = shape.children || shape.has || shape.without ? childElements(r) : [];
  if (shape.children) {
    const n = Math.max(kids.length, shape.children.length);
    for (let i = 0; i < n; i++) {
      const k = kids[i];
      const s = shape.children[i];
      const p = `${path}/${s?.name ?? k?.local}[${i}]`;
      if (!k) out.push(`${p}: missing child ${label(s!)}`);
      else if (!s) out.push(`${p}: unexpected child <${k.local}>`);
      else out.push(...compare(k, s, p));
    }
  }
  if (shape.has) {
    const used = new Set<number>();
    for (const s of shape.has) {
      const i = kids.findIndex((k, j) => !used.has(j) && compare(k, s, '').length === 0);
      if (i >= 0) {
        used.add(i);
        continue;
      }
      // Explain against the closest candidate: the first unused child with the same name, if any.
      const near = kids.findIndex((k, j) => !used.has(j) && k.local === s.name);
      if (near < 0) out.push(`${path}: no child matches ${label(s)}`);
      else out.push(...compare(kids[near]!, s, `${path}/${s.name}`).map((m) => `${m} (no child matches ${label(s)})`));
    }
  }
  for (const s of shape.without ?? []) {
    if (kids.some((k) => compare(k, s, '').length === 0)) out.push(`${path}: has a child ${label(s)}, expected none`);
  }
  return out;
}

/** Parse one serialized stanza (exactly one element). */
export function parseStanza(xmlText: string): Element {
  const el = parse(xmlText) as Element;
  if (!el || typeof el !== 'object' || !('name' in el)) throw new Error(`not an XML element: ${xmlText.slice(0, 200)}`);
  return el;
}

/** Parse a run of complete stanzas as they arrived back to back (such as what came before a ping answer). */
export function parseStanzas(xmlText: string): Element[] {
  const wrapper = parse(`<stanzas xmlns:stream='http://etherx.jabber.org/streams'>${xmlText}</stanzas>`) as Element;
  return wrapper.children.filter((c): c is Element => typeof c !== 'string');
}

/** Assert that none of the stanzas in `xmlText` matches `shape` (for "nothing of that kind arrived"). */
export function assertNoStanza(xmlText: string, shape: StanzaShape, message?: string): void {
  const hits = parseStanzas(xmlText).filter((el) => matchesStanza(el, shape));
  if (hits.length) assert.fail(`${message ? `${message}: ` : ''}expected no ${label(shape)} matching ${JSON.stringify(shape)}, got: ${hits.join('')}`);
}

/** Assert that at least one of the stanzas in `xmlText` matches `shape`; returns the first that does. */
export function assertSomeStanza(xmlText: string, shape: StanzaShape, message?: string): Element {
  const all = parseStanzas(xmlText);
  const hit = all.find((el) => matchesStanza(el, shape));
  if (!hit) assert.fail(`${message ? `${message}: ` : ''}no stanza matches ${JSON.stringify(shape)}; got: ${all.join('') || '(nothing)'}`);
  return hit;
}

/** The mismatches between a stanza and a shape (an empty array when it matches). */
export function stanzaMismatches(actual: string | Element, shape: StanzaShape, opts: MatchOptions = {}): string[] {
  const el = typeof actual === 'string' ? parseStanza(actual) : actual;
  const scope = new Map([['', opts.ns ?? DEFAULT_NS], ['xml', 'http://www.w3.org/XML/1998/namespace']]);
  return compare(resolve(el, scope), shape, shape.name);
}

/** Whether a stanza matches a shape. */
export function matchesStanza(actual: string | Element, shape: StanzaShape, opts: MatchOptions = {}): boolean {
  return stanzaMismatches(actual, shape, opts).length === 0;
}

/** Assert that a stanza matches a shape; the failure lists each mismatch and shows the stanza. */
export function assertStanza(actual: string | Element, shape: StanzaShape, opts: MatchOptions = {}): Element {
  const el = typeof actual === 'string' ? parseStanza(actual) : actual;
  const miss = stanzaMismatches(el, shape, opts);
  if (miss.length) {
    throw new assert.AssertionError({
      message: `${opts.what ? `${opts.what}: ` : ''}stanza does not match the expected shape:\n  - ${miss.join('\n  - ')}\nactual: ${el.toString()}`,
      actual: el.toString(),
      expected: shape,
      operator: 'assertStanza',
      stackStartFn: assertStanza,
    });
  }
  return el;
}
