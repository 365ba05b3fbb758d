// XEP-0227 (Portable Import/Export Format) vocabulary: namespaces, the hashed-credential element of §4
// (<scram-credentials xmlns='urn:xmpp:pie:0#scram'>), and what peers actually write (ejabberd 23.01 encodes
// the SCRAM values in base64 twice; older ejabberd used the pre-1.0 namespace).
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { SCRAM_HASH_INFO, type ScramCredential, type ScramHash } from '../sasl/scram-credentials.js';

export const NS_PIE = 'urn:xmpp:pie:0';
export const NS_PIE_SCRAM = 'urn:xmpp:pie:0#scram';
/** The namespace of XEP-0227 before 1.0, still in files of old ejabberd versions. */
export const NS_PIE_OLD = 'http://www.xmpp.org/extensions/xep-0227.html#ns';
export const NS_XINCLUDE = 'http://www.w3.org/2001/XInclude';
export const NS_ROSTER = 'jabber:iq:roster';
export const NS_PRIVATE = 'jabber:iq:private';
export const NS_VCARD = 'vcard-temp';
export const NS_CLIENT = 'jabber:client';

const MECHANISM: Record<ScramHash, string> = { 'SHA-1': 'SCRAM-SHA-1', 'SHA-256': 'SCRAM-SHA-256' };

/** <scram-credentials mechanism='SCRAM-SHA-…'> with the stored values, each base64 once (XEP-0227 §4). */
export function scramElement(hash: ScramHash, c: ScramCredential): Element {
  return xml('scram-credentials', { xmlns: NS_PIE_SCRAM, mechanism: MECHANISM[hash] },
    xml('iter-count', {}, String(c.iterations)),
    xml('salt', {}, c.salt),
    xml('server-key', {}, c.serverKey),
    xml('stored-key', {}, c.storedKey));
}

export type ParsedScram = { hash: ScramHash; cred: ScramCredential } | { error: string };

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads one <scram-credentials>. The keys must have the hash's length; when a value decodes to base64 text
 * that has it instead, the writer encoded twice (ejabberd 23.01 does: it keeps the values as base64 and
 * encodes them again), and then the salt was encoded twice as well.
 */
export function parseScram(el: Element): ParsedScram {
  const mech = el.attrs.mechanism;
  const hash = (Object.keys(MECHANISM) as ScramHash[]).find((h) => MECHANISM[h] === mech);
  if (!hash) return { error: `mechanism ${mech ?? '(none)'} is not supported (SCRAM-SHA-1 and SCRAM-SHA-256 are)` };
  const text = (name: string) => (el.getChildText(name) ?? '').replace(/\s+/g, '');
  const iterations = Number(text('iter-count'));
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 0xffffffff) return { error: `${mech}: bad iter-count` };
  const len = SCRAM_HASH_INFO[hash].length;
  const raw = { salt: text('salt'), serverKey: text('server-key'), storedKey: text('stored-key') };
  for (const [k, v] of Object.entries(raw)) if (!B64.test(v)) return { error: `${mech}: ${k} is not base64` };
  const once = (s: string): Buffer => Buffer.from(s, 'base64');
  const twice = (s: string): Buffer | null => {
    const inner = once(s).toString('latin1');
    return B64.test(inner) ? once(inner) : null;
  };
  let salt: Buffer = once(raw.salt);
  let serverKey: Buffer = once(raw.serverKey);
  let storedKey: Buffer = once(raw.storedKey);
  if (serverKey.length !== len || storedKey.length !== len) {
    const sk = twice(raw.serverKey);
    const st = twice(raw.storedKey);
    const sa = twice(raw.salt);
    if (!sk || !st || !sa || sk.length !== len || st.length !== len) return { error: `${mech}: the keys are not ${len} bytes long` };
    [serverKey, storedKey, salt] = [sk, st, sa];
  }
  if (salt.length === 0) return { error: `${mech}: empty salt` };
  return {
    hash,
    cred: { salt: salt.toString('base64'), iterations, serverKey: serverKey.toString('base64'), storedKey: storedKey.toString('base64') },
  };
}

/**
 * A copy of an element that stands alone: the namespace bindings it inherited from the <user>/<query> it
 * sat in (its default namespace, prefixes it or its descendants use) declared on itself, so it can be
 * stored and served detached.
 */
export function standalone(el: Element): Element {
  const copy = deepCopy(el);
  const up = el.parent;
  if (!up) return copy;
  const used = new Set<string>();
  collectPrefixes(el, used);
  for (const prefix of used) {
    const attr = prefix ? `xmlns:${prefix}` : 'xmlns';
    if (copy.attrs[attr] !== undefined) continue;
    const uri = prefix ? up.findNS(prefix) : up.findNS();
    if (uri !== undefined) copy.attrs[attr] = uri;
  }
  return copy;
}

function deepCopy(el: Element): Element {
  return xml(el.name, { ...el.attrs }, ...el.children.map((c) => (typeof c === 'string' ? c : deepCopy(c))));
}

/** Prefixes ('' = the default namespace) that the element or a descendant relies on without declaring. */
function collectPrefixes(el: Element, out: Set<string>, declared: Set<string> = new Set()): void {
  const here = new Set(declared);
  for (const k of Object.keys(el.attrs)) if (k === 'xmlns' || k.startsWith('xmlns:')) here.add(k === 'xmlns' ? '' : k.slice(6));
  const colon = el.name.indexOf(':');
  const prefix = colon < 0 ? '' : el.name.slice(0, colon);
  if (!here.has(prefix)) out.add(prefix);
  for (const c of el.children) if (typeof c !== 'string') collectPrefixes(c, out, here);
}
