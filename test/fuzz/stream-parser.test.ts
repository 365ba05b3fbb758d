// Fuzzing the XMPP stream parser (RFC 6120 §4, §11; §13.12 limits): valid streams parse the same in one
// chunk and split anywhere, mutated bytes get stanzas or exactly one RFC 6120 stream error, limits hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_NAME_LENGTH, DEFAULT_MAX_STANZA_SIZE, type StreamParserOptions,
} from '../../src/interface/xml/stream-parser.js';
import { describeRun, fuzz } from './support/fuzz-run.js';
import { checkInvariants, parse, trace } from './support/parse-events.js';
import {
  STREAM_HEADER, cutsArb, depthOf, elementsOf, mutate, mutationArb, nodeArb, serialize, split, streamArb, toElement, type XNode,
} from './support/xml-gen.js';

const DEFAULTS: Required<StreamParserOptions> = {
  maxStanzaSize: DEFAULT_MAX_STANZA_SIZE, maxDepth: DEFAULT_MAX_DEPTH, maxAttributes: DEFAULT_MAX_ATTRIBUTES, maxNameLength: DEFAULT_MAX_NAME_LENGTH,
};

/** What a well-formed stream must give: the header, each stanza as built from the model, the end. */
const expected = (nodes: XNode[], close: boolean) => ['start', ...nodes.map((n) => toElement(n).toString()), ...(close ? ['end'] : [])];

/** Traces of the same bytes, chunked two ways: equal, except for which of two faults is reported when
 *  a chunk holds both: the size limit is checked at chunk ends while a unit is still open. */
function sameOutcome(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const last = i === a.length - 1 && a[i]!.startsWith('error:') && b[i]!.startsWith('error:');
    if (!(last && (a[i] === 'error:policy-violation' || b[i] === 'error:policy-violation'))) return false;
  }
  return true;
}

test('a well-formed stream parses to exactly its stanzas, in one chunk and split at any byte', async (t) => {
  const r = await fuzz(
    fc.property(streamArb(), cutsArb, ({ nodes, xml, close }, cuts) => {
      const bytes = Buffer.from(xml, 'utf8');
      const whole = trace(parse([bytes]));
      assert.deepEqual(whole, expected(nodes, close));
      // Byte cuts land inside multi-byte UTF-8 characters, tags, references and CDATA markers.
      assert.deepEqual(trace(parse(split(bytes, cuts))), whole);
    }),
    150,
  );
  t.diagnostic(describeRun(r));
});

test('a well-formed stream given as text (WebSocket frames) parses the same split at any UTF-16 unit', async (t) => {
  const r = await fuzz(
    fc.property(streamArb(), cutsArb, ({ xml }, cuts) => {
      // Cuts may fall between the two halves of a surrogate pair.
      assert.deepEqual(trace(parse(split(xml, cuts))), trace(parse([Buffer.from(xml, 'utf8')])));
    }),
    100,
  );
  t.diagnostic(describeRun(r));
});

test('mutated byte streams in random chunks: stanzas or exactly one RFC 6120 stream error, whatever the chunking', async (t) => {
  const corpus = fc.oneof(
    streamArb({}, 3).map((s) => s.xml),
    fc.constantFrom(
      STREAM_HEADER + "<message to='a@b' type='chat'><body>h&amp;&#233;llo ☃</body></message><presence/>" +
        "<iq type='set' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq></stream:stream>",
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0'>" +
        "<db:result from='a.test' to='b.test'>abc</db:result><x><![CDATA[<y>]]>tail</x>",
      STREAM_HEADER + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth><a:b xmlns:a='u' a:c='d'/>",
    ),
  );
  const r = await fuzz(
    fc.property(corpus, fc.array(mutationArb, { minLength: 1, maxLength: 6 }), cutsArb, (base, muts, cuts) => {
      const bytes = mutate(Buffer.from(base, 'utf8'), muts);
      const whole = parse([bytes]);
      checkInvariants(whole, DEFAULTS);
      const pieces = parse(split(bytes, cuts));
      checkInvariants(pieces, DEFAULTS);
      const a = trace(whole);
      const b = trace(pieces);
      assert.ok(sameOutcome(a, b), `chunking changed the outcome:\n${a.join('\n')}\n---\n${b.join('\n')}`);
    }),
    600,
  );
  t.diagnostic(describeRun(r));
});

test('random bytes and random text, with or without a stream header: never a throw, never a non-RFC 6120 condition', async (t) => {
  const r = await fuzz(
    fc.property(
      fc.boolean(),
      fc.oneof(fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)), fc.array(fc.integer({ min: 0, max: 0x10ffff }).map((c) => (c < 0x10000 ? String.fromCharCode(c) : String.fromCodePoint(c))), { maxLength: 200 }).map((a) => a.join(''))),
      cutsArb,
      (header, body, cuts) => {
        const chunks = [...(header ? [STREAM_HEADER] : []), ...split(body, cuts)];
        checkInvariants(parse(chunks), DEFAULTS);
      },
    ),
    400,
  );
  t.diagnostic(describeRun(r));
});

test('limits hold for any input: deeper, wider, longer-named or larger stanzas end the stream with policy-violation', async (t) => {
  const limitsArb = fc.record({
    maxDepth: fc.integer({ min: 1, max: 5 }),
    maxAttributes: fc.integer({ min: 4, max: 6 }), // the header has 4
    maxNameLength: fc.integer({ min: 13, max: 16 }), // 'stream:stream' has 13
    maxStanzaSize: fc.integer({ min: 200, max: 800 }), // the header has about 130 bytes
  });
  const shape = { depth: 7, attrs: 8, children: 3, nameLength: 20, textLength: 60 };
  const r = await fuzz(
    fc.property(limitsArb, fc.array(fc.tuple(nodeArb(shape), fc.nat(30)), { maxLength: 4 }), cutsArb, (limits, stanzas, cuts) => {
      const texts = stanzas.map(([n, style]) => serialize(n, style));
      const over = (n: XNode, xml: string) =>
        depthOf(n) > limits.maxDepth || Buffer.byteLength(xml) > limits.maxStanzaSize ||
        [...elementsOf(n)].some((e) => e.attrs.length > limits.maxAttributes || e.name.length > limits.maxNameLength ||
          e.attrs.some(([k]) => k.length > limits.maxNameLength));
      const bad = stanzas.findIndex(([n], i) => over(n, texts[i]!));
      const ok = bad === -1 ? stanzas : stanzas.slice(0, bad);
      const want = ['start', ...ok.map(([n]) => toElement(n).toString()), ...(bad === -1 ? [] : ['error:policy-violation'])];
      const bytes = Buffer.from(STREAM_HEADER + texts.join(''), 'utf8');
      const events = parse(split(bytes, cuts), limits);
      checkInvariants(events, limits);
      assert.deepEqual(trace(events), want);
    }),
    300,
  );
  t.diagnostic(describeRun(r));
});
