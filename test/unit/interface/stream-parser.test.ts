// Unit tests for the XMPP stream parser: RFC 6120 §4 (streams), §4.9 (stream errors), §11 (XML restrictions, UTF-8).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '@xmpp/xml';
import { StreamParser, type StreamParserOptions } from '../../../src/interface/xml/stream-parser.js';
import type { StreamErrorCondition } from '../../../src/core/errors.js';

type Event =
  | { kind: 'start'; name: string; attrs: Record<string, string> }
  | { kind: 'stanza'; el: Element }
  | { kind: 'end' }
  | { kind: 'error'; condition: StreamErrorCondition; text: string };

function harness(opts: StreamParserOptions = {}) {
  const events: Event[] = [];
  const parser = new StreamParser(
    {
      streamStart: (name, attrs) => events.push({ kind: 'start', name, attrs }),
      stanza: (el) => events.push({ kind: 'stanza', el }),
      streamEnd: () => events.push({ kind: 'end' }),
      error: (condition, text) => events.push({ kind: 'error', condition, text }),
    },
    opts,
  );
  const write = (...chunks: Array<string | Buffer>) => {
    for (const c of chunks) parser.write(c);
  };
  const stanzas = () => events.filter((e): e is Extract<Event, { kind: 'stanza' }> => e.kind === 'stanza').map((e) => e.el);
  const errors = () => events.filter((e): e is Extract<Event, { kind: 'error' }> => e.kind === 'error');
  /** A compact trace: "start", "<message .../>", "end", "error:cond". */
  const trace = () =>
    events.map((e) =>
      e.kind === 'start' ? 'start' : e.kind === 'stanza' ? e.el.toString() : e.kind === 'end' ? 'end' : `error:${e.condition}`,
    );
  return { parser, events, write, stanzas, errors, trace };
}

const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>";
const MSG = "<message to='a@b' type='chat' id='x'><body>hello</body></message>";

/** Feeds `input` to a fresh parser and returns the single error condition it reported. */
function errorOf(chunks: Array<string | Buffer>, opts?: StreamParserOptions): StreamErrorCondition | undefined {
  const h = harness(opts);
  h.write(...chunks);
  const errs = h.errors();
  assert.ok(errs.length <= 1, 'at most one error is reported');
  return errs[0]?.condition;
}

/** Same, after a valid stream header. */
function errorAfterHeader(...chunks: Array<string | Buffer>): StreamErrorCondition | undefined {
  return errorOf([HEADER, ...chunks]);
}

