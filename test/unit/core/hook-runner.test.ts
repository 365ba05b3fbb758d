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
  const out = await h.filter('filter_packet', 'x', xml('message'), ctx);
  assert.deepEqual(seen, ['high', 'mid-1', 'mid-2', 'low']);
  assert.notEqual(out, DROP);
  assert.equal((out as ReturnType<typeof xml>).attrs.x, '1');
});

test('a replacement value is passed to later handlers', async () => {
  const h = new HookRunner(silent);
  h.on('filter_packet', () => xml('message', { id: 'replaced' }), 60);
  let got = '';
  h.on('filter_packet', (el) => { got = el.attrs.id; }, 40);
  const out = await h.filter('filter_packet', 'x', xml('message', { id: 'orig' }), ctx);
  assert.equal(got, 'replaced');
  assert.equal((out as ReturnType<typeof xml>).attrs.id, 'replaced');
});

test('STOP ends the chain keeping the value; DROP discards where allowed', async () => {
  const h = new HookRunner(silent);
  let later = false;
  h.on('filter_packet', () => STOP, 60);
  h.on('filter_packet', () => { later = true; }, 40);
  const el = xml('message');
  assert.equal(await h.filter('filter_packet', 'x', el, ctx), el);
  assert.equal(later, false);

  const h2 = new HookRunner(silent);
  h2.on('filter_packet', () => DROP);
  h2.on('filter_packet', () => { later = true; }, 10);
  assert.equal(await h2.filter('filter_packet', 'x', el, ctx), DROP);
  assert.equal(later, false);
});

test('DROP is ignored on a hook that does not allow it', async () => {
  const h = new HookRunner(silent);
  const features = [xml('bind')];
  h.on('c2s_stream_features', () => DROP as never);
  const out = await h.filter('c2s_stream_features', 'x', features, { host: 'x', stage: 'post-auth', secure: true, ip: '127.0.0.1' });
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
  assert.equal(await h.filter('filter_packet', 'x', el, ctx), el);
  assert.equal(ran, true);
  assert.deepEqual(errors, ['filter_packet:bad-module', 'filter_packet:bad-async']);
});

test('notify hooks run every handler (async ones awaited) until STOP', async () => {
  const h = new HookRunner(silent);
  const seen: number[] = [];
  h.on('user_registered', async () => { await new Promise((r) => setTimeout(r, 5)); seen.push(1); }, 90);
  h.on('user_registered', () => { seen.push(2); return STOP; }, 50);
  h.on('user_registered', () => { seen.push(3); }, 10);
  await h.notify('user_registered', 'x', { jid: Jid.parse('a@x') });
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
  assert.equal(h.has('filter_packet', 'x'), false);
  const off1 = h.on('filter_packet', () => {});
  const off2 = h.on('filter_packet', () => {});
  assert.equal(h.has('filter_packet', 'x'), true);
  off1();
  off1(); // idempotent
  assert.equal(h.count('filter_packet'), 1);
  off2();
  assert.equal(h.has('filter_packet', 'x'), false);
  assert.equal(h.count(), 0);
});

test('a handler removed during a fold does not disturb that fold', async () => {
  const h = new HookRunner(silent);
  const seen: string[] = [];
  let offB = () => {};
  h.on('filter_packet', () => { seen.push('a'); offB(); }, 60);
  offB = h.on('filter_packet', () => { seen.push('b'); }, 40);
  await h.filter('filter_packet', 'x', xml('message'), ctx);
  assert.deepEqual(seen, ['a', 'b']);
  await h.filter('filter_packet', 'x', xml('message'), ctx);
  assert.deepEqual(seen, ['a', 'b', 'a']);
});

// ---- per-host chains (ejabberd's {Hook, Host}) ----------------------------------------------------------

test('a host handler runs only when the hook fires for its host; a global one runs for every host', async () => {
  const h = new HookRunner(silent);
  const seen: string[] = [];
  h.on('filter_packet', () => { seen.push('a'); }, 50, 'm@a', 'a.test');
  h.on('filter_packet', () => { seen.push('b'); }, 50, 'm@b', 'b.test');
  h.on('filter_packet', () => { seen.push('g'); }, 50, 'core', null);
  await h.filter('filter_packet', 'a.test', xml('message'), ctx);
  assert.deepEqual(seen, ['a', 'g']);
  seen.length = 0;
  await h.filter('filter_packet', 'b.test', xml('message'), ctx);
  assert.deepEqual(seen, ['b', 'g']);
  seen.length = 0;
  await h.filter('filter_packet', 'c.test', xml('message'), ctx);
  assert.deepEqual(seen, ['g'], 'a host with no handlers of its own runs the global ones');
  seen.length = 0;
  await h.filter('filter_packet', null, xml('message'), ctx);
  assert.deepEqual(seen, ['g'], 'a server-wide firing runs the global ones only');
  seen.length = 0;
  await h.notify('user_registered', 'a.test', { jid: Jid.parse('a@a.test') });
  assert.deepEqual(seen, [], 'other hooks are separate chains');
});

