// JIDs per RFC 7622: localpart = PRECIS UsernameCaseMapped (RFC 8265 §3.3), resourcepart =
// OpaqueString (RFC 8265 §4.2), domainpart = IDNA2008 U-labels or IP literals (RFC 7622 §3.2).
// PRECIS classes per RFC 8264 §8-9; parse() is on the hot path, so ASCII gets a fast path and an LRU.
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

export class JidError extends Error {
  override readonly name = 'JidError';
}

/** RFC 7622 §3.1: every part is limited to 1023 octets of UTF-8. */
const MAX_PART_OCTETS = 1023;
/** Preparation can shrink a string at most ~3x (fullwidth → ASCII, Hangul jamo → syllable), so a raw
 * part longer than this can never be valid: refuse it before doing any Unicode work on it. */
const MAX_RAW_PART = 4 * MAX_PART_OCTETS;
/** RFC 5890 §2.3.2.1: a label (A-label form) is at most 63 octets. */
const MAX_LABEL_OCTETS = 63;

// ---------------------------------------------------------------------------------------------
// PRECIS string classes (RFC 8264 §8 derivation order, RFC 5892 for the shared exception tables)
// ---------------------------------------------------------------------------------------------

const enum Ex { PVALID, CONTEXTO, DISALLOWED }

/** RFC 5892 §2.6 Exceptions (F), which RFC 8264 §9.6 applies to both classes. */
const EXCEPTIONS = new Map<number, Ex>([
  [0x00df, Ex.PVALID], [0x03c2, Ex.PVALID], [0x06fd, Ex.PVALID], [0x06fe, Ex.PVALID],
  [0x0f0b, Ex.PVALID], [0x3007, Ex.PVALID],
  [0x00b7, Ex.CONTEXTO], [0x0375, Ex.CONTEXTO], [0x05f3, Ex.CONTEXTO], [0x05f4, Ex.CONTEXTO],
  [0x30fb, Ex.CONTEXTO],
  [0x0640, Ex.DISALLOWED], [0x07fa, Ex.DISALLOWED], [0x302e, Ex.DISALLOWED],
  [0x302f, Ex.DISALLOWED], [0x3031, Ex.DISALLOWED], [0x3032, Ex.DISALLOWED],
  [0x3033, Ex.DISALLOWED], [0x3034, Ex.DISALLOWED], [0x3035, Ex.DISALLOWED],
  [0x303b, Ex.DISALLOWED],
]);
for (let cp = 0x0660; cp <= 0x0669; cp++) EXCEPTIONS.set(cp, Ex.CONTEXTO);
for (let cp = 0x06f0; cp <= 0x06f9; cp++) EXCEPTIONS.set(cp, Ex.CONTEXTO);

/** Canonical_Combining_Class = Virama (9); JS has no property escape for ccc, so it is listed
 * (Unicode 15). Needed by the ZWJ/ZWNJ CONTEXTJ rules (RFC 5892 Appendix A.1/A.2). */
const VIRAMAS = new Set<number>([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d,
  0x0dca, 0x0e3a, 0x0eba, 0x0f84, 0x1039, 0x103a, 0x1714, 0x1715, 0x1734, 0x17d2, 0x1a60,
  0x1b44, 0x1baa, 0x1bab, 0x1bf2, 0x1bf3, 0x2d7f, 0xa806, 0xa82c, 0xa8c4, 0xa953, 0xa9c0,
  0xaaf6, 0xabed, 0x10a3f, 0x11046, 0x11070, 0x1107f, 0x110b9, 0x11133, 0x11134, 0x111c0,
  0x11235, 0x112ea, 0x1134d, 0x11442, 0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x1172b, 0x11839,
  0x1193d, 0x1193e, 0x119e0, 0x11a34, 0x11a47, 0x11a99, 0x11c3f, 0x11d44, 0x11d45, 0x11d97,
  0x11f41, 0x11f42,
]);

