// A parsed YAML config file that can say where a YAML path is: line, column and the source line, for
// error messages an operator can act on without searching the file.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { Segment } from './yaml-path.js';

export interface SourcePosition { line: number; column: number; source: string }

export class YamlSource {
  readonly doc: Document;
  private readonly lines: string[];
  private readonly counter = new LineCounter();

  constructor(readonly file: string, readonly text: string) {
    this.doc = parseDocument(text, { lineCounter: this.counter, prettyErrors: false, uniqueKeys: true });
    this.lines = text.split(/\r?\n/);
  }

  /** Syntax errors, each with its position (yaml reports them all; the loader used to show the first, cut short). */
  syntaxErrors(): Array<{ problem: string; at: SourcePosition }> {
    return this.doc.errors.map((e) => ({ problem: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''), at: this.at(e.pos[0]) }));
  }

  /** The offset's line (1-based), column (1-based) and the text of that line. */
  at(offset: number): SourcePosition {
    const { line, col } = this.counter.linePos(Math.min(offset, this.text.length));
    return { line, column: col, source: this.lines[line - 1] ?? '' };
  }

  /**
   * Where the node at `segments` is: its key (for unknown keys) or its value; for a path that goes beyond
   * the document (a missing key), the deepest node that exists.
   */
  locate(segments: Segment[], want: 'key' | 'value'): SourcePosition | undefined {
    let node: unknown = this.doc.contents;
    let best: Node | undefined = isNode(node) ? node : undefined;
    let keyNode: Node | undefined;
    for (const seg of segments) {
      if (isAlias(node)) node = node.resolve(this.doc);
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = isNode(pair.key) ? pair.key : undefined;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else {
        break;
      }
      const here = want === 'key' && keyNode ? keyNode : isNode(node) && node.range ? node : keyNode;
      if (here) best = here;
    }
    return best?.range ? this.at(best.range[0]) : undefined;
  }
}

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && 'range' in v;
