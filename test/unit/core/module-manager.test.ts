// Module manager (src/core/module-runtime/module-manager.ts, module-context.ts) over a real core: start/stop order
// from requires/optional, per-host instances, failures (fail-fast at boot, marked failed at runtime while
// the rest serves on), reload, and everything registered through ctx released on stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xml from '@xmpp/xml';
import { buildConfig } from '../../../src/core/config/load-config.js';
import { HookRunner } from '../../../src/core/hooks/hook-runner.js';
import { IqRouter } from '../../../src/core/iq-router.js';
import { Router } from '../../../src/core/router.js';
import { SessionManager } from '../../../src/core/session-manager.js';
import { Accounts } from '../../../src/core/accounts.js';
import { AuthProviders } from '../../../src/core/auth/auth-providers.js';
import { Metrics } from '../../../src/core/metrics.js';
import { DiscoRegistry } from '../../../src/core/disco-registry.js';
import { Acl } from '../../../src/core/acl.js';
import { ServiceRegistry } from '../../../src/core/service-registry.js';
import { Limits } from '../../../src/core/limits/limits.js';
import type { Core } from '../../../src/core/core.js';
import { ModuleManager, ModuleError } from '../../../src/core/module-runtime/module-manager.js';
import { defineModule, type ModuleDefinition } from '../../../src/core/module-runtime/module-definition.js';
import type { ModuleContext } from '../../../src/core/module-runtime/module-context.js';
import { opt } from '../../../src/core/module-runtime/options.js';
import { Jid } from '../../../src/core/jid.js';
import { silentLogger } from '../../../src/core/log.js';
import { openStore, type Store } from '../../../src/data/index.js';
import { RecordingSession } from '../../support/recording-session.js';
import { assertStanza } from '../../support/stanza-match.js';
import { until } from '../../support/until.js';

const HOSTS = ['a.test', 'b.test'];
let dir: string;
let store: Store;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-modules-'));
  store = await openStore(join(dir, 'db'));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A core as the composition root builds it (no listeners), with fresh registries per test. */
function makeCore(): Core {
  const config = buildConfig({ hosts: HOSTS, data_dir: dir }, '/etc/xmppd/xmppd.yaml', '/etc/xmppd');
  const metrics = new Metrics();
  const hooks = new HookRunner(silentLogger);
  const sessions = new SessionManager();
  const iq = new IqRouter(silentLogger);
  const accounts = new Accounts(store, hooks, config.scram_iterations);
  const auth = new AuthProviders(config, store, silentLogger, metrics.registry);
  const router = new Router(new Set(config.hosts), sessions, iq, hooks, accounts, metrics, silentLogger);
  const core: Core = {
    config, log: silentLogger, hooks, iq, router, sessions, store, accounts, metrics, auth,
    disco: new DiscoRegistry(),
    acl: new Acl(config.acl, config.access_rules, config.host_config),
    services: new ServiceRegistry(),
    limits: new Limits(metrics, () => core),
    version: '0.0.0-test',
    startedAt: Date.now(),
  };
  return core;
}

/** What the core holds that modules register: the same before load and after unload means no leak. */
function registered(core: Core) {
  return {
    hooks: core.hooks.count(),
    iq: core.iq.count(),
    disco: core.disco.size(),
    services: core.services.size(),
    metrics: core.metrics.registry.getMetricsAsArray().length,
    hookNames: core.hooks.names().length,
  };
}

/** A module that records its lifecycle in `log` as "start:name@host" / "stop:name@host". */
function tracer(log: string[], name: string, extra: Partial<ModuleDefinition> = {}): ModuleDefinition {
  return {
    name,
    start: (ctx) => void log.push(`start:${name}@${ctx.host}`),
    stop: (ctx) => void log.push(`stop:${name}@${ctx.host}`),
    ...extra,
  };
}

