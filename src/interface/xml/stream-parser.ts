// Incremental XMPP stream parser with limits: bytes -> stream header, detached top-level elements, stream end.
// RFC 6120 §4.2-4.4 (stream open/close), §4.8 (namespaces), §4.9 (stream errors), §11 (XML usage:
// §11.1 restricted XML, §11.6 UTF-8), §13.12 (resource exhaustion).
import Element from 'ltx/lib/Element.js';
import type { Element as XmlElement } from '@xmpp/xml';
import { isAscii } from 'node:buffer';
import type { StreamErrorCondition } from '../../core/errors.js';
import { NS } from '../../core/ns.js';
import { commonName } from './common-names.js';
import {
  INVALID_CHARS, MAX_REF_LENGTH, checkReference, checkXmlDecl, isNameChar, isNameStart, isReferencePrefix, referenceText,
} from './xml-chars.js';

export interface StreamParserHandlers {
  /** The stream header: qualified name as written, attributes including xmlns declarations. */
  streamStart(name: string, attrs: Record<string, string>): void;
  /** Each complete first-level child (stanza or nonza), detached: el.parent === null. */
  stanza(el: XmlElement): void;
  /** The closing </stream:stream>. */
  streamEnd(): void;
  /** Fatal (RFC 6120 §4.9); the parser ignores all input after it. */
  error(condition: StreamErrorCondition, text: string): void;
}

export interface StreamParserOptions {
  /** Bytes (UTF-8) of one top-level element, from its '<' to its last '>'; also bounds the header. */
  maxStanzaSize?: number;
  /** Element nesting inside one top-level element (the top-level element itself is 1). */
  maxDepth?: number;
  /** Attributes (namespace declarations included) on one element. */
  maxAttributes?: number;
  /** Characters of one element or attribute name (prefix included). */
  maxNameLength?: number;
}

export const DEFAULT_MAX_STANZA_SIZE = 262144;
export const DEFAULT_MAX_DEPTH = 100;
export const DEFAULT_MAX_ATTRIBUTES = 64;
export const DEFAULT_MAX_NAME_LENGTH = 1024;

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** Lexical positions in the stream, kept across chunks. */
const enum S {
  Text, // character data (or whitespace between top-level elements)
  Lt, // after '<'
  Bang, // after '<!'
  CdataOpen, // inside '<![CDATA['
  Cdata, // CDATA content
  Pi, // inside '<?...' (only the XML declaration gets here)
  StagName, // start-tag name
  StagSpace, // whitespace inside a start tag
  AttrName,
  AttrEq, // after an attribute name, before '='
  AttrQuote, // after '=', before the opening quote
  AttrValue,
  AfterValue, // after a closing quote
  EmptyEnd, // after '/' in a start tag
  EtagStart, // after '</'
  EtagName,
  EtagSpace,
  Ref, // inside '&...;'
}

const CDATA_OPEN = '[CDATA[';
const DECODE_STREAM = { stream: true };
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * One lexer tokenises each character once and builds the ltx Elements as it goes. It enforces RFC 6120
 * §11.1 and XML well-formedness (ltx's SAX parser would skip comments, PIs and DTDs, throw on unknown
 * entities and accept unquoted or duplicate attributes), tracks depth and the size of the current
 * top-level element, and jumps with indexOf over text, attribute values and CDATA; only names and the
 * inside of tags are walked character by character. A token cut by the end of a chunk keeps just its
 * own text (`tok`) for the next one, so nothing else of the input is ever copied or re-scanned.
 */
export class StreamParser {
  private readonly maxSize: number;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;
  private readonly maxName: number;
  // ignoreBOM: the decoder is skipped for ASCII chunks, so it must not treat its first input as the start.
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private failed = false;
  private seenInput = false;
  private highSurrogate = ''; // a string chunk ended inside a surrogate pair
  private utf8Tail: Buffer | null = null; // bytes of a character the decoder holds for the next chunk