describe('stream parser: normal operation', () => {
  test('alice opens a stream, sends stanzas and closes it', () => {
    const h = harness();
    h.write(
      HEADER,
      MSG,
      "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
      "<presence><x xmlns:foo='urn:foo' foo:bar='1'><foo:c/></x></presence>",
      '</stream:stream>',
    );
    assert.deepEqual(h.trace(), [
      'start',
      '<message to="a@b" type="chat" id="x"><body>hello</body></message>',
      '<iq type="get" id="r1"><query xmlns="jabber:iq:roster"/></iq>',
      '<presence><x xmlns:foo="urn:foo" foo:bar="1"><foo:c/></x></presence>',
      'end',
    ]);
    const start = h.events[0] as Extract<Event, { kind: 'start' }>;
    assert.equal(start.name, 'stream:stream');
    assert.deepEqual(start.attrs, {
      xmlns: 'jabber:client',
      'xmlns:stream': 'http://etherx.jabber.org/streams',
      to: 'example.com',
      version: '1.0',
      'xml:lang': 'en',
    });
    const [msg, iq, pres] = h.stanzas();
    // Top-level elements come out detached; namespaces declared inside them still resolve.
    for (const el of [msg!, iq!, pres!]) assert.equal(el.parent, null);
    assert.equal(msg!.getChildText('body'), 'hello');
    assert.equal(iq!.getChild('query')!.getNS(), 'jabber:iq:roster');
    assert.equal(pres!.getChild('x')!.getChild('c')!.getNS(), 'urn:foo');
    assert.equal(iq!.getChild('query')!.parent, iq);
  });

  test('a stanza split byte by byte across writes comes out intact', () => {
    const input = HEADER + "<message id='é€'><body>h&amp;i €😀 &#x1F600;</body><x xmlns='urn:x' a=\"'\"/></message></stream:stream>";
    const whole = harness();
    whole.write(input);
    const bytes = Buffer.from(input, 'utf8');
    const split = harness();
    for (const b of bytes) split.write(Buffer.from([b]));
    assert.deepEqual(split.trace(), whole.trace());
    assert.equal(split.stanzas()[0]!.getChildText('body'), 'h&i €😀 😀');
    assert.equal(split.stanzas()[0]!.attrs.id, 'é€');
    assert.deepEqual(whole.trace().at(-1), 'end');
  });

  test('random chunkings of a stream all give the same stanzas', () => {
    const input =
      "<?xml version='1.0' encoding='UTF-8'?>" + HEADER + '\n ' +
      Array.from({ length: 20 }, (_, i) =>
        `<message id='m${i}' to="b@c/€"><body>x &lt;${i}&gt; &#233; 😀</body><![CDATA[<raw>${i}]]>t${i}</message> `,
      ).join('') + '</stream:stream>';
    const ref = harness();
    ref.write(input);
    assert.equal(ref.stanzas().length, 20);
    assert.equal(ref.errors().length, 0);
    const bytes = Buffer.from(input, 'utf8');
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    for (let round = 0; round < 50; round++) {
      const h = harness();
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + rnd(40);
        h.write(bytes.subarray(i, i + n));
        i += n;
      }
      assert.deepEqual(h.trace(), ref.trace());
    }
  });

  test('a multi-byte character split across two chunks comes out intact', () => {
    for (const ch of ['€', '😀']) {
      const bytes = Buffer.from(ch, 'utf8');
      for (let cut = 1; cut < bytes.length; cut++) {
        const h = harness();
        h.write(HEADER, `<message id='`, bytes.subarray(0, cut), bytes.subarray(cut), `'><body>`);
        h.write(bytes.subarray(0, cut), bytes.subarray(cut), '</body></message>');
        const [el] = h.stanzas();
        assert.ok(el, `stanza for ${ch} cut at ${cut}`);
        assert.equal(el.attrs.id, ch);
        assert.equal(el.getChildText('body'), ch);
      }
    }
  });

  test('string input (e.g. WebSocket frames) with a surrogate pair split across writes', () => {
    const h = harness();
    h.write(HEADER, '<message><body>a\ud83d', '\ude00b</body></message>');
    assert.equal(h.stanzas()[0]!.getChildText('body'), 'a😀b');
  });

  test('the XML declaration is accepted before the stream header, and a BOM before it', () => {
    const h = harness();
    h.write(Buffer.from([0xef, 0xbb, 0xbf]), '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n', HEADER, MSG);
    assert.deepEqual(h.trace().slice(0, 2), ['start', '<message to="a@b" type="chat" id="x"><body>hello</body></message>']);
    const split = harness();
    split.write('<', '?', 'xm', "l version='1.0'?", '>', HEADER, MSG);
    assert.equal(split.stanzas().length, 1);
    assert.equal(split.errors().length, 0);
  });

  test('whitespace keepalives between stanzas are ignored, even many of them', () => {
    const h = harness({ maxStanzaSize: 1000 });
    h.write(' \n', HEADER, ' ', '\r\n\t ');
    for (let i = 0; i < 5000; i++) h.write(' ');
    h.write(MSG, '\n\n', ' '.repeat(5000), MSG, ' ');
    assert.deepEqual(h.trace().filter((t) => t !== 'start').length, 2);
    assert.equal(h.errors().length, 0);
  });

  test('predefined entities and numeric character references are decoded', () => {
    const h = harness();
    h.write(HEADER, "<message a='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;'><body>&lt;&gt;&amp;&quot;&apos;&#233;&#x20AC;&#x1F600;</body></message>");
    const [el] = h.stanzas();
    assert.equal(el!.attrs.a, `<>&"'AB`);
    assert.equal(el!.getChildText('body'), `<>&"'é€😀`);
  });

  test('CDATA may contain markup-looking text; text after it is kept', () => {
    const h = harness();
    h.write(HEADER, '<message><body><![CDATA[<!-- x --> <?pi?> &foo; <!DOCTYPE ]] ]>]]>after &amp; more</body></message>');
    h.write('<message><body><![CDATA[a]', ']', ']>', 'tail</body></message>');
    h.write('<message><body><![CDATA[x]]]]></body></message>');
    assert.equal(h.errors().length, 0);
    const [a, b, c] = h.stanzas();
    assert.equal(a!.getChild('body')!.getText(), '<!-- x --> <?pi?> &foo; <!DOCTYPE ]] ]>after & more');
    assert.equal(b!.getChild('body')!.getText(), 'a]tail');
    assert.equal(c!.getChild('body')!.getText(), 'x]]');
  });

  test('a stream that ends with an empty root is a stream start and end', () => {
    const h = harness();
    h.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
    assert.deepEqual(h.trace(), ['start', 'end']);
  });
});

