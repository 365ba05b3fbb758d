// JID parsing and PRECIS preparation: RFC 7622 §3.5 examples, plus casing, lengths, domains.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, JidError, prepDomainpart, prepLocalpart, prepResourcepart } from '../../../src/core/jid.js';

function parts(s: string): [string, string, string] {
  const j = Jid.parse(s);
  return [j.local, j.domain, j.resource];
}

function assertInvalid(s: string, pattern?: RegExp): void {
  assert.throws(() => Jid.parse(s), (err: unknown) => {
    assert.ok(err instanceof JidError, `expected JidError for ${JSON.stringify(s)}, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
  assert.equal(Jid.tryParse(s), null);
}

describe('RFC 7622 §3.5 valid JIDs', () => {
  const cases: Array<[string, [string, string, string]]> = [
    ['juliet@example.com', ['juliet', 'example.com', '']],
    ['juliet@example.com/foo', ['juliet', 'example.com', 'foo']],
    ['juliet@example.com/foo bar', ['juliet', 'example.com', 'foo bar']],
    ['juliet@example.com/foo@bar', ['juliet', 'example.com', 'foo@bar']],
    ['foo\\20bar@example.com', ['foo\\20bar', 'example.com', '']],
    ['fussball@example.com', ['fussball', 'example.com', '']],
    ['fußball@example.com', ['fußball', 'example.com', '']],
    ['π@example.com', ['π', 'example.com', '']],
    ['Σ@example.com/foo', ['σ', 'example.com', 'foo']],
    ['σ@example.com/foo', ['σ', 'example.com', 'foo']],
    ['ς@example.com/foo', ['ς', 'example.com', 'foo']],
    ['king@example.com/♚', ['king', 'example.com', '♚']],
    ['example.com', ['', 'example.com', '']],
    ['example.com/foobar', ['', 'example.com', 'foobar']],
    ['a.example.com/b@example.net', ['', 'a.example.com', 'b@example.net']],
  ];
  for (const [input, expected] of cases) {
    test(`accepts ${input}`, () => {
      assert.deepEqual(parts(input), expected);
    });
  }

  test('ß is not case-folded to ss, Σ and σ are equal, ς stays distinct', () => {
    assert.ok(!Jid.parse('fußball@example.com').equals(Jid.parse('fussball@example.com')));
    assert.ok(Jid.parse('Σ@example.com/foo').equals(Jid.parse('σ@example.com/foo')));
    assert.ok(!Jid.parse('ς@example.com/foo').equals(Jid.parse('σ@example.com/foo')));
  });

  test('the resourcepart keeps its case and may contain "/"', () => {
    assert.deepEqual(parts('Σ@example.com/Σfoo'), ['σ', 'example.com', 'Σfoo']);
    assert.deepEqual(parts('juliet@example.com/foo/bar'), ['juliet', 'example.com', 'foo/bar']);
  });

  test('a leading space or a lone space is a valid OpaqueString resourcepart (deviation from example 18)', () => {
    // RFC 7622 §3.6 lists "juliet@example.com/ foo" as invalid, but no rule in RFC 8265 §4.2 forbids
    // it; refusing what other servers accept would lose stanzas.
    assert.equal(Jid.parse('juliet@example.com/ foo').resource, ' foo');
    assert.equal(Jid.parse('juliet@example.com/ ').resource, ' ');
  });
});

describe('RFC 7622 §3.6 invalid JIDs', () => {
  test('"juliet"@example.com: quotation marks in the localpart', () => assertInvalid('"juliet"@example.com', /forbidden character '"'/));
  test('foo bar@example.com: space in the localpart', () => assertInvalid('foo bar@example.com', /space/));
  test('@example.com/: empty localpart and resourcepart', () => assertInvalid('@example.com/', /empty/));
  test('henryⅣ@example.com: Roman numeral four (compatibility/Nl)', () => assertInvalid('henry\u2163@example.com', /compatibility character U\+2173/)); // toLowerCase maps Ⅳ to ⅳ first
  test('♚@example.com: symbol in the localpart', () => assertInvalid('♚@example.com', /U\+265A/));
  test('juliet@: empty domainpart', () => assertInvalid('juliet@', /domainpart is empty/));
  test('/foobar: empty domainpart with resource', () => assertInvalid('/foobar', /domainpart is empty/));
  test('juliet@@example.com: "@" in the domainpart', () => assertInvalid('juliet@@example.com', /domainpart/));
  test('each empty part on its own', () => {
    assertInvalid('a@', /domainpart is empty/);
    assertInvalid('@b', /localpart is empty/);
    assertInvalid('b/', /resourcepart is empty/);
    assertInvalid('juliet@example.com/', /resourcepart is empty/);
    assertInvalid('', /empty/);
  });
  test('ligature ﬁ (HasCompat) is refused in the localpart but allowed in the resourcepart', () => {
    assertInvalid('\ufb01le@example.com', /compatibility/);
    assert.equal(Jid.parse('file@example.com/\ufb01').resource, '\ufb01');
  });
  test('other forbidden localpart characters and controls', () => {
    for (const c of ['&', "'", ':', '<', '>']) assertInvalid(`a${c}b@example.com`, /forbidden character/);
    assertInvalid('a\u0000b@example.com', /control/);
    assertInvalid('juliet@example.com/a\u0007b', /control/);
    assertInvalid('juliet@example.com/a\u00adb', /ignorable/);   // soft hyphen
    assertInvalid('a\u0378b@example.com', /unassigned/);         // unassigned in Greek block
    assertInvalid('a\u0640b@example.com', /disallowed/);         // exception: ARABIC TATWEEL
  });
  test('contextual rules: Catalan middle dot only between two l', () => {
    assert.equal(Jid.parse('col\u00b7la@example.com').local, 'col\u00b7la');
    assertInvalid('co\u00b7lla@example.com', /context/);
  });
  test('simplified bidi rule rejects mixed LTR/RTL localparts', () => {
    assert.equal(Jid.parse('\u05e9\u05dc\u05d5\u05dd@example.com').local, '\u05e9\u05dc\u05d5\u05dd');
    assertInvalid('abc\u05e9\u05dc\u05d5\u05dd@example.com', /right-to-left/);
  });
});

describe('case and width mapping', () => {
  test('localpart and domainpart are lowercased, the resource is not', () => {
    const j = Jid.parse('JuLiEt@ExAmPlE.CoM/Res');
    assert.equal(j.toString(), 'juliet@example.com/Res');
    assert.ok(j.equals(Jid.parse('juliet@example.com/Res')));
    assert.ok(!j.equals(Jid.parse('juliet@example.com/res')));
  });
  test('fullwidth characters map to ASCII in local and domain parts, not in the resource', () => {
    const j = Jid.parse('\uff2a\uff55\uff4c\uff49\uff45\uff54@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d/\uff32');
    assert.equal(j.local, 'juliet');
    assert.equal(j.domain, 'example.com');
    assert.equal(j.resource, '\uff32'); // OpaqueString does no width mapping (RFC 8265 §4.2.2)
  });
  test('halfwidth katakana with voiced mark composes after width mapping', () => {
    assert.equal(prepLocalpart('\uff76\uff9e'), '\u30ac');
  });
  test('non-ASCII spaces in a resource map to U+0020', () => {
    assert.equal(prepResourcepart('a\u00a0b\u3000c'), 'a b c');
  });
  test('NFC normalisation in every part', () => {
    assert.equal(prepLocalpart('e\u0301'), '\u00e9');
    assert.equal(prepResourcepart('e\u0301'), '\u00e9');
    assert.equal(prepDomainpart('caf\u0065\u0301.example'), 'caf\u00e9.example');
  });
});

describe('domainpart', () => {
  test('one trailing dot is stripped, two are not', () => {
    assert.equal(Jid.parse('juliet@example.com./r').toString(), 'juliet@example.com/r');
    assert.ok(Jid.parse('example.com.').equals(Jid.parse('example.com')));
    assertInvalid('example.com..', /empty label/);
    assertInvalid('.', /empty/);
  });
  test('IP literals', () => {
    assert.equal(Jid.parse('juliet@[::1]/r').domain, '[::1]');
    assert.equal(Jid.parse('[0:0:0::1]').domain, '[::1]');
    assert.equal(Jid.parse('juliet@[2001:DB8::A]').domain, '[2001:db8::a]');
    assert.equal(Jid.parse('juliet@127.0.0.1').domain, '127.0.0.1');
    assertInvalid('juliet@[::1', /IPv6/);
    assertInvalid('juliet@[example.com]', /IPv6/);
  });
  test('IDN: U-labels kept in Unicode lowercase, A-labels converted to U-labels', () => {
    assert.equal(prepDomainpart('Bücher.Example'), 'bücher.example');
    assert.ok(Jid.parse('a@xn--bcher-kva.example').equals(Jid.parse('a@BÜCHER.example')));
    assertInvalid('a@xn--zz.example', /A-label/);
  });
  test('non-LDH ASCII and symbols are refused', () => {
    assertInvalid('a@under_score.example', /label/);
    assertInvalid('a@-lead.example', /label/);
    assertInvalid('a@♚.example', /U\+265A/);
    assertInvalid('a@exa mple.com', /label/);
  });
  test('label and part length limits', () => {
    assert.equal(prepDomainpart('a'.repeat(63) + '.example'), 'a'.repeat(63) + '.example');
    assertInvalid('a@' + 'a'.repeat(64) + '.example', /longer than 63/);
    const longDomain = Array.from({ length: 16 }, () => 'a'.repeat(63)).join('.');  // 1023 octets
    assert.equal(Jid.parse(longDomain).domain.length, 1023);
    assertInvalid(longDomain + '.b', /1025 octets/);
  });
});

describe('lengths', () => {
  test('localpart and resourcepart are limited to 1023 octets of UTF-8', () => {
    assert.equal(Jid.parse('a'.repeat(1023) + '@example.com').local.length, 1023);
    assertInvalid('a'.repeat(1024) + '@example.com', /1024 octets/);
    assertInvalid('π'.repeat(600) + '@example.com', /1200 octets/);     // 600 characters, 1200 octets
    assert.equal(Jid.parse('example.com/' + 'r'.repeat(1023)).resource.length, 1023);
    assertInvalid('example.com/' + 'r'.repeat(1024), /1024 octets/);
    assertInvalid('example.com/' + '♚'.repeat(400), /1200 octets/);
    assertInvalid('x'.repeat(100_000) + '@example.com', /too long/);
  });
});

describe('Jid API', () => {
  test('bare, isBare, isDomain, withResource', () => {
    const full = Jid.parse('juliet@example.com/balcony');
    assert.equal(full.isBare(), false);
    assert.equal(full.bare().toString(), 'juliet@example.com');
    assert.equal(full.bare().isBare(), true);
    assert.equal(full.bare(), full.bare()); // the bare instance is cached
    assert.equal(full.bareString(), 'juliet@example.com');
    assert.equal(full.isDomain(), false);
    assert.equal(Jid.parse('example.com').isDomain(), true);
    assert.equal(Jid.parse('example.com/r').isDomain(), false);
    const moved = full.withResource('Orchard\u00a0Wall');
    assert.equal(moved.toString(), 'juliet@example.com/Orchard Wall');
    assert.throws(() => full.withResource(''), JidError);
  });
  test('of prepares each part and treats empty local/resource as absent', () => {
    const j = Jid.of('Juliet', 'Example.COM.', 'R');
    assert.equal(j.toString(), 'juliet@example.com/R');
    assert.equal(Jid.of('', 'example.com').toString(), 'example.com');
    assert.throws(() => Jid.of('a@b', 'example.com'), /forbidden character '@'/);
    assert.throws(() => Jid.of('a', ''), JidError);
  });
  test('tryParse returns null for garbage and missing input', () => {
    assert.equal(Jid.tryParse(undefined), null);
    assert.equal(Jid.tryParse(null), null);
    assert.equal(Jid.tryParse('@'), null);
    assert.equal(Jid.tryParse('a@b/c')?.toString(), 'a@b/c');
  });
  test('parse results are cached by raw string and equal across spellings', () => {
    assert.equal(Jid.parse('Romeo@Example.net/Home'), Jid.parse('Romeo@Example.net/Home'));
    const a = Jid.parse('romeo@example.net/Home');
    const b = Jid.parse('ROMEO@EXAMPLE.NET./Home');
    assert.notEqual(a, b);
    assert.ok(a.equals(b));
    assert.equal(String(b), 'romeo@example.net/Home');
    assert.equal(JSON.stringify({ to: b }), '{"to":"romeo@example.net/Home"}');
  });
  test('the cache stays correct past its capacity', () => {
    for (let i = 0; i < 25_000; i++) assert.equal(Jid.parse(`U${i}@Example.com/R`).local, `u${i}`);
    assert.equal(Jid.parse('U0@Example.com/R').toString(), 'u0@example.com/R');
    assert.equal(Jid.parse('U24999@Example.com/R').toString(), 'u24999@example.com/R');
  });
  test('round trip: parse(toString()) is identity on prepared JIDs', () => {
    for (const s of ['fußball@bücher.example/♚ x', 'σ@[::1]/a/b', 'example.com']) {
      const j = Jid.parse(s);
      assert.ok(Jid.parse(j.toString()).equals(j));
    }
  });
  test('errors are JidError instances with a message naming the part', () => {
    try {
      Jid.parse('♚@example.com');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof JidError);
      assert.ok(err instanceof Error);
      assert.match((err as Error).message, /^localpart/);
    }
  });
});