  // ---- lexer state (survives chunk boundaries) ----
  private st = S.Text;
  private depth = 0; // open elements, the stream root included
  private sawRoot = false;
  private declAllowed = true; // <?xml ...?> is allowed until the first element
  private quote = 0; // char code of the current attribute quote
  private refReturn = S.Text; // state to resume after a reference
  private refBuf = ''; // start of a reference cut by a chunk boundary
  private cdataMatched = 0; // characters of "[CDATA[" seen so far
  private cdataBrackets = 0; // trailing ']' of a chunk that ended inside CDATA
  private piBuf = '';
  private attrCount = 0;
  private unitOpen = false; // inside a top-level unit: the header, a top-level element or the end tag
  private unitBytes = 0; // bytes of the open unit in earlier chunks

  // ---- the token being read: a name, an attribute value, a text run or a CDATA section ----
  private tok = ''; // its text from earlier chunks, and the characters its references stand for
  private seg = 0; // where the rest of it starts in the current chunk

  // ---- per chunk ----
  private ascii = true; // the chunk is pure ASCII, so UTF-16 length == UTF-8 byte count
  private unitStart = -1; // where the open unit began in this chunk (-1: in an earlier chunk)

  // ---- element building ----
  private tagName = ''; // of the start tag being read
  private tagEl: XmlElement | null = null; // the element of that start tag (null for the stream header)
  private attrs: Record<string, string> = {}; // its attributes: tagEl.attrs itself, so they are built once
  private attrName = '';
  private prefixed = false; // the start tag has a prefixed element or attribute name
  private rootName = '';
  private rootAttrs: Record<string, string> | null = null;
  private cursor: XmlElement | null = null; // innermost open element below the root

  constructor(private readonly h: StreamParserHandlers, opts: StreamParserOptions = {}) {
    this.maxSize = opts.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttrs = opts.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    this.maxName = opts.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  }

