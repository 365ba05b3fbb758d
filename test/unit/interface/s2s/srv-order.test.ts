// RFC 2782 target selection: priorities in order, weighted random order within a priority.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderSrv } from '../../../../src/interface/s2s/srv-order.js';

const rec = (name: string, priority: number, weight: number) => ({ name, priority, weight });

/** A deterministic [0, 1) sequence (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('lower priority always comes first, whatever the weights', () => {
  const rs = [rec('c', 20, 100), rec('a', 10, 0), rec('b', 10, 1), rec('d', 30, 5)];
  for (let seed = 1; seed < 50; seed++) {
    const order = orderSrv(rs, seeded(seed)).map((r) => r.name);
    assert.deepEqual(order.slice(2), ['c', 'd']);
    assert.deepEqual([...order.slice(0, 2)].sort(), ['a', 'b']);
  }
});

test('within a priority the first pick follows the weights (RFC 2782 running sums)', () => {
  const rs = [rec('heavy', 0, 80), rec('light', 0, 20)];
  const random = seeded(42);
  let heavy = 0;
  const n = 5000;
  for (let i = 0; i < n; i++) if (orderSrv(rs, random)[0]!.name === 'heavy') heavy++;
  // P(heavy first) = 81/101 with the inclusive [0, sum] draw
  assert.ok(Math.abs(heavy / n - 81 / 101) < 0.03, `heavy first ${heavy}/${n}`);
});

test('the draw picks by running sums: 0 selects a zero-weight record, the top of the range the last one', () => {
  const rs = [rec('w5', 0, 5), rec('w0', 0, 0), rec('w10', 0, 10)];
  assert.equal(orderSrv(rs, () => 0)[0]!.name, 'w0', 'zero-weight records are placed first and win a 0 draw');
  assert.equal(orderSrv(rs, () => 0.9999)[0]!.name, 'w10');
  assert.equal(orderSrv(rs, () => 0.2)[0]!.name, 'w5'); // floor(0.2 * 16) = 3 <= 0 + 5
});

test('every record appears exactly once; all-zero weights still order everything', () => {
  const rs = [rec('a', 0, 0), rec('b', 0, 0), rec('c', 1, 0)];
  const out = orderSrv(rs, seeded(7));
  assert.equal(out.length, 3);
  assert.deepEqual(out.map((r) => r.name).sort(), ['a', 'b', 'c']);
  assert.equal(out[2]!.name, 'c');
  assert.deepEqual(orderSrv([], Math.random), []);
});