describe('stream parser: UTF-8 (RFC 6120 §11.6, §4.9.3.22)', () => {
  for (const [label, bytes] of [
    ['0xFF', [0xff]],
    ['overlong', [0xc0, 0x80]],
    ['encoded surrogate', [0xed, 0xa0, 0x80]],
    ['truncated sequence', [0xe2, 0x82, 0x41]],
  ] as const) {
    test(`invalid UTF-8 (${label}) is unsupported-encoding`, () => {
      assert.equal(errorAfterHeader('<message><body>', Buffer.from(bytes)), 'unsupported-encoding');
    });
  }

  test('an XML declaration naming another encoding is unsupported-encoding', () => {
    assert.equal(errorOf(["<?xml version='1.0' encoding='ISO-8859-1'?>", HEADER]), 'unsupported-encoding');
  });
});

describe('stream parser: restricted XML (RFC 6120 §11.1)', () => {
  const cases: Array<[string, Array<string>]> = [
    ['comment', ['<!-- hi -->']],
    ['comment inside a stanza', ['<message><!-- hi --></message>']],
    ['comment split <! + --', ['<message>', '<!', '-- x -->']],
    ['comment split < + !--', ['<', '!--']],
    ['comment split <!- + -', ['<!-', '-']],
    ['processing instruction', ['<?foo bar?>']],
    ['processing instruction split', ['<message><', '?foo?>']],
    ['XML declaration after the header', ["<?xml version='1.0'?>"]],
    ['DOCTYPE', ['<!DOCTYPE x>']],
    ['ENTITY declaration', ['<!ENTITY x "y">']],
    ['conditional section', ['<message><![INCLUDE[x]]></message>']],
    ['unknown entity in text', ['<message><body>&foo;</body></message>']],
    ['unknown entity split', ['<message><body>&fo', 'o;</body></message>']],
    ['unknown entity split after &', ['<message><body>&', 'foo;</body></message>']],
    ['unknown entity in an attribute', ["<message id='&foo;'/>"]],
    ['entity with a predefined prefix', ['<message>&amp2;</message>']],
  ];
  for (const [label, chunks] of cases) {
    test(`${label} is restricted-xml`, () => {
      assert.equal(errorAfterHeader(...chunks), 'restricted-xml');
    });
  }

  test('DOCTYPE and comments before the stream header are restricted-xml', () => {
    assert.equal(errorOf(['<!DOCTYPE stream>', HEADER]), 'restricted-xml');
    assert.equal(errorOf(['<!-- hello -->', HEADER]), 'restricted-xml');
    assert.equal(errorOf(['<?xml-stylesheet href="x"?>', HEADER]), 'restricted-xml');
  });

  test('ltx would throw on an unknown entity: write() does not', () => {
    const h = harness();
    assert.doesNotThrow(() => h.write(HEADER, '<message>&nbsp;</message>'));
    assert.deepEqual(h.trace(), ['start', 'error:restricted-xml']);
  });

  test('stanzas before the offending construct in the same chunk are delivered first', () => {
    const h = harness();
    h.write(HEADER + MSG + '<!-- x -->' + MSG);
    assert.deepEqual(h.trace(), ['start', '<message to="a@b" type="chat" id="x"><body>hello</body></message>', 'error:restricted-xml']);
  });
});