const RE_UNASSIGNED = /^\p{Cn}$/u;
const RE_CONTROL = /^\p{Cc}$/u;
const RE_IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const RE_LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const RE_OTHER_LETTER_DIGITS = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;
const RE_FREEFORM_EXTRA = /^[\p{Zs}\p{Sm}\p{Sc}\p{Sk}\p{So}\p{Pc}\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}]$/u;
const RE_MARK = /^\p{M}$/u;
const RE_GREEK = /^\p{Script=Greek}$/u;
const RE_HEBREW = /^\p{Script=Hebrew}$/u;
const RE_KANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;
/** Scripts whose letters join (rough stand-in for Joining_Type D/L/R, which JS cannot query). */
const RE_JOINING_LETTER = /^(?=\p{L})[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Mandaic}\p{Script=Manichaean}\p{Script=Psalter_Pahlavi}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}\p{Script=Phags_Pa}]$/u;

// Strongly right-to-left letters (Bidi_Class R/AL) approximated by script, since JS has no
// Bidi_Class property escape.
const RTL_SCRIPTS =
  '\\p{Script=Hebrew}\\p{Script=Arabic}\\p{Script=Syriac}\\p{Script=Thaana}\\p{Script=Nko}' +
  '\\p{Script=Samaritan}\\p{Script=Mandaic}\\p{Script=Adlam}\\p{Script=Hanifi_Rohingya}' +
  '\\p{Script=Imperial_Aramaic}\\p{Script=Phoenician}\\p{Script=Kharoshthi}\\p{Script=Avestan}' +
  '\\p{Script=Old_South_Arabian}\\p{Script=Old_North_Arabian}\\p{Script=Nabataean}' +
  '\\p{Script=Palmyrene}\\p{Script=Manichaean}\\p{Script=Mende_Kikakui}\\p{Script=Yezidi}';
const RE_RTL_LETTER = new RegExp(`(?=\\p{L})[${RTL_SCRIPTS}]`, 'u');
const RE_LTR_LETTER = new RegExp(`(?![${RTL_SCRIPTS}])\\p{L}`, 'u');

/** RFC 5892 OldHangulJamo (Hangul_Syllable_Type L, V or T). */
function isOldHangulJamo(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xd7b0 && cp <= 0xd7c6) || (cp >= 0xd7cb && cp <= 0xd7fb);
}

function hex(cp: number): string {
  return 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
}

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s);
}

/** CONTEXTO rules, RFC 5892 Appendix A.3-A.9. */
function contextOAllows(cps: string[], i: number): boolean {
  const cp = cps[i]!.codePointAt(0)!;
  const before = cps[i - 1];
  const after = cps[i + 1];
  switch (cp) {
    case 0x00b7: return before === 'l' && after === 'l'; // Catalan "l·l"
    case 0x0375: return after !== undefined && RE_GREEK.test(after);
    case 0x05f3: case 0x05f4: return before !== undefined && RE_HEBREW.test(before);
    case 0x30fb: return cps.some((c) => c !== '\u30fb' && RE_KANA_HAN.test(c));
    default:
      if (cp >= 0x0660 && cp <= 0x0669) return !cps.some((c) => c >= '\u06f0' && c <= '\u06f9');
      if (cp >= 0x06f0 && cp <= 0x06f9) return !cps.some((c) => c >= '\u0660' && c <= '\u0669');
      return false;
  }
}

/** CONTEXTJ rules for ZWNJ/ZWJ, RFC 5892 Appendix A.1/A.2. The ZWNJ joining-type clause is
 * approximated: a joining-script letter on both sides (combining marks skipped). */
