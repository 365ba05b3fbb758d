// Hook runner semantics (DESIGN.md "Hooks"): order, STOP, DROP, isolation, unknown names, removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml from '@xmpp/xml';
import { HookRunner, UnknownHookError } from '../../../src/core/hooks/hook-runner.js';
import { Logger } from '../../../src/core/log.js';
import { DROP, STOP } from '../../../hooks/index.js';
import { Jid } from '../../../src/core/jid.js';

const silent = new Logger('silent');
const ctx = { from: Jid.parse('a@x'), to: Jid.parse('b@x') };

test('filter handlers run by priority (higher first), ties in registration order, folding the value', async () => {
  const h = new HookRunner(silent);
  const seen: string[] = [];
  h.on('filter_packet', (el) => { seen.push('low'); return el; }, 10);
  h.on('filter_packet', (el) => { seen.push('high'); el.attrs.x = '1'; return el; }, 90);
  h.on('filter_packet', () => { seen.push('mid-1'); }, 50);
  h.on('filter_packet', () => { seen.push('mid-2'); return undefined; }, 50);
  const out = await h.filter('filter_packet', xml('message'), ctx);
  assert.deepEqual(seen, ['high', 'mid-1', 'mid-2', 'low']);
  assert.notEqual(out, DROP);
  assert.equal((out as ReturnType<typeof xml>).attrs.x, '1');
});

test('a replacement value is passed to later handlers', async () => {
  const h = new HookRunner(silent);
  h.on('filter_packet', () => xml('message', { id: 'replaced' }), 60);
  let got = '';
  h.on('filter_packet', (el) => { got = el.attrs.id; }, 40);
  const out = await h.filter('filter_packet', xml('message', { id: 'orig' }), ctx);
  assert.equal(got, 'replaced');
  assert.equal((out as ReturnType<typeof xml>).attrs.id, 'replaced');
});

test('STOP ends the chain keeping the value; DROP discards where allowed', async () => {
  const h = new HookRunner(silent);
  let later = false;
  h.on('filter_packet', () => STOP, 60);
  h.on('filter_packet', () => { later = true; }, 40);
  const el = xml('message');
  assert.equal(await h.filter('filter_packet', el, ctx), el);
  assert.equal(later, false);

  const h2 = new HookRunner(silent);
  h2.on('filter_packet', () => DROP);
  h2.on('filter_packet', () => { later = true; }, 10);
  assert.equal(await h2.filter('filter_packet', el, ctx), DROP);
  assert.equal(later, false);
});

test('DROP is ignored on a hook that does not allow it', async () => {
  const h = new HookRunner(silent);
  const features = [xml('bind')];
  h.on('c2s_stream_features', () => DROP as never);
  const out = await h.filter('c2s_stream_features', features, { host: 'x', stage: 'post-auth', secure: true, ip: '127.0.0.1' });
  assert.deepEqual(out, features);
});

test('a throwing handler is isolated, counted, and the chain goes on', async () => {
  const h = new HookRunner(silent);
  const errors: string[] = [];
  h.onHandlerError = (hook, owner) => errors.push(`${hook}:${owner}`);
  h.on('filter_packet', () => { throw new Error('boom'); }, 60, 'bad-module');
  h.on('filter_packet', async () => { throw new Error('async boom'); }, 55, 'bad-async');
  let ran = false;
  h.on('filter_packet', () => { ran = true; }, 40);
  const el = xml('message');
  assert.equal(await h.filter('filter_packet', el, ctx), el);
  assert.equal(ran, true);
  assert.deepEqual(errors, ['filter_packet:bad-module', 'filter_packet:bad-async']);
});

test('notify hooks run every handler (async ones awaited) until STOP', async () => {
  const h = new HookRunner(silent);
  const seen: number[] = [];
  h.on('user_registered', async () => { await new Promise((r) => setTimeout(r, 5)); seen.push(1); }, 90);
  h.on('user_registered', () => { seen.push(2); return STOP; }, 50);
  h.on('user_registered', () => { seen.push(3); }, 10);
  await h.notify('user_registered', { jid: Jid.parse('a@x') });
  assert.deepEqual(seen, [1, 2]);
});

test('unknown hook names are rejected; declared ones are accepted', () => {
  const h = new HookRunner(silent);
  assert.throws(() => h.on('filter_pakcet' as never, () => {}), UnknownHookError);
  h.declare('my_hook', { kind: 'notify', drop: false, ctx: '{}', doc: 'test' });
  h.on('my_hook' as never, () => {});
  assert.equal(h.count('my_hook'), 1);
  assert.throws(() => h.declare('my_hook', { kind: 'filter', drop: true, ctx: '{}', doc: 'x' }));
});

test('removing handlers restores the empty state (has() false, no chain)', async () => {
  const h = new HookRunner(silent);
  assert.equal(h.has('filter_packet'), false);
  const off1 = h.on('filter_packet', () => {});
  const off2 = h.on('filter_packet', () => {});
  assert.equal(h.has('filter_packet'), true);
  off1();
  off1(); // idempotent
  assert.equal(h.count('filter_packet'), 1);
  off2();
  assert.equal(h.has('filter_packet'), false);
  assert.equal(h.count(), 0);
});

test('a handler removed during a fold does not disturb that fold', async () => {
  const h = new HookRunner(silent);
  const seen: string[] = [];
  let offB = () => {};
  h.on('filter_packet', () => { seen.push('a'); offB(); }, 60);
  offB = h.on('filter_packet', () => { seen.push('b'); }, 40);
  await h.filter('filter_packet', xml('message'), ctx);
  assert.deepEqual(seen, ['a', 'b']);
  await h.filter('filter_packet', xml('message'), ctx);
  assert.deepEqual(seen, ['a', 'b', 'a']);
});
