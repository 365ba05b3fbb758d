// Stanza serialization (src/core/xml-serialize.ts): the same text as ltx's toString(), with XML 1.0 escaping of
// attribute values (§3.1: & < > " ') and character data (§2.4: & < >).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml from '@xmpp/xml';
import { serialize } from '../../../src/core/xml-serialize.js';

test('a stanza serializes exactly as ltx writes it', () => {
  const cases = [
    xml('message', { to: 'bob@a.test/r', type: 'chat', id: 'm1' }, xml('body', {}, 'hello')),
    xml('iq', { type: 'result', id: 'x' }),
    xml('a', {}, 'text', xml('b', { n: 'v' }, xml('c')), 'tail'),
    xml('presence', {}, xml('priority', {}, '5'), xml('x', { xmlns: 'urn:x' }, xml('y', {}, ''))),
  ];
  for (const el of cases) assert.equal(serialize(el), el.toString());
});

test('attribute values escape & < > " and \', character data & < > only', () => {
  const el = xml('message', { id: `a"b'c<d>e&f` }, xml('body', {}, `1 < 2 & 3 > 2 "q" 'a'`));
  assert.equal(serialize(el), `<message id="a&quot;b&apos;c&lt;d&gt;e&amp;f"><body>1 &lt; 2 &amp; 3 &gt; 2 "q" 'a'</body></message>`);
  assert.equal(serialize(el), el.toString());
});

test('absent attributes are left out and numbers are written in base 10', () => {
  const el = xml('x', { a: undefined, b: null, c: 7 } as unknown as Record<string, string>);
  el.children.push(42 as unknown as string);
  assert.equal(serialize(el), '<x c="7">42</x>');
  assert.equal(serialize(el), el.toString());
});