test('boot starts modules in dependency order (requires and optional) on every host; stopAll reverses it', async () => {
  const core = makeCore();
  const log: string[] = [];
  const mm = new ModuleManager(core, {
    c: tracer(log, 'c', { requires: ['b'] }),
    b: tracer(log, 'b', { optional: ['a', 'absent'] }),
    a: tracer(log, 'a'),
  });
  await mm.startConfigured({ c: {}, b: {}, a: {} });
  assert.deepEqual(log, ['start:a@a.test', 'start:a@b.test', 'start:b@a.test', 'start:b@b.test', 'start:c@a.test', 'start:c@b.test']);
  assert.deepEqual(mm.list().map((m) => [m.name, m.status, m.hosts]), [
    ['a', 'running', HOSTS], ['b', 'running', HOSTS], ['c', 'running', HOSTS],
  ]);
  log.length = 0;
  await mm.stopAll();
  assert.deepEqual(log, ['stop:c@a.test', 'stop:c@b.test', 'stop:b@a.test', 'stop:b@b.test', 'stop:a@a.test', 'stop:a@b.test']);
  assert.deepEqual(mm.list(), []);
});

test('boot is fail-fast with the YAML path: missing requirement, unknown module, bad option, cycle, start failure', async () => {
  const bundled = {
    needy: tracer([], 'needy', { requires: ['base'] }),
    base: tracer([], 'base'),
    typed: defineModule({ name: 'typed', options: { every: opt.number(5, { min: 1 }) }, start: () => {} }),
    x: tracer([], 'x', { requires: ['y'] }),
    y: tracer([], 'y', { requires: ['x'] }),
    broken: defineModule({ name: 'broken', start: () => { throw new Error('no database'); } }),
  };
  const boot = (modules: Record<string, Record<string, unknown>>) => new ModuleManager(makeCore(), bundled).startConfigured(modules);
  await assert.rejects(boot({ needy: {} }), (e: Error) => e instanceof ModuleError && /^\/etc\/xmppd\/xmppd\.yaml: modules\.needy: requires module "base", which is not enabled on a\.test$/.test(e.message));
  await assert.rejects(boot({ nosuch: {} }), (e: Error) => e instanceof ModuleError && /xmppd\.yaml: modules\.nosuch: no module named "nosuch"/.test(e.message));
  await assert.rejects(boot({ typed: { every: 0 } }), (e: Error) => e instanceof ModuleError && /xmppd\.yaml: modules\.typed\.every: must be at least 1/.test(e.message));
  await assert.rejects(boot({ typed: { evry: 3 } }), (e: Error) => /modules\.typed\.evry: unknown option \(known: every\)/.test(e.message));
  await assert.rejects(boot({ x: {}, y: {} }), /module dependency cycle: x -> y -> x/);
  await assert.rejects(boot({ broken: {} }), (e: Error) => e instanceof ModuleError && /xmppd\.yaml: modules\.broken: failed to start on a\.test: no database/.test(e.message));
});

test('one instance per host; a hook registered through ctx runs for its own host only, hookGlobal for every host', async () => {
  const core = makeCore();
  const ran: string[] = [];
  const hosts: string[] = [];
  const mm = new ModuleManager(core, {
    perhost: defineModule({
      name: 'perhost',
      start(ctx) {
        hosts.push(ctx.host);
        ctx.hook('filter_packet', (el) => void ran.push(`${ctx.host}:${el.attrs.id}`));
        ctx.hookGlobal('filter_packet', (el) => void ran.push(`global-from-${ctx.host}:${el.attrs.id}`), 10);
        ctx.iq('host', 'urn:x:who', () => xml('who', { xmlns: 'urn:x:who' }, ctx.host));
        return { host: ctx.host };
      },
    }),
  });
  await mm.load('perhost');
  assert.deepEqual(hosts, HOSTS);
  await core.hooks.filter('filter_packet', 'b.test', xml('message', { id: 'm' }), { from: Jid.parse('x@b.test'), to: Jid.parse('y@b.test') });
  assert.deepEqual(ran, ['b.test:m', 'global-from-a.test:m', 'global-from-b.test:m']);
  // each host's IQ handler answers for its own host
  const out: string[] = [];
  core.iq.send = (el) => void out.push(el.toString());
  for (const h of HOSTS) {
    await core.iq.dispatch(xml('iq', { type: 'get', id: h, to: h, from: 'u@a.test/r' }, xml('who', { xmlns: 'urn:x:who' })), Jid.parse('u@a.test/r'), Jid.parse(h), 'host', h);
  }
  assertStanza(out[0]!, { name: 'iq', attrs: { type: 'result', id: 'a.test' }, children: [{ name: 'who', ns: 'urn:x:who', text: 'a.test' }] });
  assertStanza(out[1]!, { name: 'iq', attrs: { type: 'result', id: 'b.test' }, children: [{ name: 'who', ns: 'urn:x:who', text: 'b.test' }] });
  await mm.stopAll();
});

