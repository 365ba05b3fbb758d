// fast-check generators for XMPP streams: well-formed stanza trees (with the expected parse as ltx
// elements), byte-level mutations of a stream, and chunkings of a byte or UTF-16 string at any point.
import fc from 'fast-check';
import Element from 'ltx/lib/Element.js';

export const STREAM_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

export interface XNode {
  name: string;
  attrs: Array<[string, string]>;
  children: Array<XNode | XText>;
}
/** Character data as written: escaped (with some character references), or as a CDATA section. */
export interface XText { text: string; cdata: boolean; refs: number }

const isNode = (c: XNode | XText): c is XNode => 'name' in c;

/** XML 1.0 §2.2 Char, minus CR (XML end-of-line handling would rewrite it; ltx does not). */
const xmlChar = (cp: number): boolean =>
  cp === 0x9 || cp === 0xa || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;

/** Text mixing ASCII markup characters, 2-, 3- and 4-byte UTF-8 characters. */
export const textArb = (maxLength = 40): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom('a', 'b', ' ', '\n', '\t', '<', '>', '&', '"', "'", ']', ']]', '=', ';', '/'),
        fc.constantFrom('é', 'ß', 'Ж', '中', '€', '😀', '𝄞', '\u0301', '\u200d'),
        fc.fullUnicode().filter((ch) => xmlChar(ch.codePointAt(0)!)),
      ),
      { maxLength },
    )
    .map((a) => a.join(''));

const NAME_START = ['a', 'b', 'x', 'Q', '_', 'é', '中', 'Ω', '𐀀'];
const NAME_REST = ['a', 'z', '0', '9', '-', '.', '_', 'é', '·', '中', '\u0300'];
export const nameArb = (maxLength = 12): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...NAME_START), fc.array(fc.constantFrom(...NAME_REST), { maxLength: maxLength - 1 }))
    .map(([a, b]) => a + b.join(''));

export interface TreeShape { depth: number; attrs: number; children: number; nameLength: number; textLength: number }
const SMALL: TreeShape = { depth: 4, attrs: 3, children: 3, nameLength: 10, textLength: 30 };

/** A stanza tree. Prefixed names always declare their prefix on the same element. */
export function nodeArb(shape: Partial<TreeShape> = {}): fc.Arbitrary<XNode> {
  const s = { ...SMALL, ...shape };
  const text: fc.Arbitrary<XText> = fc.record({ text: textArb(s.textLength).filter((t) => t !== ''), cdata: fc.boolean(), refs: fc.nat(3) })
    .map((t) => (t.cdata && t.text.includes(']]>') ? { ...t, cdata: false } : t));
  const attrsArb = fc.uniqueArray(fc.tuple(nameArb(s.nameLength), textArb(20)), { maxLength: s.attrs, selector: (a) => a[0] });
  const tie = fc.letrec<{ node: XNode }>((rec) => ({
    node: fc
      .record({
        name: nameArb(s.nameLength),
        prefix: fc.option(fc.constantFrom('p', 'db', 'stream'), { freq: 4 }),
        ns: fc.option(fc.constantFrom('urn:x', 'jabber:client', 'urn:ietf:params:xml:ns:xmpp-stanzas'), { freq: 2 }),
        attrs: attrsArb,
        // At the depth bound oneof picks its first arbitrary (text), so trees never exceed s.depth.
        children: fc.array(fc.oneof({ maxDepth: s.depth - 1, depthIdentifier: 'xml-tree', withCrossShrink: true }, text, rec('node')), { maxLength: s.children }),
      })
      .map(({ name, prefix, ns, attrs, children }) => {
        const own = attrs.filter(([k]) => k !== 'xmlns');
        const decl: Array<[string, string]> = [];
        if (prefix !== null) decl.push([`xmlns:${prefix}`, 'urn:prefixed']);
        if (ns !== null) decl.push(['xmlns', ns]);
        // Keep within the attribute budget the shape allows (the limits property relies on it).
        const all = [...decl, ...own].slice(0, Math.max(s.attrs, decl.length));
        return { name: prefix !== null ? `${prefix}:${name}` : name, attrs: all, children: children as Array<XNode | XText> };
      }),
  }));
  return tie.node;
}

export function depthOf(n: XNode): number {
  let d = 0;
  for (const c of n.children) if (isNode(c)) d = Math.max(d, depthOf(c));
  return d + 1;
}

/** Every element of a tree, the root first. */
export function* elementsOf(n: XNode): Generator<XNode> {
  yield n;
  for (const c of n.children) if (isNode(c)) yield* elementsOf(c);
}