function contextJAllows(cps: string[], i: number): boolean {
  const before = cps[i - 1];
  if (before !== undefined && VIRAMAS.has(before.codePointAt(0)!)) return true;
  if (cps[i] !== '\u200c') return false;
  let b = i - 1;
  while (b >= 0 && RE_MARK.test(cps[b]!)) b--;
  let a = i + 1;
  while (a < cps.length && RE_MARK.test(cps[a]!)) a++;
  return b >= 0 && a < cps.length && RE_JOINING_LETTER.test(cps[b]!) && RE_JOINING_LETTER.test(cps[a]!);
}

type PrecisClass = 'identifier' | 'freeform' | 'idna';

/**
 * Checks every code point of an already mapped/normalised string against a PRECIS class
 * (RFC 8264 §8 order). 'idna' is IdentifierClass without the ASCII7 rule: IDNA2008 (RFC 5892)
 * allows only LDH in ASCII, which the caller checks label by label.
 */
function checkClass(s: string, cls: PrecisClass, part: string): void {
  const cps = Array.from(s);
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i]!;
    const cp = ch.codePointAt(0)!;
    const bad = (why: string): never => {
      throw new JidError(`${part} ${quote(s)} contains ${why} ${hex(cp)}`);
    };
    if (cp < 0x80) {
      if (cp >= 0x21 && cp <= 0x7e) continue;            // ASCII7
      if (cp === 0x20 && cls === 'freeform') continue;   // Spaces are valid in FreeformClass only
      bad(cp === 0x20 ? 'a space' : 'a control character');
    }
    const ex = EXCEPTIONS.get(cp);
    if (ex === Ex.PVALID) continue;
    if (ex === Ex.DISALLOWED) bad('the disallowed character');
    if (ex === Ex.CONTEXTO) {
      if (contextOAllows(cps, i)) continue;
      bad('a character not allowed in this context:');
    }
    if (RE_UNASSIGNED.test(ch)) bad('the unassigned code point');
    if (cp === 0x200c || cp === 0x200d) {
      if (contextJAllows(cps, i)) continue;
      bad('a joiner not allowed in this context:');
    }
    if (isOldHangulJamo(cp)) bad('the old Hangul jamo');
    if (RE_IGNORABLE.test(ch)) bad('the ignorable code point');
    if (RE_CONTROL.test(ch)) bad('the control character');
    if (ch.normalize('NFKC') !== ch) {
      // HasCompat: valid in FreeformClass, disallowed in IdentifierClass (so 'ﬁ' ≠ 'fi' confusion).
      if (cls === 'freeform') continue;
      bad('the compatibility character');
    }
    if (RE_LETTER_DIGITS.test(ch)) continue;
    if (cls === 'freeform' && (RE_OTHER_LETTER_DIGITS.test(ch) || RE_FREEFORM_EXTRA.test(ch))) continue;
    bad('the disallowed character');
  }
}

/** Width mapping (RFC 8265 §3.3.1 rule 1): code points whose decomposition is tagged <wide> or
 * <narrow> are U+3000 and U+FF01..U+FFEE; NFKC of one of them alone is exactly that decomposition. */