test('ctx.runFilter and hasHandlers fire hooks for the module\'s own host, or the host named', async () => {
  const core = makeCore();
  const ran: string[] = [];
  let fire: ModuleContext | null = null;
  const mm = new ModuleManager(core, {
    listener: defineModule({ name: 'listener', start(ctx) { ctx.hook('filter_packet', (el) => void ran.push(`${ctx.host}:${el.attrs.id}`)); } }),
    firer: defineModule({ name: 'firer', start(ctx) { if (ctx.host === 'a.test') fire = ctx; } }),
  });
  await mm.load('listener');
  await mm.load('firer');
  const ctx = fire! as ModuleContext;
  const pkt = { from: Jid.parse('x@a.test'), to: Jid.parse('y@b.test') };
  assert.equal(ctx.hasHandlers('filter_packet'), true);
  assert.equal(ctx.hasHandlers('user_send_packet'), false);
  await ctx.runFilter('filter_packet', xml('message', { id: 'own' }), pkt);
  await ctx.runFilter('filter_packet', xml('message', { id: 'other' }), pkt, 'b.test');
  assert.deepEqual(ran, ['a.test:own', 'b.test:other']);
  await mm.stopAll();
});

test('ctx.setTimeout: a timer that has fired leaves nothing behind; one still pending is cleared on stop', async () => {
  const core = makeCore();
  let ctx: ModuleContext | null = null;
  const mm = new ModuleManager(core, { timers: defineModule({ name: 'timers', start(c) { if (c.host === 'a.test') ctx = c; } }) });
  await mm.load('timers');
  const c = ctx! as ModuleContext;
  const pending = (): number => (c as unknown as { disposers: unknown[] }).disposers.length;
  const before = pending();
  let fired = 0;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 500; i++) c.setTimeout(() => { if (++fired === 500) resolve(); }, 1);
  });
  assert.equal(pending(), before, 'fired timers released their cleanup entries');
  let late = false;
  c.setTimeout(() => { late = true; }, 50);
  assert.equal(pending(), before + 1);
  await mm.stopAll();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(late, false, 'a pending timer does not fire after stop');
});

/** A module that registers one of everything the context offers. */
const everything = (stops: string[]) => defineModule({
  name: 'everything',
  features: ['urn:x:everything'],
  accountFeatures: ['urn:x:everything:account'],
  options: { label: opt.string('one') },
  start(ctx) {
    ctx.hook('filter_packet', (el) => el);
    ctx.hook('user_receive_packet', (el) => el, 70);
    ctx.hookGlobal('filter_packet', (el) => el);
    ctx.declareHook('everything_happened', { kind: 'notify', drop: false, host: 'the module’s', ctx: '{}', doc: 'test hook' });
    ctx.iq('host', 'urn:x:everything', () => null);
    ctx.iq('account', 'urn:x:everything', () => null);
    ctx.identity({ category: 'component', type: 'generic' });
    ctx.feature('urn:x:extra');
    ctx.provide('everything', { label: ctx.options.label });
    ctx.counter({ name: 'xmppd_everything_total', help: 'test counter', labelNames: ['host'] }).inc({ host: ctx.host });
    ctx.gauge({ name: 'xmppd_everything_gauge', help: 'test gauge' }).set(1);
    ctx.setInterval(() => stops.push('tick'), 60_000);
    ctx.setTimeout(() => stops.push('timeout'), 60_000);
    ctx.onStop(() => void stops.push(`onStop@${ctx.host}`));
    return ctx.options.label;
  },
  stop: (ctx, state) => void stops.push(`stop@${ctx.host}:${state}`),
});