const escText = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (t: string, q: string) => escText(t).replace(q === '"' ? /"/g : /'/g, q === '"' ? '&quot;' : '&apos;');

/** Replace the first `n` non-markup characters by decimal or hex character references. */
function withRefs(escaped: string, n: number): string {
  let left = n;
  return escaped.replace(/[^&;<>#a-z]/gu, (ch) => {
    if (left <= 0) return ch;
    left--;
    const cp = ch.codePointAt(0)!;
    return left % 2 ? `&#${cp};` : `&#x${cp.toString(16)};`;
  });
}

/** Writes a tree as XML, varying what XML allows to vary (quotes, empty tags, refs, CDATA, spaces). */
export function serialize(n: XNode, style = 0): string {
  const q = style % 2 ? '"' : "'";
  const sp = style % 3 === 0 ? ' ' : style % 3 === 1 ? '\n ' : '\t';
  let out = `<${n.name}`;
  for (const [k, v] of n.attrs) out += `${sp}${k}=${q}${escAttr(v, q)}${q}`;
  if (n.children.length === 0 && style % 5 !== 0) return `${out}/>`;
  out += '>';
  n.children.forEach((c, i) => {
    if (isNode(c)) out += serialize(c, style + i + 1);
    else if (c.cdata) out += `<![CDATA[${c.text}]]>`;
    else out += withRefs(escText(c.text), c.refs);
  });
  return `${out}</${n.name}${style % 7 === 3 ? ' ' : ''}>`;
}

/** The element the parser should build for a tree (compared through ltx's serialization). */
export function toElement(n: XNode): Element {
  const el = new Element(n.name, Object.fromEntries(n.attrs));
  for (const c of n.children) {
    if (isNode(c)) el.cnode(toElement(c));
    else el.t(c.text);
  }
  return el;
}

/** A whole well-formed stream: header, stanzas with keepalive whitespace between them, maybe the end tag. */
export const streamArb = (shape: Partial<TreeShape> = {}, maxStanzas = 5) =>
  fc.record({
    stanzas: fc.array(fc.tuple(nodeArb(shape), fc.nat(40), fc.constantFrom('', ' ', '\n', '\r\n\t ')), { maxLength: maxStanzas }),
    close: fc.boolean(),
  }).map(({ stanzas, close }) => ({
    nodes: stanzas.map(([n]) => n),
    xml: STREAM_HEADER + stanzas.map(([n, style, ws]) => serialize(n, style) + ws).join('') + (close ? '</stream:stream>' : ''),
    close,
  }));

/** Split points (sorted, distinct, inside (0, length)) for a string or buffer of the given length. */
export const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

export function split<T extends string | Buffer>(data: T, cuts: number[]): T[] {
  const pos = [...new Set(cuts.map((c) => Math.floor(c * data.length)))].filter((p) => p > 0 && p < data.length).sort((a, b) => a - b);
  const out: T[] = [];
  let from = 0;
  for (const p of [...pos, data.length]) {
    out.push(data.slice(from, p) as T);
    from = p;
  }
  return out;
}

// ---- byte-level mutation ----------------------------------------------------------------------------

/** Fragments that steer a mutation into the parser's interesting states. */
export const TOKENS: Buffer[] = [
  '<', '>', '/>', '</', '&', ';', '"', "'", '=', ' ', ':', ']]>', '<![CDATA[', '<!--', '-->', '<?', '?>', '<?xml version="1.0"?>',
  '<!DOCTYPE x [<!ENTITY e "x">]>', '&amp;', '&lt;', '&#0;', '&#x110000;', '&#xD800;', '&#65;', '&foo;', '&#;', '&#x;',
  '</stream:stream>', "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", "xmlns=''", "xmlns:a='b'", 'a:b',
  "xmlns:xml='x'", '<a:b>', 'xml:lang', '\u00e9', '\u{1f600}', '\ufeff', '\ufffe', 'x'.repeat(300),
].map((t) => Buffer.from(t, 'utf8')).concat([
  Buffer.from([0xc0]), Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf0, 0x9f]),
  Buffer.from([0x00]), Buffer.from([0x0b]), Buffer.from([0x0d]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
]);

export type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'insert'; at: number; bytes: Buffer }
  | { op: 'delete'; at: number; len: number }
  | { op: 'repeat'; at: number; len: number; times: number }
  | { op: 'truncate'; at: number };

const at = fc.double({ min: 0, max: 1, noNaN: true });
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: fc.oneof(fc.constantFrom(...TOKENS), fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from(a))) }),
  fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('repeat' as const), at, len: fc.integer({ min: 1, max: 24 }), times: fc.integer({ min: 2, max: 200 }) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
);

export function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const i = Math.floor(m.at * b.length);
    switch (m.op) {
      case 'flip': {
        if (b.length === 0) break;
        const c = Buffer.from(b);
        const j = Math.min(i, c.length - 1);
        c[j] = c[j]! ^ m.mask;
        b = c;
        break;
      }
      case 'insert':
        b = Buffer.concat([b.subarray(0, i), m.bytes, b.subarray(i)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, i), b.subarray(i + m.len)]);
        break;
      case 'repeat': {
        const piece = b.subarray(i, i + m.len);
        b = Buffer.concat([b.subarray(0, i), ...Array<Buffer>(m.times).fill(piece), b.subarray(i)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, i);
        break;
    }
  }
  return b;
}
