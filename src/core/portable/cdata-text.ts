// Rewrites CDATA sections as escaped character data, chunk by chunk, before ltx's SAX parser sees the text:
// ltx drops the text that follows a CDATA section in the same element (`<b><![CDATA[x]]>y</b>` loses "y").
// The result is the same XML infoset (XML 1.0 §2.7: CDATA is character data). Comments pass unchanged.
const OPEN = '<![CDATA[';
const CLOSE = ']]>';
const COMMENT_OPEN = '<!--';
const COMMENT_CLOSE = '-->';

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export class CdataToText {
  private state: 'text' | 'cdata' | 'comment' = 'text';
  private carry = ''; // a chunk's end that may be the start of a delimiter

  /** Transform one decoded chunk; returns what can be parsed now. */
  push(chunk: string): string {
    let s = this.carry + chunk;
    this.carry = '';
    let out = '';
    for (;;) {
      if (this.state === 'text') {
        const c = s.indexOf(OPEN);
        const m = s.indexOf(COMMENT_OPEN);
        const next = c < 0 ? m : m < 0 ? c : Math.min(c, m);
        if (next < 0) {
          const keep = partialSuffix(s, [OPEN, COMMENT_OPEN]);
          out += s.slice(0, s.length - keep);
          this.carry = s.slice(s.length - keep);
          return out;
        }
        if (next === c) {
          out += s.slice(0, c);
          s = s.slice(c + OPEN.length);
          this.state = 'cdata';
        } else {
          out += s.slice(0, m + COMMENT_OPEN.length);
          s = s.slice(m + COMMENT_OPEN.length);
          this.state = 'comment';
        }
      } else {
        const close = this.state === 'cdata' ? CLOSE : COMMENT_CLOSE;
        const e = s.indexOf(close);
        if (e < 0) {
          const keep = partialSuffix(s, [close]);
          const body = s.slice(0, s.length - keep);
          out += this.state === 'cdata' ? escapeText(body) : body;
          this.carry = s.slice(s.length - keep);
          return out;
        }
        out += this.state === 'cdata' ? escapeText(s.slice(0, e)) : s.slice(0, e + close.length);
        s = s.slice(e + close.length);
        this.state = 'text';
      }
    }
  }

  /** At the end of the input: anything held back (an unterminated section is left for the parser to reject). */
  end(): string {
    const rest = this.carry;
    this.carry = '';
    return this.state === 'cdata' ? OPEN + rest : rest;
  }
}

/** Length of the longest suffix of s that is a proper prefix of one of the delimiters. */
function partialSuffix(s: string, delims: string[]): number {
  let best = 0;
  for (const d of delims) {
    for (let n = Math.min(d.length - 1, s.length); n > best; n--) {
      if (s.endsWith(d.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