describe('stream parser: well-formedness (RFC 6120 §4.9.3.13)', () => {
  const cases: Array<[string, Array<string | Buffer>]> = [
    ['mismatched end tag', ['<message><body></message></body>']],
    ['end tag at the top level that does not close the stream', ['</message>']],
    ['end tag for the stream with the wrong name', ['</stream:strea>']],
    ['unquoted attribute value', ['<message id=x1/>']],
    ['attribute without value', ['<message hidden/>']],
    ['duplicate attribute', ["<message id='1' id='2'/>"]],
    ['duplicate attribute split', ["<message id='1' i", "d='2'/>"]],
    ["'<' in an attribute value", ["<message id='a<b'/>"]],
    ['no whitespace between attributes', ["<message a='1'b='2'/>"]],
    ['space after <', ['< message/>']],
    ['bad character in a name', ['<mes$age/>']],
    ['bare ampersand', ['<message>a & b</message>']],
    ['ampersand without ;', ['<message>&amp</message>']],
    ['character reference to NUL', ['<message>&#x0;</message>']],
    ['character reference to U+0001', ["<message a='&#1;'/>"]],
    ['character reference to U+FFFE', ['<message>&#xFFFE;</message>']],
    ['malformed character reference', ['<message>&#xZZ;</message>']],
    ['NUL character', ['<message>\u0000</message>']],
    ['U+000B character', [Buffer.from('<message>\u000b</message>')]],
    ['U+000C character', ['<message a="\u000c"/>']],
    ['U+001F character', ['<message>\u001f</message>']],
    ['unpaired surrogate (string input)', ['<message>\ud800x</message>']],
    ['invalid qualified name', ['<a:b:c xmlns:a="x"/>']],
    ['empty namespace declaration for a prefix', ["<message xmlns:p=''/>"]],
    ['content after the end of the stream', ['</stream:stream><message/>']],
    ['a second root after the end of the stream', ['</stream:stream>', HEADER]],
    ['slash not followed by >', ['<message/ >']],
  ];
  for (const [label, chunks] of cases) {
    test(`${label} is not-well-formed`, () => {
      assert.equal(errorAfterHeader(...chunks), 'not-well-formed');
    });
  }

  test('text before the stream header is not-well-formed, whitespace is fine', () => {
    assert.equal(errorOf(['hello', HEADER]), 'not-well-formed');
    assert.equal(errorOf(['&amp;', HEADER]), 'not-well-formed');
    assert.equal(errorOf([' \r\n\t', HEADER]), undefined);
  });

  test('an end tag before the stream header is not-well-formed', () => {
    assert.equal(errorOf(['</stream:stream>']), 'not-well-formed');
  });

  test('non-whitespace text at the top level is bad-format (RFC 6120 §4.9.3.1)', () => {
    assert.equal(errorAfterHeader(MSG, 'junk', MSG), 'bad-format');
    assert.equal(errorAfterHeader('&amp;'), 'bad-format');
    assert.equal(errorAfterHeader('<![CDATA[x]]>'), 'bad-format');
  });
});