test('everything registered through ctx is released on unload: hooks, IQ handlers, disco, services, metrics, declared hooks', async () => {
  const core = makeCore();
  const stops: string[] = [];
  const mm = new ModuleManager(core, { everything: everything(stops) });
  const before = registered(core);
  await mm.load('everything');
  const during = registered(core);
  assert.deepEqual(during, {
    hooks: before.hooks + 3 * HOSTS.length,
    iq: before.iq + 2 * HOSTS.length,
    disco: before.disco + 4 * HOSTS.length, // two features declared, one added, one identity
    services: before.services + HOSTS.length,
    metrics: before.metrics + 2, // shared by the instances of every host
    hookNames: before.hookNames + 1,
  });
  assert.deepEqual(core.services.get('b.test', 'everything'), { label: 'one' });
  assert.ok(core.disco.featuresOf('a.test', 'account').includes('urn:x:everything:account'));
  await mm.unload('everything');
  assert.deepEqual(registered(core), before);
  assert.equal(core.metrics.registry.getSingleMetric('xmppd_everything_total'), undefined);
  assert.ok(!core.hooks.names().includes('everything_happened'));
  assert.deepEqual(stops, ['stop@a.test:one', 'onStop@a.test', 'stop@b.test:one', 'onStop@b.test'], 'stop() first, then the registrations, per host');
  assert.equal(mm.info('everything'), undefined);
  await assert.rejects(mm.unload('everything'), /module everything is not loaded/);
});

test('reload applies new options with the same registrations; invalid options are refused before anything stops', async () => {
  const core = makeCore();
  const stops: string[] = [];
  const mm = new ModuleManager(core, { everything: everything(stops) });
  const before = registered(core);
  await mm.load('everything', { label: 'one' });
  const loaded = registered(core);
  const info = await mm.reload('everything', { label: 'two' });
  assert.equal(info.status, 'running');
  assert.deepEqual(info.options, { label: 'two' });
  assert.deepEqual(registered(core), loaded, 'a reload neither leaks nor loses registrations');
  assert.deepEqual(core.services.get('a.test', 'everything'), { label: 'two' });
  assert.deepEqual(stops, ['stop@a.test:one', 'onStop@a.test', 'stop@b.test:one', 'onStop@b.test']);
  stops.length = 0;
  await assert.rejects(mm.reload('everything', { label: 3 }), /modules\.everything\.label: must be a string/);
  assert.deepEqual(stops, [], 'nothing was stopped');
  assert.deepEqual(core.services.get('a.test', 'everything'), { label: 'two' });
  assert.ok(mm.isRunning('everything'));
  await mm.reload('everything'); // the same options again
  assert.deepEqual(mm.info('everything')?.options, { label: 'two' });
  await mm.stopAll();
  assert.deepEqual(registered(core), before);
});

test('a runtime load failure marks the module failed, releases what it registered, and the rest serves on', async () => {
  const core = makeCore();
  let failOn: string | null = 'b.test';
  const mm = new ModuleManager(core, {
    steady: defineModule({ name: 'steady', start: (ctx) => ctx.iq('account', 'urn:x:steady', () => xml('ok', { xmlns: 'urn:x:steady' })) }),
    flaky: defineModule({
      name: 'flaky',
      start(ctx) {
        ctx.hook('filter_packet', (el) => el);
        ctx.iq('host', 'urn:x:flaky', () => null);
        ctx.provide('flaky', {});
        if (ctx.host === failOn) throw new Error('cannot reach the backend');
      },
    }),
  });
  await mm.load('steady');
  const before = registered(core);
  await assert.rejects(mm.load('flaky'), (e: Error) => e instanceof ModuleError && e.message === 'module flaky failed to start on b.test: cannot reach the backend');
  assert.deepEqual(registered(core), before, 'the a.test instance and the partial b.test one are released');
  assert.deepEqual(mm.info('flaky'), { name: 'flaky', status: 'failed', hosts: [], xeps: [], error: 'cannot reach the backend', options: {} });
  assert.ok(!mm.isRunning('flaky'));
  assert.ok(mm.isRunning('steady'));
  // the server serves on: the running module still answers through the router
  const alice = new RecordingSession('alice@a.test/r', 0);
  core.sessions.add(alice);
  await core.router.route(xml('iq', { type: 'get', id: 's1', from: 'alice@a.test/r' }, xml('q', { xmlns: 'urn:x:steady' })), alice.jid, alice.jid.bare());
  assertStanza(alice.sent[0]!, { name: 'iq', attrs: { type: 'result', id: 's1' }, children: [{ name: 'ok', ns: 'urn:x:steady' }] });
  // a failed module can be loaded again once the cause is gone
  failOn = null;
  assert.equal((await mm.load('flaky')).status, 'running');
  assert.equal(registered(core).iq, before.iq + HOSTS.length);
  await mm.stopAll();
});

