// The per-session outbound chain (src/core/outbound-chain.ts): priority order, hold-and-release, removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml from '@xmpp/xml';
import { OutboundChain } from '../../../src/core/outbound-chain.js';

const msg = (id: string) => xml('message', { id });
const ids = (els: Array<{ attrs: Record<string, string> }>) => els.map((e) => e.attrs.id);

test('with no filter a stanza goes straight to the writer', () => {
  const out: ReturnType<typeof msg>[] = [];
  const c = new OutboundChain((el) => out.push(el));
  assert.equal(c.empty, true);
  c.send(msg('a'));
  assert.deepEqual(ids(out), ['a']);
});

test('filters run highest priority first; the last one is next to the writer', () => {
  const seen: string[] = [];
  const out: ReturnType<typeof msg>[] = [];
  const c = new OutboundChain((el) => out.push(el));
  c.add((el, next) => { seen.push('low'); next(el); }, 10);
  c.add((el, next) => { seen.push('high'); next(el); }, 50);
  c.send(msg('a'));
  assert.deepEqual(seen, ['high', 'low']);
  assert.deepEqual(ids(out), ['a']);
});

test('a filter may hold stanzas and pass them on later, through the filters after it', () => {
  const out: ReturnType<typeof msg>[] = [];
  const counted: string[] = [];
  const c = new OutboundChain((el) => out.push(el));
  const held: Array<() => void> = [];
  c.add((el, next) => { counted.push(el.attrs.id!); next(el); }, 10); // next to the wire: counts what goes out
  c.add((el, next) => { held.push(() => next(el)); }, 50); // holds everything
  c.send(msg('a'));
  c.send(msg('b'));
  assert.deepEqual(ids(out), []);
  for (const release of held) release();
  assert.deepEqual(ids(out), ['a', 'b']);
  assert.deepEqual(counted, ['a', 'b']);
});

test('a removed filter no longer runs, and the chain is empty again', () => {
  const out: ReturnType<typeof msg>[] = [];
  const c = new OutboundChain((el) => out.push(el));
  const remove = c.add(() => {}, 50); // drops everything
  c.send(msg('a'));
  remove();
  assert.equal(c.empty, true);
  c.send(msg('b'));
  assert.deepEqual(ids(out), ['b']);
});