describe('stream parser: stream header namespaces (RFC 6120 §4.8)', () => {
  test('a wrong stream namespace is invalid-namespace', () => {
    assert.equal(errorOf(["<stream:stream xmlns:stream='http://example.com/streams'>"]), 'invalid-namespace');
    assert.equal(errorOf(["<stream:stream xmlns='http://etherx.jabber.org/streams' xmlns:stream='jabber:client'>"]), 'invalid-namespace');
    assert.equal(errorOf(["<stream xmlns='jabber:client'>"]), 'invalid-namespace');
    assert.equal(errorOf(["<stream:foo xmlns:stream='http://etherx.jabber.org/streams'>"]), 'invalid-namespace');
    assert.equal(errorOf(['<message/>']), 'invalid-namespace');
  });

  test('an undeclared or unaccepted stream prefix is bad-namespace-prefix', () => {
    assert.equal(errorOf(["<stream:stream xmlns='jabber:client'>"]), 'bad-namespace-prefix');
    assert.equal(errorOf(["<s:stream xmlns:s='http://etherx.jabber.org/streams'>"]), 'bad-namespace-prefix');
    assert.equal(errorOf(["<stream xmlns='http://etherx.jabber.org/streams'>"]), 'bad-namespace-prefix');
  });

  test('an undeclared prefix inside a stanza is bad-namespace-prefix; one declared on the root is fine', () => {
    assert.equal(errorAfterHeader('<message><foo:x/></message>'), 'bad-namespace-prefix');
    assert.equal(errorAfterHeader("<message foo:a='1'/>"), 'bad-namespace-prefix');
    const h = harness();
    h.write(HEADER, '<stream:features/>', "<message><x xml:lang='de'/></message>");
    assert.deepEqual(h.trace(), ['start', '<stream:features/>', '<message><x xml:lang="de"/></message>']);
  });
});

describe('stream parser: limits (RFC 6120 §4.9.3.14, §13.12)', () => {
  const max = 1000;
  const stanzaOf = (size: number) => {
    const head = '<message><body>';
    const tail = '</body></message>';
    return head + 'x'.repeat(size - head.length - tail.length) + tail;
  };

  test('a stanza of exactly maxStanzaSize bytes passes, one byte more is policy-violation', () => {
    const ok = harness({ maxStanzaSize: max });
    ok.write(HEADER + stanzaOf(max));
    assert.equal(ok.stanzas().length, 1);
    assert.equal(ok.errors().length, 0);
    const big = harness({ maxStanzaSize: max });
    big.write(HEADER + MSG + stanzaOf(max + 1) + MSG);
    // The stanza before the oversized one still arrives; the oversized one never does.
    assert.deepEqual(big.trace(), ['start', '<message to="a@b" type="chat" id="x"><body>hello</body></message>', 'error:policy-violation']);
  });

  test('the size is counted in UTF-8 bytes, not characters', () => {
    const body = '€'.repeat(400); // 400 characters, 1200 bytes
    assert.equal(errorAfterHeader(`<message><body>${body}</body></message>`), undefined);
    assert.equal(errorOf([HEADER, `<message><body>${body}</body></message>`], { maxStanzaSize: max }), 'policy-violation');
    assert.equal(errorOf([HEADER, Buffer.from(`<message><body>${body}</body></message>`)], { maxStanzaSize: max }), 'policy-violation');
  });

  test('a trickled stanza that never ends is stopped after about maxStanzaSize bytes', () => {
    const h = harness({ maxStanzaSize: max });
    h.write(HEADER, '<message><body>');
    let sent = 0;
    while (h.errors().length === 0 && sent < 10 * max) {
      h.write('y'.repeat(100));
      sent += 100;
    }
    assert.deepEqual(h.trace(), ['start', 'error:policy-violation']);
    assert.ok(sent <= max + 100, `stopped after ${sent} bytes`);
  });

  test('an attribute value or a stream header that never ends is stopped too', () => {
    const h = harness({ maxStanzaSize: max });
    h.write(HEADER, "<message id='");
    for (let i = 0; i < 50 && h.errors().length === 0; i++) h.write('z'.repeat(100));
    assert.deepEqual(h.trace(), ['start', 'error:policy-violation']);
    const hdr = harness({ maxStanzaSize: max });
    hdr.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='");
    for (let i = 0; i < 50 && hdr.errors().length === 0; i++) hdr.write('z'.repeat(100));
    assert.deepEqual(hdr.trace(), ['error:policy-violation']);
  });

  test('deep nesting is policy-violation', () => {
    assert.equal(errorAfterHeader('<a>'.repeat(100) + '</a>'.repeat(100)), undefined);
    assert.equal(errorAfterHeader('<a>'.repeat(101)), 'policy-violation');
    assert.equal(errorOf([HEADER, '<a>'.repeat(6)], { maxDepth: 5 }), 'policy-violation');
  });

  test('too many attributes is policy-violation', () => {
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join('');
    assert.equal(errorAfterHeader(`<message${attrs(64)}/>`), undefined);
    assert.equal(errorAfterHeader(`<message${attrs(65)}/>`), 'policy-violation');
  });
});