  /** Feeds bytes (or already decoded text, e.g. WebSocket frames). Never throws. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    try {
      let s: string;
      if (typeof chunk === 'string') {
        s = this.fromString(chunk);
        this.ascii = s.length === Buffer.byteLength(s);
      } else if (this.utf8Tail === null && isAscii(chunk)) {
        // Nothing is held in the decoder and ASCII is its own UTF-8: a plain copy, no validating decoder.
        s = chunk.toString('latin1');
        this.ascii = true;
      } else {
        try {
          s = this.decoder.decode(chunk, DECODE_STREAM);
        } catch {
          this.badUtf8(chunk);
          return;
        }
        this.ascii = isAscii(chunk);
        this.utf8Tail = pendingUtf8(this.utf8Tail, chunk);
      }
      if (s.length === 0) return;
      if (!this.seenInput) {
        this.seenInput = true;
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1); // a BOM is allowed at the start (XML 1.0 §4.3.3)
      }
      this.chunk(s, typeof chunk === 'string');
    } catch (err) {
      this.fail('internal-server-error', `stream parser failure: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /**
   * RFC 6120 §4.9.3.22: improperly encoded stream (§11.6). The characters before the first bad byte are
   * parsed first, so the outcome does not depend on where TCP cut the stream: a stanza (or a
   * well-formedness error) before the bad byte is reported whether or not it came in the same read.
   */
  private badUtf8(chunk: Buffer): void {
    const data = this.utf8Tail ? Buffer.concat([this.utf8Tail, chunk]) : chunk;
    const valid = (n: number): boolean => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, n), { stream: true });
        return true;
      } catch {
        return false;
      }
    };
    let lo = 0; // valid(lo) holds: the decoder accepted everything before this chunk
    let hi = data.length; // valid(hi) does not
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (valid(mid)) lo = mid;
      else hi = mid;
    }
    const prefix = data.subarray(0, lo);
    let s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(prefix, { stream: true });
    if (s.length > 0) {
      this.ascii = isAscii(prefix);
      if (!this.seenInput) {
        this.seenInput = true;
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      }
      this.chunk(s, false);
    }
    this.fail('unsupported-encoding', 'the stream is not valid UTF-8');
  }

  /** String input: keep a split surrogate pair for the next write; reject lone surrogates. */
  private fromString(chunk: string): string {
    let s = this.highSurrogate ? this.highSurrogate + chunk : chunk;
    this.highSurrogate = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.highSurrogate = s.slice(-1);
      s = s.slice(0, -1);
    }
    return s;
  }

  private chunk(s: string, fromString: boolean): void {
    this.unitStart = -1;
    this.seg = 0;
    let end = s.search(INVALID_CHARS);
    // A lone surrogate can only come from string input (the fatal decoder never yields one); it is
    // no XML Char (XML 1.0 §2.2). isWellFormed() is native and linear; the regex only runs on a hit.
    if (fromString && !(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      const lone = s.search(LONE_SURROGATE);
      if (lone !== -1 && (end === -1 || lone < end)) end = lone;
    }
    this.scan(s, end === -1 ? s.length : end);
    if (this.failed) return;
    if (end !== -1) {
      this.fail('not-well-formed', `character U+${s.charCodeAt(end).toString(16).padStart(4, '0')} is not allowed in XML`);
      return;
    }
    this.finishChunk(s);
  }

  /** End of a chunk: keep the cut token's text, account the open unit. */
  private finishChunk(s: string): void {
    const len = s.length;
    if (this.seg < len && this.inToken()) this.tok += s.slice(this.seg, len);
    if (this.unitOpen) {
      this.unitBytes += this.bytes(s, this.unitStart < 0 ? 0 : this.unitStart, len);
      if (this.unitBytes > this.maxSize) this.failSize();
    }
  }

  /** The lexer is inside a token whose text is being collected in tok/seg. */
  private inToken(): boolean {
    switch (this.st) {
      case S.Text:
        return this.depth >= 2;
      case S.StagName: case S.AttrName: case S.AttrValue: case S.EtagName: case S.Cdata:
        return true;
      default:
        return false;
    }
  }

  /** A name token up to `to`: a constant string for the common ones. */
  private takeName(s: string, to: number): string {
    if (this.tok === '') return commonName(s, this.seg, to) ?? s.slice(this.seg, to);
    return this.take(s, to);
  }

  /** The token's text up to `to` (exclusive); the token is done. */
  private take(s: string, to: number): string {
    const tail = this.seg < to ? s.slice(this.seg, to) : '';
    if (this.tok === '') return tail;
    const t = this.tok + tail;
    this.tok = '';
    return t;
  }

  private bytes(s: string, from: number, to: number): number {
    if (to <= from) return 0;
    return this.ascii ? to - from : Buffer.byteLength(from === 0 && to === s.length ? s : s.slice(from, to));
  }

  private failSize(): void {
    // RFC 6120 §4.9.3.14 policy-violation; §13.12 lets a server bound stanza size.
    this.fail('policy-violation', `top-level element larger than ${this.maxSize} bytes`);
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.failed) return;
    this.failed = true;
    this.cursor = null;
    this.tagEl = null;
    this.tok = '';
    try {
      this.h.error(condition, text);
    } catch {
      // The consumer's error handler must not make write() throw.
    }
  }

  /** Lexes s[0, end) from the saved state, building elements and reporting them as they complete. */
  private scan(s: string, end: number): void {
    let st = this.st;
    let i = 0;
    let nextLt = -1; // cached position of the next '<' at or after i (end if none)
    let nextAmp = -1; // same for '&'

    while (i < end) {
      switch (st) {
        case S.Text: {
          if (nextLt < i) {
            nextLt = s.indexOf('<', i);
            if (nextLt === -1 || nextLt > end) nextLt = end;
          }
          if (this.depth >= 2) {
            if (nextAmp < i) {
              nextAmp = s.indexOf('&', i);
              if (nextAmp === -1 || nextAmp > end) nextAmp = end;
            }
            if (nextAmp < nextLt) {
              if (this.seg < nextAmp) this.tok += s.slice(this.seg, nextAmp);
              i = nextAmp + 1;
              this.refReturn = S.Text;
              this.refBuf = '';
              st = S.Ref;
              break;
            }
            i = nextLt;
            if (i === end) break;
            const text = this.take(s, i);
            if (text.length > 0) this.cursor!.children.push(text);
            i++;
            st = S.Lt;
            break;
          }
          // Between top-level elements only whitespace may appear (keepalives, RFC 6120 §4.6.1).
          for (; i < nextLt; i++) {
            if (!isSpace(s.charCodeAt(i))) {
              if (this.depth === 1) {
                // Well-formed XML, but the stream's content model has no text: RFC 6120 §4.9.3.1.
                return this.fail('bad-format', 'text is not allowed at the top level of the stream');
              }
              return this.fail('not-well-formed', this.sawRoot ? 'content after the end of the stream' : 'text before the stream header');
            }
          }
          if (i === end) break;
          if (this.depth === 0 && this.sawRoot) return this.fail('not-well-formed', 'content after the end of the stream');
          this.unitOpen = true;
          this.unitStart = i;
          this.unitBytes = 0;
          i++;
          st = S.Lt;
          break;
        }

        case S.Lt: {
          const c = s.charCodeAt(i);
          if (isNameStart(c)) {
            this.seg = i;
            i++;
            this.declAllowed = false;
            st = S.StagName;
          } else if (c === 47 /* / */) {
            i++;
            st = S.EtagStart;
          } else if (c === 33 /* ! */) {
            i++;
            st = S.Bang;
          } else if (c === 63 /* ? */) {
            if (!(this.declAllowed && this.depth === 0)) {
              return this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
            }
            this.declAllowed = false;
            this.piBuf = '<';
            st = S.Pi;
          } else {
            return this.fail('not-well-formed', "'<' must start a tag");
          }
          break;
        }

        case S.Bang: {
          // Only CDATA may follow '<!': comments, DOCTYPE, ENTITY etc. are restricted (RFC 6120 §11.1).
          if (s.charCodeAt(i) !== 91 /* [ */) {
            return this.fail('restricted-xml', 'comments and DTDs are not allowed (RFC 6120 §11.1)');
          }
          i++;
          this.cdataMatched = 1;
          st = S.CdataOpen;
          break;
        }

        case S.CdataOpen: {
          while (i < end && this.cdataMatched < CDATA_OPEN.length) {
            if (s.charCodeAt(i) !== CDATA_OPEN.charCodeAt(this.cdataMatched)) {
              return this.fail('restricted-xml', 'markup declarations are not allowed (RFC 6120 §11.1)');
            }
            i++;
            this.cdataMatched++;
          }
          if (this.cdataMatched < CDATA_OPEN.length) break;
          if (this.depth < 2) {
            return this.depth === 1
              ? this.fail('bad-format', 'text is not allowed at the top level of the stream')
              : this.fail('not-well-formed', 'text before the stream header');
          }
          this.cdataBrackets = 0;
          this.seg = i;
          st = S.Cdata;
          break;
        }

        case S.Cdata: {
          // A ']' or ']]' at the end of the previous chunk may complete ']]>' here.
          let br = this.cdataBrackets;
          let closed = false;
          while (br > 0 && i < end) {
            const c = s.charCodeAt(i);
            if (c === 62 /* > */ && br === 2) {
              i++;
              closed = true;
              break;
            }
            if (c !== 93 /* ] */) break;
            if (br < 2) br++;
            i++;
          }
          this.cdataBrackets = 0;
          let content: string;
          if (closed) {
            const upTo = this.take(s, i - 1); // ends with the ']]' of the terminator
            content = upTo.slice(0, upTo.length - 2);
          } else {
            if (br > 0 && i === end) {
              this.cdataBrackets = br;
              break;
            }
            const e = s.indexOf(']]>', i);
            if (e === -1 || e + 3 > end) {
              let n = 0;
              while (n < 2 && end - n > i && s.charCodeAt(end - n - 1) === 93) n++;
              this.cdataBrackets = n;
              i = end;
              break;
            }
            content = this.take(s, e);
            i = e + 3;
          }
          // CDATA content is a text child of its own, as ltx delivers it (and nothing when empty).
          if (content.length > 0) this.cursor!.children.push(content);
          st = S.Text;
          this.seg = i;
          break;
        }

        case S.Pi: {
          // The XML declaration, allowed only before the stream header; any other PI is restricted.
          let buf = this.piBuf;
          let done = false;
          for (; i < end; i++) {
            const c = s.charCodeAt(i);
            buf += s[i];
            if (buf.length === 6 && !/^<\?xml[ \t\r\n]$/.test(buf)) {
              return this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
            }
            if (c === 62 /* > */ && buf.length >= 4 && buf.charCodeAt(buf.length - 2) === 63 /* ? */) {
              i++;
              done = true;
              break;
            }
            if (buf.length > 256) return this.fail('not-well-formed', 'XML declaration too long');
          }
          this.piBuf = buf;
          if (!done) break;
          if (buf.length < 6) return this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
          const err = checkXmlDecl(buf);
          if (err) return this.fail(err[0], err[1]);
          this.piBuf = '';
          this.unitOpen = false;
          st = S.Text;
          break;
        }

        case S.StagName: {
          while (i < end && isNameChar(s.charCodeAt(i))) i++;
          if (this.tok.length + i - this.seg > this.maxName) {
            return this.fail('policy-violation', `element name longer than ${this.maxName} characters`);
          }
          if (i === end) break;
          this.openTag(this.takeName(s, i));
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            st = S.StagSpace;
          } else if (c === 62 /* > */) {
            i++;
            st = S.Text;
            if (!this.startTagDone(s, i, false)) return;
          } else if (c === 47 /* / */) {
            i++;
            st = S.EmptyEnd;
          } else {
            return this.fail('not-well-formed', 'invalid character in element name');
          }
          break;
        }

        case S.StagSpace:
        case S.AfterValue: {
          const c = s.charCodeAt(i);
          if (isSpace(c)) {
            i++;
            if (st === S.AfterValue) st = S.StagSpace;
            else while (i < end && isSpace(s.charCodeAt(i))) i++;
          } else if (c === 62 /* > */) {
            i++;
            st = S.Text;
            if (!this.startTagDone(s, i, false)) return;
          } else if (c === 47 /* / */) {
            i++;
            st = S.EmptyEnd;
          } else if (st === S.StagSpace && isNameStart(c)) {
            if (++this.attrCount > this.maxAttrs) {
              return this.fail('policy-violation', `more than ${this.maxAttrs} attributes on one element`);
            }
            this.seg = i;
            i++;
            st = S.AttrName;
          } else {
            return this.fail('not-well-formed', st === S.AfterValue ? 'attributes must be separated by whitespace' : 'malformed start tag');
          }
          break;
        }

        case S.AttrName: {
          while (i < end && isNameChar(s.charCodeAt(i))) i++;
          if (this.tok.length + i - this.seg > this.maxName) {
            return this.fail('policy-violation', `attribute name longer than ${this.maxName} characters`);
          }
          if (i === end) break;
          const name = this.takeName(s, i);
          // XML 1.0 §3.1 WFC Unique Att Spec. Values are strings: anything else found is inherited.
          const prev = this.attrs[name] as unknown;
          if (prev !== undefined && (typeof prev === 'string' || name === '__proto__')) {
            return this.fail('not-well-formed', typeof prev === 'string' ? 'duplicate attribute' : `attribute name ${name} is not supported`);
          }
          if (!this.prefixed && name.indexOf(':') !== -1) this.prefixed = true;
          this.attrName = name;
          const c = s.charCodeAt(i);
          i++;
          if (c === 61 /* = */) st = S.AttrQuote;
          else if (isSpace(c)) st = S.AttrEq;
          else return this.fail('not-well-formed', 'attribute without a value');
          break;
        }

        case S.AttrEq: {
          while (i < end && isSpace(s.charCodeAt(i))) i++;
          if (i === end) break;
          if (s.charCodeAt(i) !== 61 /* = */) return this.fail('not-well-formed', 'attribute without a value');
          i++;
          st = S.AttrQuote;
          break;
        }

        case S.AttrQuote: {
          while (i < end && isSpace(s.charCodeAt(i))) i++;
          if (i === end) break;
          const c = s.charCodeAt(i);
          if (c !== 34 /* " */ && c !== 39 /* ' */) return this.fail('not-well-formed', 'attribute value must be quoted');
          this.quote = c;
          i++;
          this.seg = i;
          st = S.AttrValue;
          break;
        }

        case S.AttrValue: {
          let q = s.indexOf(this.quote === 34 ? '"' : "'", i);
          if (q === -1 || q > end) q = end;
          if (nextLt < i) {
            nextLt = s.indexOf('<', i);
            if (nextLt === -1 || nextLt > end) nextLt = end;
          }
          if (nextLt < q) return this.fail('not-well-formed', "'<' is not allowed in attribute values");
          if (nextAmp < i) {
            nextAmp = s.indexOf('&', i);
            if (nextAmp === -1 || nextAmp > end) nextAmp = end;
          }
          if (nextAmp < q) {
            if (this.seg < nextAmp) this.tok += s.slice(this.seg, nextAmp);
            i = nextAmp + 1;
            this.refReturn = S.AttrValue;
            this.refBuf = '';
            st = S.Ref;
            break;
          }
          if (q === end) {
            i = end;
            break;
          }
          this.attrs[this.attrName] = this.take(s, q);
          i = q + 1;
          st = S.AfterValue;
          break;
        }

        case S.EmptyEnd: {
          if (s.charCodeAt(i) !== 62 /* > */) return this.fail('not-well-formed', "'/' must be followed by '>'");
          i++;
          st = S.Text;
          if (!this.startTagDone(s, i, true)) return;
          break;
        }

        case S.EtagStart: {
          if (!isNameStart(s.charCodeAt(i))) return this.fail('not-well-formed', 'malformed end tag');
          if (this.depth === 0) return this.fail('not-well-formed', 'end tag before the stream header');
          this.seg = i;
          i++;
          st = S.EtagName;
          break;
        }

        case S.EtagName: {
          while (i < end && isNameChar(s.charCodeAt(i))) i++;
          if (this.tok.length + i - this.seg > this.maxName) {
            return this.fail('policy-violation', `element name longer than ${this.maxName} characters`);
          }
          if (i === end) break;
          if (!this.endTagNameMatches(s, i)) return;
          st = S.EtagSpace;
          break;
        }

        case S.EtagSpace: {
          while (i < end && isSpace(s.charCodeAt(i))) i++;
          if (i === end) break;
          if (s.charCodeAt(i) !== 62 /* > */) return this.fail('not-well-formed', 'malformed end tag');
          i++;
          st = S.Text;
          if (!this.endTagDone(s, i)) return;
          break;
        }

        case S.Ref: {
          const room = MAX_REF_LENGTH - this.refBuf.length;
          const semi = s.indexOf(';', i);
          if (semi !== -1 && semi < end && semi - i <= room) {
            let text: string | null;
            let ref = '';
            if (this.refBuf === '') text = referenceText(s, i, semi);
            else {
              ref = this.refBuf + s.slice(i, semi);
              this.refBuf = '';
              text = referenceText(ref, 0, ref.length);
            }
            if (text === null) {
              const err = checkReference(ref || s.slice(i, semi), true)!;
              return this.fail(err[0], err[1]);
            }
            this.tok += text;
            i = semi + 1;
            this.seg = i;
            st = this.refReturn;
          } else if ((semi === -1 || semi >= end) && end - i <= room) {
            this.refBuf += s.slice(i, end);
            i = end;
            if (!isReferencePrefix(this.refBuf)) {
              const err = checkReference(this.refBuf, false);
              return this.fail(err![0], err![1]);
            }
          } else {
            const err = checkReference(this.refBuf + s.slice(i, i + room), false);
            return this.fail(err![0], err![1]);
          }
          break;
        }
      }
    }
    this.st = st;
  }

  /** A start-tag name is complete: the element (or the stream header's attributes) to fill. */
  private openTag(name: string): void {
    this.tagName = name;
    this.attrCount = 0;
    this.prefixed = name.indexOf(':') !== -1;
    if (this.depth === 0) {
      this.tagEl = null;
      this.attrs = {};
    } else {
      const el = new Element(name) as XmlElement;
      this.tagEl = el;
      this.attrs = el.attrs as Record<string, string>;
    }
  }

  /** A start tag ended just before i. Returns false if the stream failed. */
  private startTagDone(s: string, i: number, empty: boolean): boolean {
    const depth = this.depth;
    if (depth === 0) return this.rootDone(s, i, empty);
    // An empty element is as deep as an open one would be: without this, <a/> could sit one level
    // below max_xml_depth.
    if (depth > this.maxDepth) {
      this.fail('policy-violation', `elements nested deeper than ${this.maxDepth}`);
      return false;
    }
    if (this.prefixed && !this.checkPrefixes(this.tagName, this.attrs)) return false;
    const el = this.tagEl!;
    this.tagEl = null;
    const parent = this.cursor;
    if (parent !== null) {
      parent.children.push(el);
      el.parent = parent;
    }
    if (!empty) {
      this.cursor = el;
      this.depth = depth + 1;
      this.seg = i; // its text starts here
      return true;
    }
    if (depth > 1) {
      this.seg = i; // the parent's text goes on
      return true;
    }
    // An empty top-level element: el.parent stays null, it goes out detached.
    if (!this.unitDone(s, i)) return false;
    return this.emitStanza(el);
  }

  /** The stream header (or an empty root, i.e. a whole stream in one tag) ended just before i. */
  private rootDone(s: string, i: number, empty: boolean): boolean {
    this.sawRoot = true;
    if (!this.unitDone(s, i)) return false;
    const name = this.tagName;
    const attrs = this.attrs;
    if (this.prefixed && !this.checkPrefixes(name, attrs)) return false;
    const colon = name.indexOf(':');
    const prefix = colon === -1 ? '' : name.slice(0, colon);
    const local = colon === -1 ? name : name.slice(colon + 1);
    const ns = colon === -1 ? attrs.xmlns : attrs[`xmlns:${prefix}`];
    // RFC 6120 §4.8.1: the header must be <stream/> qualified by the stream namespace.
    if (local !== 'stream' || ns !== NS.STREAM) {
      this.fail('invalid-namespace', `the stream header must be <stream:stream xmlns:stream='${NS.STREAM}'>`);
      return false;
    }
    // RFC 6120 §4.8.5: an implementation MAY accept only the prefix 'stream' (and we do, so that
    // <stream:features/> and <stream:error/> keep their usual names); else bad-namespace-prefix.
    if (prefix !== 'stream') {
      this.fail('bad-namespace-prefix', "the stream namespace must use the prefix 'stream'");
      return false;
    }
    this.rootName = name;
    this.rootAttrs = attrs;
    this.depth = 1;
    try {
      this.h.streamStart(name, attrs);
    } catch (err) {
      this.handlerFailed(err);
      return false;
    }
    if (this.failed) return false;
    if (!empty) return true;
    this.depth = 0;
    return this.emitStreamEnd();
  }

  /** An end-tag name ends just before i: it must close the innermost open element. */
  private endTagNameMatches(s: string, i: number): boolean {
    const open = this.depth === 1 ? this.rootName : this.cursor!.name;
    let ok: boolean;
    if (this.tok === '') ok = i - this.seg === open.length && s.startsWith(open, this.seg);
    else ok = this.tok + s.slice(this.seg, i) === open;
    if (ok) {
      this.tok = '';
      return true;
    }
    this.fail('not-well-formed', `</${this.take(s, i)}> does not close <${open}>`);
    return false;
  }

  /** An end tag ended just before i. Returns false if the stream failed. */
  private endTagDone(s: string, i: number): boolean {
    const depth = --this.depth;
    if (depth >= 2) {
      this.cursor = this.cursor!.parent;
      this.seg = i; // the parent's text goes on
      return true;
    }
    if (!this.unitDone(s, i)) return false;
    if (depth === 0) return this.emitStreamEnd();
    const el = this.cursor!;
    this.cursor = null; // el.parent is already null: top-level elements are never attached
    return this.emitStanza(el);
  }

  /** The current top-level unit ended just before i: check its size. */
  private unitDone(s: string, i: number): boolean {
    this.unitOpen = false;
    const size = this.unitBytes + this.bytes(s, this.unitStart < 0 ? 0 : this.unitStart, i);
    if (size > this.maxSize) {
      this.failSize();
      return false;
    }
    return true;
  }

  private emitStanza(el: XmlElement): boolean {
    try {
      this.h.stanza(el);
    } catch (err) {
      this.handlerFailed(err);
    }
    return !this.failed;
  }

  private emitStreamEnd(): boolean {
    try {
      this.h.streamEnd();
    } catch (err) {
      this.handlerFailed(err);
    }
    return !this.failed;
  }

  /** Namespaces in XML 1.0 §3-§5 for a prefixed element or attribute name. */
  private checkPrefixes(name: string, attrs: Record<string, string>): boolean {
    const colon = name.indexOf(':');
    if (colon !== -1) {
      const prefix = name.slice(0, colon);
      if (colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) !== -1 || prefix === 'xmlns') {
        this.fail('not-well-formed', `${name} is not a valid qualified name`);
        return false;
      }
      if (prefix !== 'xml' && this.lookupPrefix(prefix, attrs) === undefined) {
        // RFC 6120 §4.9.3.2; during the header it also covers an undeclared stream prefix.
        this.fail('bad-namespace-prefix', `namespace prefix ${prefix} is not declared`);
        return false;
      }
    }
    for (const k in attrs) {
      const c = k.indexOf(':');
      if (c === -1) continue;
      const prefix = k.slice(0, c);
      const local = k.slice(c + 1);
      if (c === 0 || local.length === 0 || local.indexOf(':') !== -1) {
        this.fail('not-well-formed', `${k} is not a valid qualified name`);
        return false;
      }
      if (prefix === 'xmlns') {
        const v = attrs[k];
        if (v === '' || local === 'xmlns' || (local === 'xml') !== (v === XML_NS)) {
          this.fail('not-well-formed', `invalid namespace declaration ${k}`);
          return false;
        }
      } else if (prefix !== 'xml' && this.lookupPrefix(prefix, attrs) === undefined) {
        this.fail('bad-namespace-prefix', `namespace prefix ${prefix} is not declared`);
        return false;
      }
    }
    return true;
  }

  private lookupPrefix(prefix: string, attrs: Record<string, string>): string | undefined {
    const key = `xmlns:${prefix}`;
    if (attrs[key] !== undefined) return attrs[key];
    for (let el = this.cursor; el !== null; el = el.parent) {
      if (el.attrs[key] !== undefined) return el.attrs[key] as string;
    }
    return this.rootAttrs?.[key];
  }

  private handlerFailed(err: unknown): void {
    this.fail('internal-server-error', `stream handler failed: ${(err as Error)?.message ?? String(err)}`);
  }
}

/**
 * The bytes of an incomplete UTF-8 character at the end of the stream so far (what a streaming decoder
 * holds back), given the previous tail and a chunk that decoded without error; null when there is none.
 */
function pendingUtf8(tail: Buffer | null, chunk: Buffer): Buffer | null {
  const b = tail !== null && chunk.length < 4 ? Buffer.concat([tail, chunk]) : chunk;
  for (let j = b.length - 1; j >= 0 && j >= b.length - 4; j--) {
    const c = b[j]!;
    if (c < 0x80) return null;
    if (c >= 0xc0) {
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return b.length - j < need ? Buffer.from(b.subarray(j)) : null;
    }
  }
  return null;
}
