// Fuzzing JID preparation (RFC 7622): any string parses or throws JidError, a parsed JID prints to a
// string that parses back to itself, and every part stays within 1023 octets (§3.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Jid, JidError, prepDomainpart, prepLocalpart, prepResourcepart } from '../../src/core/jid.js';
import { describeRun, fuzz } from './support/fuzz-run.js';

/** Pieces that exercise the separators, IDNA, PRECIS classes, width mapping, bidi and IP literals. */
const PIECES = [
  'a', 'Z', '0', '-', '.', '@', '/', '[', ']', ':', ' ', '\u00a0', '\u3000', 'é', 'e\u0301', 'ß', 'ς', 'İ', 'ǅ', 'Ⅻ',
  'ｆｕｌｌ', '中文', 'ا', 'ש', '\u0660', '\u06f0', '\u200c', '\u200d', '\u00b7', '\u0375', '\u30fb', '\u05f3', '😀',
  '\ud800', '\udc00', '\u0000', '\u007f', '\u2028', '\ufeff', '\ufffd', 'xn--', 'xn--nxasmq6b', 'xn--a', 'localhost',
  'example.com', '127.0.0.1', '[::1]', '[::ffff:1.2.3.4]', '[1::2::3]', '\u2044', '\uff0e', '\u3002', '&', "'", '"', '<',
];
const jidish = fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.fullUnicode(), fc.string({ maxLength: 4 })), { maxLength: 16 }).map((a) => a.join(''));

const octets = (s: string) => Buffer.byteLength(s, 'utf8');

/** Jid.parse must succeed or throw JidError; a success must round-trip and respect the limits. */
function checkParse(s: string): Jid | null {
  let j: Jid;
  try {
    j = Jid.parse(s);
  } catch (err) {
    assert.ok(err instanceof JidError, `Jid.parse(${JSON.stringify(s)}) threw ${String(err)}`);
    return null;
  }
  assert.ok(j.domain !== '' && octets(j.domain) <= 1023 && octets(j.local) <= 1023 && octets(j.resource) <= 1023);
  const again = Jid.parse(j.toString());
  assert.ok(again.equals(j), `${JSON.stringify(s)} -> ${JSON.stringify(j.toString())} -> ${JSON.stringify(again.toString())}`);
  assert.equal(again.toString(), j.toString());
  // Preparation is idempotent part by part (RFC 8264 §7: applying the rules twice changes nothing).
  if (j.local) assert.equal(prepLocalpart(j.local), j.local);
  if (j.resource) assert.equal(prepResourcepart(j.resource), j.resource);
  assert.equal(prepDomainpart(j.domain), j.domain);
  return j;
}

test('any string: Jid.parse returns a JID that round-trips through toString, or throws JidError', async (t) => {
  const r = await fuzz(fc.property(jidish, (s) => void checkParse(s)), 3000);
  t.diagnostic(describeRun(r));
});

test('JIDs built from valid-looking parts: parse(toString(j)) equals j and Jid.of agrees with parse', async (t) => {
  const part = fc.array(fc.constantFrom('a', 'B', '0', '-', '_', 'é', 'Ω', 'ｆ', '中', 'ß', '.', 'x'), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
  const domain = fc.array(fc.array(fc.constantFrom('a', 'z', '0', '9', 'é', 'ü', '中', 'Ö'), { minLength: 1, maxLength: 10 }).map((a) => a.join('')), { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const resource = fc.array(fc.constantFrom('a', ' ', '/', '@', 'É', '😀', 'x', '.', 'Ⅻ'), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
  const r = await fuzz(
    fc.property(fc.option(part), domain, fc.option(resource), (l, d, res) => {
      const s = `${l !== null ? `${l}@` : ''}${d}${res !== null ? `/${res}` : ''}`;
      const j = checkParse(s);
      if (j === null) return;
      let built: Jid | null = null;
      try {
        built = Jid.of(l ?? '', d, res ?? '');
      } catch (err) {
        assert.fail(`parse accepted ${JSON.stringify(s)} but Jid.of threw ${String(err)}`);
      }
      assert.ok(built.equals(j));
    }),
    2000,
  );
  t.diagnostic(describeRun(r));
});

test('RFC 7622 §3.1 length limits: a part of up to 1023 octets is accepted, one more octet is refused', async (t) => {
  const r = await fuzz(
    fc.property(fc.constantFrom('a', 'é', '中', '😀'), fc.integer({ min: 1, max: 1100 }), fc.constantFrom('local', 'resource', 'domain'), (ch0, n, which) => {
      // Symbols are not in the localpart's IdentifierClass (RFC 8264 §9.1), only in FreeformClass.
      const ch = which === 'resource' ? ch0 : ch0 === '😀' ? 'ö' : ch0;
      const body = ch.repeat(Math.max(1, Math.floor(n / octets(ch))));
      const size = octets(body);
      let s: string;
      if (which === 'local') s = `${body}@example.com`;
      else if (which === 'resource') s = `u@example.com/${body}`;
      else s = Array.from({ length: Math.ceil(body.length / 20) }, (_, i) => body.slice(i * 20, i * 20 + 20)).join('.');
      const j = checkParse(s);
      if (which !== 'domain') {
        assert.equal(j !== null, size <= 1023, `${which} of ${size} octets`);
      } else if (j !== null) {
        assert.ok(octets(j.domain) <= 1023);
      }
    }),
    400,
  );
  t.diagnostic(describeRun(r));
});