describe('stream parser: robustness', () => {
  test('after an error nothing more is emitted', () => {
    const h = harness();
    h.write(HEADER, MSG, '<!-- x -->');
    const before = h.trace();
    assert.deepEqual(before, ['start', '<message to="a@b" type="chat" id="x"><body>hello</body></message>', 'error:restricted-xml']);
    h.write(MSG, MSG, '</stream:stream>', Buffer.from([0xff]), '&foo;');
    assert.deepEqual(h.trace(), before);
  });

  test('a throwing handler becomes internal-server-error and write() does not throw', () => {
    const errors: string[] = [];
    const p = new StreamParser(
      {
        streamStart: () => {},
        stanza: () => {
          throw new Error('boom');
        },
        streamEnd: () => {},
        error: (c) => {
          errors.push(c);
          throw new Error('again');
        },
      },
      {},
    );
    assert.doesNotThrow(() => p.write(HEADER + MSG + MSG));
    assert.deepEqual(errors, ['internal-server-error']);
  });

  test('write() never throws on random bytes, reports at most one error and nothing after it', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const alphabet = Buffer.from("<>/!?[]&;#x'\"= :abcsm-\n\u00e9CDATA", 'latin1');
    const valid = Buffer.from(HEADER + MSG + "<iq><q xmlns='x' a='&amp;'><![CDATA[z]]>t</q></iq>" + MSG, 'utf8');
    for (let round = 0; round < 3000; round++) {
      const h = harness({ maxStanzaSize: 2000 });
      let buf: Buffer;
      if (round % 3 === 0) {
        buf = Buffer.alloc(1 + rnd(300));
        for (let i = 0; i < buf.length; i++) buf[i] = rnd(256);
      } else if (round % 3 === 1) {
        buf = Buffer.alloc(1 + rnd(300));
        for (let i = 0; i < buf.length; i++) buf[i] = alphabet[rnd(alphabet.length)]!;
        buf = Buffer.concat([Buffer.from(HEADER), buf]);
      } else {
        // Mutate a valid stream: flip, drop or insert a few bytes.
        const b = [...valid];
        for (let k = 0; k < 1 + rnd(4); k++) {
          const at = rnd(b.length);
          const op = rnd(3);
          if (op === 0) b[at] = alphabet[rnd(alphabet.length)]!;
          else if (op === 1) b.splice(at, 1);
          else b.splice(at, 0, rnd(256));
        }
        buf = Buffer.from(b);
      }
      assert.doesNotThrow(() => {
        for (let i = 0; i < buf.length; ) {
          const n = 1 + rnd(64);
          h.parser.write(round % 2 ? buf.subarray(i, i + n) : buf.subarray(i, i + n).toString('latin1'));
          i += n;
        }
      });
      const errAt = h.events.findIndex((e) => e.kind === 'error');
      assert.ok(errAt === -1 || errAt === h.events.length - 1, 'nothing after an error');
      for (const e of h.events) if (e.kind === 'stanza') assert.equal(e.el.parent, null);
    }
  });
});
