// XML 1.0 (5th ed.) character classes used by the stream guard: Char (§2.2), NameStartChar/NameChar
// (§2.3) and entity/character references (§4.1), as restricted by RFC 6120 §11.1 (no entities but the five predefined).
import type { StreamErrorCondition } from '../../core/errors.js';

const NAME_START = 1;
const NAME_CHAR = 2;

/** Flags for ASCII code points; the hot path looks names up here instead of testing ranges. */
const ASCII_NAME = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (letter || c === 58 /* : */ || c === 95 /* _ */) ASCII_NAME[c] = NAME_START | NAME_CHAR;
  else if ((c >= 48 && c <= 57) || c === 45 /* - */ || c === 46 /* . */) ASCII_NAME[c] = NAME_CHAR;
}

/**
 * NameStartChar above ASCII, for one UTF-16 code unit. Surrogates are accepted: a pair can only
 * encode U+10000..U+10FFFF, of which XML allows #x10000-#xEFFFF; the tail is not worth a pair decode.
 */
function nonAsciiNameStart(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xdfff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd)
  );
}

export function isNameStart(c: number): boolean {
  return c < 128 ? (ASCII_NAME[c]! & NAME_START) !== 0 : nonAsciiNameStart(c);
}

export function isNameChar(c: number): boolean {
  if (c < 128) return (ASCII_NAME[c]! & NAME_CHAR) !== 0;
  return nonAsciiNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}

/** XML 1.0 §2.2 Char, for a code point (used for numeric character references). */
export function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * Code units that are never XML 1.0 Chars. One regex scan per chunk (native, linear) is cheaper than a
 * per-character test; lone surrogates cannot come out of the fatal UTF-8 decoder.
 */
export const INVALID_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/** Longest reference body (between '&' and ';') we wait for before judging it. */
export const MAX_REF_LENGTH = 40;

const NUMERIC_REF = /^#(?:x[0-9A-Fa-f]+|[0-9]+)$/;

function isName(s: string): boolean {
  if (s.length === 0 || !isNameStart(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) if (!isNameChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Judges the body of a reference (`ref` is what sits between '&' and ';'). `complete` is false when
 * no ';' came within MAX_REF_LENGTH. Returns null when it is a predefined entity or a valid
 * character reference, else the stream error to raise.
 */
export function checkReference(ref: string, complete: boolean): [StreamErrorCondition, string] | null {
  if (complete) {
    switch (ref) {
      case 'amp': case 'lt': case 'gt': case 'quot': case 'apos':
        return null;
    }
  }
  if (ref.charCodeAt(0) === 35 /* # */) {
    if (!complete || !NUMERIC_REF.test(ref)) return ['not-well-formed', 'malformed character reference'];
    const cp = ref.charCodeAt(1) === 120 /* x */ ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!isXmlChar(cp)) return ['not-well-formed', `character reference &${ref}; is not an XML character`];
    return null;
  }
  // A well-formed reference to any other entity needs a DTD: RFC 6120 §11.1 forbids it.
  if (isName(ref)) return ['restricted-xml', `entity reference &${ref.slice(0, 20)}; is not allowed`];
  return ['not-well-formed', "'&' must start an entity or character reference"];
}

/**
 * The text a complete reference stands for (`s[from, to)` is what sits between '&' and ';'), or null when
 * it is not one of the five predefined entities or a character reference to an XML Char (checkReference
 * then says why). The predefined entities are matched in place: no string is cut out for them.
 */
export function referenceText(s: string, from: number, to: number): string | null {
  const n = to - from;
  const c0 = s.charCodeAt(from);
  if (n === 2 && s.charCodeAt(from + 1) === 116 /* t */) {
    if (c0 === 108 /* l */) return '<';
    if (c0 === 103 /* g */) return '>';
  } else if (n === 3 && c0 === 97 /* a */ && s.startsWith('mp', from + 1)) {
    return '&';
  } else if (n === 4) {
    if (c0 === 113 /* q */ && s.startsWith('uot', from + 1)) return '"';
    if (c0 === 97 /* a */ && s.startsWith('pos', from + 1)) return "'";
  }
  if (c0 !== 35 /* # */) return null;
  const ref = s.slice(from, to);
  if (!NUMERIC_REF.test(ref)) return null;
  const cp = ref.charCodeAt(1) === 120 /* x */ ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
  return isXmlChar(cp) ? String.fromCodePoint(cp) : null;
}

const NUMERIC_REF_PREFIX = /^#(?:x[0-9A-Fa-f]*|[0-9]*)$/;

/**
 * For a reference cut by the end of a chunk: false when `partial` (after '&', no ';' yet) can no
 * longer become a valid one, so that `a & b` fails now rather than after more input.
 */
export function isReferencePrefix(partial: string): boolean {
  if (partial.length === 0) return true;
  if (partial.charCodeAt(0) === 35 /* # */) return NUMERIC_REF_PREFIX.test(partial);
  return isName(partial);
}

/** XML declaration (XML 1.0 §2.8 XMLDecl), already known to start with "<?xml" + whitespace. */
const XML_DECL =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(?:yes|no)\4)?[ \t\r\n]*\?>$/;

/** Checks a complete `<?xml ...?>`; only UTF-8 is allowed (RFC 6120 §11.6). */
export function checkXmlDecl(decl: string): [StreamErrorCondition, string] | null {
  const m = XML_DECL.exec(decl);
  if (!m) return ['not-well-formed', 'malformed XML declaration'];
  if (m[3] !== undefined && m[3].toLowerCase() !== 'utf-8') {
    return ['unsupported-encoding', `encoding ${m[3]} is not supported, only UTF-8`];
  }
  return null;
}
