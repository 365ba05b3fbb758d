// The framing of stanza batches between cluster nodes (src/core/cluster/link-batch.ts): entries come back in
// order and byte for byte, whatever their text holds; a damaged frame is refused rather than misread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch, type BatchEntry } from '../../../src/core/cluster/link-batch.js';

const entries: BatchEntry[] = [
  { kind: 'd', sid: 's1', jid: 'bob@localhost/far', x: "<message to='bob@localhost/far' id='1'><body>a,b\n12,3,4\nd</body></message>" },
  { kind: 'd', sid: 's2', jid: 'bob@example.test/with space, comma', x: '<message><body>héllo 𝄞 日本</body></message>' },
  { kind: 'c', sid: 's1', jid: 'bob@localhost/far', x: JSON.stringify({ cond: 'conflict', text: 'replaced' }) },
  { kind: 'c', sid: 's3', jid: 'x@localhost/r', x: '' },
];

test('a batch decodes to its entries in order, through the UTF-8 of a NATS message', () => {
  const wire = new TextEncoder().encode(encodeBatch('x1/abc', 42, entries));
  const b = decodeBatch(new TextDecoder().decode(wire));
  assert.deepEqual(b, { link: 'x1/abc', seq: 42, entries });
});

test('an empty batch, and damaged frames', () => {
  assert.deepEqual(decodeBatch(encodeBatch('x2/q', 1, [])), { link: 'x2/q', seq: 1, entries: [] });
  const good = encodeBatch('x1/abc', 7, entries);
  assert.equal(decodeBatch(good.slice(0, -5)), null, 'truncated');
  assert.equal(decodeBatch(`{${good.slice(1)}`), null, 'not a batch');
  const first = good.indexOf('x1/abc') + 'x1/abc'.length; // where the first entry's kind is
  assert.equal(good[first], 'd');
  assert.equal(decodeBatch(`${good.slice(0, first)}z${good.slice(first + 1)}`), null, 'unknown entry kind');
  assert.equal(decodeBatch('B7,x\n'), null, 'bad header');
});
