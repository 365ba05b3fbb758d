// Bounds what the XML parser is given, chunk by chunk, before it sees it: no text node, tag, comment or
// processing instruction longer than `maxRun` characters (ltx keeps an unfinished one as a string it
// re-concatenates with every chunk: one 150 MB text node costs gigabytes of copying), and no DTD (ltx
// silently skips `<!DOCTYPE`, and with it everything up to a later `-->`). Runs after CdataToText, so CDATA
// sections are already plain text and `-->` never arrives split across two chunks.
export class MarkupError extends Error {}

type State = 'text' | 'open' | 'bang' | 'tag' | 'quote' | 'comment' | 'pi';

export class MarkupGuard {
  private state: State = 'text';
  private run = 0; // characters of the current text node or markup
  private quote = '';
  private bang = '';
  private last = ''; // the previous character (a '?' before '>' ends a PI)

  constructor(private readonly maxRun: number) {}

  /** Check one chunk; throws MarkupError at the first problem. */
  check(s: string): void {
    let pos = 0;
    while (pos < s.length) {
      switch (this.state) {
        case 'text': {
          const lt = s.indexOf('<', pos);
          this.grow((lt < 0 ? s.length : lt) - pos, 'a text node');
          if (lt < 0) return this.remember(s);
          this.state = 'open';
          this.run = 0;
          pos = lt + 1;
          break;
        }
        case 'open': {
          const c = s[pos]!;
          this.state = c === '!' ? 'bang' : c === '?' ? 'pi' : 'tag';
          if (c === '!' || c === '?') pos++;
          this.bang = '';
          break;
        }
        case 'bang': {
          this.bang += s[pos++];
          if (this.bang.length < 2 && !'-'.startsWith(this.bang)) this.dtd();
          if (this.bang.length === 2) {
            if (this.bang !== '--') this.dtd();
            this.state = 'comment';
          }
          break;
        }
        case 'comment': {
          const end = s.indexOf('-->', pos);
          this.grow((end < 0 ? s.length : end) - pos, 'a comment');
          if (end < 0) return this.remember(s);
          pos = end + 3;
          this.enterText();
          break;
        }
        case 'pi': {
          const gt = s.indexOf('>', pos);
          this.grow((gt < 0 ? s.length : gt) - pos, 'a processing instruction');
          if (gt < 0) return this.remember(s);
          const prev = gt > 0 ? s[gt - 1] : this.last;
          pos = gt + 1;
          if (prev === '?') this.enterText();
          break;
        }
        case 'tag': {
          const m = /["'>]/g;
          m.lastIndex = pos;
          const hit = m.exec(s);
          const at = hit ? hit.index : s.length;
          this.grow(at - pos, 'a tag');
          if (!hit) return this.remember(s);
          pos = at + 1;
          if (hit[0] === '>') this.enterText();
          else {
            this.quote = hit[0];
            this.state = 'quote';
          }
          break;
        }
        case 'quote': {
          const q = s.indexOf(this.quote, pos);
          this.grow((q < 0 ? s.length : q) - pos, 'an attribute value');
          if (q < 0) return this.remember(s);
          pos = q + 1;
          this.state = 'tag';
          break;
        }
      }
    }
    this.remember(s);
  }

  private enterText(): void {
    this.state = 'text';
    this.run = 0;
  }

  private remember(s: string): void {
    if (s.length) this.last = s[s.length - 1]!;
  }

  private grow(n: number, what: string): void {
    this.run += n;
    if (this.run > this.maxRun) throw new MarkupError(`${what} is longer than ${this.maxRun} characters (import_limits.max_text_bytes)`);
  }

  private dtd(): never {
    throw new MarkupError('DTDs (<!DOCTYPE ...>) are not allowed');
  }
}