test('a failing stop() is logged and the registrations are released anyway', async () => {
  const core = makeCore();
  const mm = new ModuleManager(core, {
    grumpy: defineModule({ name: 'grumpy', start: (ctx) => ctx.hook('filter_packet', (el) => el), stop: () => { throw new Error('stop failed'); } }),
  });
  const before = registered(core);
  await mm.load('grumpy');
  await mm.unload('grumpy');
  assert.deepEqual(registered(core), before);
});

test('runtime dependencies: load needs its requirements running, unload is refused while a dependent runs', async () => {
  const core = makeCore();
  const log: string[] = [];
  const mm = new ModuleManager(core, { base: tracer(log, 'base'), needy: tracer(log, 'needy', { requires: ['base'] }) });
  await assert.rejects(mm.load('needy'), /module needy requires module "base" on a\.test, b\.test; load it first/);
  assert.deepEqual(log, []);
  await mm.load('base');
  await assert.rejects(mm.load('base'), /module base is already loaded/);
  await mm.load('needy');
  await assert.rejects(mm.unload('base'), /module base is required by needy; unload those first/);
  assert.ok(mm.isRunning('base'));
  await mm.unload('needy');
  await mm.unload('base');
  assert.deepEqual(log, ['start:base@a.test', 'start:base@b.test', 'start:needy@a.test', 'start:needy@b.test', 'stop:needy@a.test', 'stop:needy@b.test', 'stop:base@a.test', 'stop:base@b.test']);
  await assert.rejects(mm.load('Bad Name'), /"Bad Name" is not a valid module name/);
});

test('ctx.watch sees only the rows under its prefix, and its watchers are released early or on unload', async () => {
  const core = makeCore();
  const seen: string[] = [];
  let unwatchAll: (() => void) | undefined;
  const watcher = defineModule({
    name: 'watcher',
    start(ctx) {
      ctx.watch('watched', (ev) => void seen.push(`${ctx.host}:${ev.key}`), { prefix: `${ctx.host}/` });
      if (ctx.host === 'a.test') unwatchAll = ctx.watch('watched', (ev) => void seen.push(`all:${ev.key}`));
    },
  });
  const mm = new ModuleManager(core, { watcher });
  const baseline = store.watcherCount();
  await mm.load('watcher');
  assert.equal(store.watcherCount(), baseline + HOSTS.length + 1);
  await store.transact([
    { type: 'put', table: 'watched', key: 'a.test/alice', value: 1 },
    { type: 'put', table: 'watched', key: 'b.test/bob', value: 2 },
    { type: 'put', table: 'watched', key: 'a.testing/carol', value: 3 }, // another host whose name starts alike
  ]);
  await until(() => seen.length === 5, 'every change reached its watchers');
  assert.deepEqual(seen.filter((s) => !s.startsWith('all:')).sort(), ['a.test:a.test/alice', 'b.test:b.test/bob']);
  unwatchAll!();
  unwatchAll!(); // releasing twice is harmless
  assert.equal(store.watcherCount(), baseline + HOSTS.length, 'an early release gives the watcher back');
  await mm.unload('watcher');
  assert.equal(store.watcherCount(), baseline, 'unload releases the rest');
});

test("ctx.lock runs one key's operations in order, per module instance, and a failure does not block the key", async () => {
  const core = makeCore();
  const ctxs = new Map<string, ModuleContext>();
  const locker = defineModule({ name: 'locker', start: (ctx) => void ctxs.set(ctx.host, ctx as ModuleContext) });
  const mm = new ModuleManager(core, { locker });
  await mm.load('locker');
  const a = ctxs.get('a.test')!;
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = a.lock('alice', async () => {
    await held;
    order.push('first');
    throw new Error('first failed');
  });
  const second = a.lock('alice', async () => void order.push('second'));
  // Another instance (another host) has its own locks: not held up by a.test's.
  await ctxs.get('b.test')!.lock('alice', async () => void order.push('other host'));
  release();
  await assert.rejects(first, /first failed/);
  await second;
  assert.deepEqual(order, ['other host', 'first', 'second']);
  await mm.unload('locker');
});