const RE_WIDE_NARROW = /[\u3000\uff01-\uffee]/g;
function widthMap(s: string): string {
  return s.replace(RE_WIDE_NARROW, (c) => c.normalize('NFKC'));
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function checkLength(part: string, octets: number): void {
  if (octets === 0) throw new JidError(`${part} is empty`);
  if (octets > MAX_PART_OCTETS) {
    throw new JidError(`${part} is ${octets} octets long; at most ${MAX_PART_OCTETS} are allowed`);
  }
}

// ---------------------------------------------------------------------------------------------
// Localpart: UsernameCaseMapped + RFC 7622 §3.3.1 extra exclusions
// ---------------------------------------------------------------------------------------------

const RE_ASCII_PRINTABLE = /^[\x21-\x7e]+$/;
const RE_ASCII_WITH_SPACE = /^[\x20-\x7e]+$/;
/** RFC 7622 §3.3.1: " & ' / : < > @ stay out of localparts even though PRECIS allows them. */
const RE_LOCAL_FORBIDDEN = /["&'/:<>@]/;

export function prepLocalpart(input: string): string {
  if (input.length === 0) throw new JidError('localpart is empty');
  if (input.length > MAX_RAW_PART) throw new JidError('localpart is too long');
  let s: string;
  if (RE_ASCII_PRINTABLE.test(input)) {
    // Fast path: printable ASCII is PVALID (ASCII7), mapping is only lowercasing, NFC is a no-op.
    s = input.toLowerCase();
    checkLength('localpart', s.length);
  } else {
    // RFC 8265 §3.3.3 enforcement order: width map, case map (toLowerCase, not case folding:
    // 'ß' stays distinct from 'ss'), NFC, then the class and directionality checks.
    s = widthMap(input).toLowerCase().normalize('NFC');
    checkClass(s, 'identifier', 'localpart');
    checkBidi(s, 'localpart');
    checkLength('localpart', utf8Length(s));
  }
  const bad = RE_LOCAL_FORBIDDEN.exec(s);
  if (bad) throw new JidError(`localpart ${quote(s)} contains the forbidden character '${bad[0]}'`);
  return s;
}

/** Simplified RFC 5893 Bidi Rule: a string must not mix strongly LTR and strongly RTL letters. */
function checkBidi(s: string, part: string): void {
  if (RE_RTL_LETTER.test(s) && RE_LTR_LETTER.test(s)) {
    throw new JidError(`${part} ${quote(s)} mixes left-to-right and right-to-left characters`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resourcepart: OpaqueString (RFC 8265 §4.2)
// ---------------------------------------------------------------------------------------------

const RE_NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g; // Zs minus U+0020

export function prepResourcepart(input: string): string {
  if (input.length === 0) throw new JidError('resourcepart is empty');
  if (input.length > MAX_RAW_PART) throw new JidError('resourcepart is too long');
  if (RE_ASCII_WITH_SPACE.test(input)) {
    // Fast path: ASCII printable plus space is valid FreeformClass, no mapping, case preserved.
    checkLength('resourcepart', input.length);
    return input;
  }
  // No width or case mapping for OpaqueString; non-ASCII spaces become U+0020, then NFC.
  const s = input.replace(RE_NON_ASCII_SPACE, ' ').normalize('NFC');
  checkClass(s, 'freeform', 'resourcepart');
  checkLength('resourcepart', utf8Length(s));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Domainpart (RFC 7622 §3.2)
// ---------------------------------------------------------------------------------------------

const RE_ASCII_DOMAIN = /^[a-z0-9.-]+$/;
const RE_LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** IDNA2003 label separators, which RFC 5895 maps to '.'. */
const RE_IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;

export function prepDomainpart(input: string): string {
  if (input.length === 0) throw new JidError('domainpart is empty');
  if (input.length > MAX_RAW_PART) throw new JidError('domainpart is too long');
  let s = input;
  // RFC 7622 §3.2: one trailing label separator is stripped before any other canonicalisation.
  const last = s.charCodeAt(s.length - 1);
  if (last === 0x2e || last === 0x3002 || last === 0xff0e || last === 0xff61) s = s.slice(0, -1);
  if (s.length === 0) throw new JidError('domainpart is empty');

  if (s.charCodeAt(0) === 0x5b /* [ */) return prepIpv6Literal(s);

  const lower = s.toLowerCase();
  if (RE_ASCII_DOMAIN.test(lower)) {
    if (isIPv4(lower)) return lower;
    // Fast path: all-LDH input, unless it carries A-labels that must become U-labels.
    if (!lower.includes('xn--')) {
      for (const label of lower.split('.')) checkLdhLabel(label, lower);
      checkLength('domainpart', lower.length);
      return lower;
    }
  }
  // RFC 5895-style mapping: width map, IDNA2003 dots, lowercase, NFC.
  const mapped = widthMap(s).replace(RE_IDEOGRAPHIC_DOTS, '.').toLowerCase().normalize('NFC');
  const labels = mapped.split('.');
  const out: string[] = [];
  for (const label of labels) {
    if (/^[\x00-\x7f]*$/.test(label)) {
      checkLdhLabel(label, mapped);
      if (label.startsWith('xn--')) {
        // A-label: convert to its U-label so that equal domains compare equal.
        const u = domainToUnicode(label);
        if (u === '' || u === label) throw new JidError(`domainpart ${quote(mapped)} has an invalid A-label '${label}'`);
        const uNorm = u.normalize('NFC');
        checkULabel(uNorm, mapped);
        out.push(uNorm);
      } else {
        out.push(label);
      }
    } else {
      checkULabel(label, mapped);
      out.push(label);
    }
  }
  const result = out.join('.');
  // WHATWG/UTS #46 ToASCII validates punycode encodability and the IDNA Bidi rule; we only use it
  // to validate and measure, keeping the U-label form as the canonical domainpart.
  const ascii = domainToASCII(result);
  if (ascii === '') throw new JidError(`domainpart ${quote(result)} is not a valid internationalized domain name`);
  for (const aLabel of ascii.split('.')) {
    if (aLabel.length > MAX_LABEL_OCTETS) {
      throw new JidError(`domainpart ${quote(result)} has a label longer than ${MAX_LABEL_OCTETS} octets`);
    }
  }
  checkLength('domainpart', utf8Length(result));
  return result;
}

function checkLdhLabel(label: string, whole: string): void {
  if (label.length === 0) throw new JidError(`domainpart ${quote(whole)} has an empty label`);
  if (label.length > MAX_LABEL_OCTETS) {
    throw new JidError(`domainpart ${quote(whole)} has a label longer than ${MAX_LABEL_OCTETS} octets`);
  }
  if (!RE_LDH_LABEL.test(label)) {
    throw new JidError(`domainpart ${quote(whole)} has the label '${label}': only letters, digits and inner hyphens are allowed`);
  }
}

function checkULabel(label: string, whole: string): void {
  if (label.length === 0) throw new JidError(`domainpart ${quote(whole)} has an empty label`);
  // RFC 5891 §4.2.3.2: a label must not begin with a combining mark; §4.2.3.1: no leading or
  // trailing hyphen, and no '--' in positions 3-4 unless it is an A-label.
  if (RE_MARK.test(Array.from(label)[0]!)) {
    throw new JidError(`domainpart ${quote(whole)} has a label starting with a combining mark`);
  }
  if (label.startsWith('-') || label.endsWith('-') || label.slice(2, 4) === '--') {
    throw new JidError(`domainpart ${quote(whole)} has a badly placed hyphen in '${label}'`);
  }
  for (const ch of label) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80 && !/[a-z0-9-]/.test(ch)) {
      throw new JidError(`domainpart ${quote(whole)} contains the disallowed character ${hex(cp)}`);
    }
  }
  checkClass(label, 'idna', 'domainpart');
}

function prepIpv6Literal(s: string): string {
  if (!s.endsWith(']')) throw new JidError(`domainpart ${quote(s)} is an unterminated IPv6 literal`);
  const inner = s.slice(1, -1);
  if (!isIPv6(inner) || inner.includes('%')) {
    throw new JidError(`domainpart ${quote(s)} is not a valid IPv6 literal`);
  }
  try {
    // RFC 5952 canonical text form, so that [0:0::1] and [::1] are the same JID.
    return new URL(`http://[${inner}]/`).hostname;
  } catch {
    throw new JidError(`domainpart ${quote(s)} is not a valid IPv6 literal`);
  }
}

// ---------------------------------------------------------------------------------------------
// Jid
// ---------------------------------------------------------------------------------------------

/**
 * Raw string → Jid cache, approximately LRU with at most 10k entries. It is generational rather
 * than delete-and-reinsert on a single Map: V8 leaves holes when a Map's oldest keys are deleted,
 * making `keys().next()` eviction slow under churn. Hits in the old generation are promoted; when
 * the young generation is full it becomes the old one and the previous old one is dropped whole.
 */
const CACHE_GENERATION = 5_000;
/** Inputs longer than this are parsed but not cached, so the cache stays small in bytes. */
const CACHE_MAX_KEY = 512;
let cacheYoung = new Map<string, Jid>();
let cacheOld = new Map<string, Jid>();

function cachePut(key: string, jid: Jid): void {
  if (cacheYoung.size >= CACHE_GENERATION) {
    cacheOld = cacheYoung;
    cacheYoung = new Map();
  }
  cacheYoung.set(key, jid);
}

export class Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #str: string | undefined;
  #bareStr: string | undefined;
  #bare: Jid | undefined;

  /** Parts must already be prepared: use parse() or of(). */
  private constructor(local: string, domain: string, resource: string) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** Parses and prepares a JID string; throws JidError (→ jid-malformed on the wire). */
  static parse(s: string): Jid {
    if (typeof s !== 'string') throw new JidError('JID is not a string');
    const young = cacheYoung.get(s);
    if (young !== undefined) return young;
    const old = cacheOld.get(s);
    if (old !== undefined) {
      cachePut(s, old); // recently used: promote so it survives the next generation switch
      return old;
    }
    const jid = Jid.parseUncached(s);
    if (s.length <= CACHE_MAX_KEY) cachePut(s, jid);
    return jid;
  }

  static tryParse(s: string | undefined | null): Jid | null {
    if (typeof s !== 'string') return null;
    try {
      return Jid.parse(s);
    } catch (err) {
      if (err instanceof JidError) return null;
      throw err;
    }
  }

  /** Builds a JID from raw parts ('' = absent local/resource), preparing each one. */
  static of(local: string, domain: string, resource = ''): Jid {
    return new Jid(
      local === '' ? '' : prepLocalpart(local),
      prepDomainpart(domain),
      resource === '' ? '' : prepResourcepart(resource),
    );
  }

  bare(): Jid {
    if (this.resource === '') return this;
    return (this.#bare ??= new Jid(this.local, this.domain, ''));
  }

  isBare(): boolean {
    return this.resource === '';
  }

  isDomain(): boolean {
    return this.local === '' && this.resource === '';
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepResourcepart(resource));
  }

  toString(): string {
    if (this.#str === undefined) {
      this.#str = this.resource === '' ? this.bareString() : `${this.bareString()}/${this.resource}`;
    }
    return this.#str;
  }

  bareString(): string {
    if (this.#bareStr === undefined) {
      this.#bareStr = this.local === '' ? this.domain : `${this.local}@${this.domain}`;
    }
    return this.#bareStr;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: Jid): boolean {
    return this === other || (this.domain === other.domain && this.local === other.local &&
      this.resource === other.resource);
  }

  private static parseUncached(s: string): Jid {
    if (s.length === 0) throw new JidError('JID is empty');
    // RFC 7622 §3.1: the resourcepart starts at the FIRST '/', so it may itself contain '/' and '@';
    // only then is the localpart split off at the first '@' of what remains.
    const slash = s.indexOf('/');
    const head = slash === -1 ? s : s.slice(0, slash);
    const at = head.indexOf('@');
    let local = '';
    let domain = head;
    let resource = '';
    if (slash !== -1) {
      resource = s.slice(slash + 1);
      if (resource === '') throw new JidError('resourcepart is empty (nothing after "/")');
      resource = prepResourcepart(resource);
    }
    if (at !== -1) {
      local = head.slice(0, at);
      if (local === '') throw new JidError('localpart is empty (nothing before "@")');
      local = prepLocalpart(local);
      domain = head.slice(at + 1);
    }
    if (domain === '') throw new JidError('domainpart is empty');
    return new Jid(local, prepDomainpart(domain), resource);
  }
}