test('global and host handlers are merged by priority, ties in registration order', async () => {
  const h = new HookRunner(silent);
  const seen: string[] = [];
  h.on('user_registered', () => { seen.push('host-50a'); }, 50, 'm', 'a.test');
  h.on('user_registered', () => { seen.push('global-50'); }, 50, 'g', null);
  h.on('user_registered', () => { seen.push('host-90'); }, 90, 'm', 'a.test');
  h.on('user_registered', () => { seen.push('global-70'); }, 70, 'g', null);
  h.on('user_registered', () => { seen.push('host-50b'); }, 50, 'm', 'a.test');
  h.on('user_registered', () => { seen.push('global-10'); }, 10, 'g', null);
  h.on('user_registered', () => { seen.push('other-host'); }, 60, 'm', 'b.test');
  await h.notify('user_registered', 'a.test', { jid: Jid.parse('u@a.test') });
  assert.deepEqual(seen, ['host-90', 'global-70', 'host-50a', 'global-50', 'host-50b', 'global-10']);
});

test('STOP from a global handler ends the host chain too', async () => {
  const h = new HookRunner(silent);
  let hostRan = false;
  h.on('filter_packet', () => STOP, 60, 'g', null);
  h.on('filter_packet', () => { hostRan = true; }, 40, 'm', 'a.test');
  await h.filter('filter_packet', 'a.test', xml('message'), ctx);
  assert.equal(hostRan, false);
});

test('has() is per host; releasing host and global handlers empties every chain', async () => {
  const h = new HookRunner(silent);
  const offA = h.on('filter_packet', () => {}, 50, 'm', 'a.test');
  assert.equal(h.has('filter_packet', 'a.test'), true);
  assert.equal(h.has('filter_packet', 'b.test'), false, 'another host still costs only a lookup');
  const offG = h.on('filter_packet', () => {}, 50, 'g', null);
  assert.equal(h.has('filter_packet', 'b.test'), true);
  offG();
  assert.equal(h.has('filter_packet', 'b.test'), false);
  assert.equal(h.has('filter_packet', 'a.test'), true);
  let ran = 0;
  const offA2 = h.on('filter_packet', () => { ran++; }, 50, 'm', 'a.test');
  offA();
  await h.filter('filter_packet', 'a.test', xml('message'), ctx);
  assert.equal(ran, 1, 'the remaining handler of that host still runs');
  offA2();
  assert.equal(h.has('filter_packet', 'a.test'), false);
  assert.equal(h.count(), 0);
});

test('a server-wide hook takes global handlers only and fires with no host', async () => {
  const h = new HookRunner(silent);
  h.declare('cluster_changed', { kind: 'notify', drop: false, ctx: '{}', doc: 'test', scope: 'global' });
  assert.equal(h.isGlobal('cluster_changed'), true);
  assert.throws(() => h.on('cluster_changed' as never, () => {}, 50, 'm', 'a.test'), /server-wide/);
  let ran = 0;
  h.on('cluster_changed' as never, () => { ran++; }, 50, 'm', null);
  await h.notify('cluster_changed' as never, null, {} as never);
  assert.equal(ran, 1);
});

test('a hook declared by two modules stays, with its handlers, until the last declarer withdraws it', async () => {
  const h = new HookRunner(new Logger('silent'));
  const spec = { kind: 'notify' as const, drop: false, ctx: '{}', doc: 'test' };
  h.declare('shared_hook', spec); // module A
  h.declare('shared_hook', spec); // module B, which also listens
  let runs = 0;
  h.on('shared_hook' as never, (() => { runs++; }) as never, 50, 'B');
  h.undeclare('shared_hook'); // A stops
  await h.notify('shared_hook' as never, 'localhost', {} as never);
  assert.equal(runs, 1, "B's handler survives A's stop");
  h.undeclare('shared_hook'); // B stops
  assert.equal(h.names().includes('shared_hook'), false);
});
