// Conformance: every bundled module loads, advertises its features, and unloads leaving hooks, IQ
// handlers, disco features, services, table watchers, timers and metrics exactly at their baseline;
// external modules load at runtime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/harness.js';
import { BUNDLED_MODULES } from '../../modules/index.js';
import { RawClient } from '../support/raw-client.js';

let t: TestServer;
const fixtures = join(fileURLToPath(import.meta.url), '../../../../test/fixtures/external-modules');

before(async () => {
  // every bundled module, so each is checked against all the others running
  t = await startTestServer({ module_paths: [fixtures], modules: Object.fromEntries(Object.keys(BUNDLED_MODULES).map((n) => [n, {}])) });
  await t.addUser('alice', 'pw');
});
after(() => t.stop());

async function footprint() {
  const c = t.server.core;
  const metrics = (await c.metrics.registry.getMetricsAsJSON()).length;
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const commands = c.commands!.list().length; // admin commands modules register (ctx.command)
  const routes = c.http?.size() ?? 0; // HTTP routes modules add (ctx.httpRoute)
  return { hooks: c.hooks.count(), iq: c.iq.count(), disco: c.disco.size(), services: c.services.size(), watchers: c.store.watcherCount(), metrics, timers, commands, routes };
}

/** Modules that watch tables (ctx.watch): their unload must visibly give the watchers back. */
const WATCHERS = new Set(['blocking', 'vcard', 'caps']);

/** Modules that require `name`, directly or not, in an order safe to unload them. */
function dependentsOf(name: string): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    for (const d of Object.values(BUNDLED_MODULES)) {
      if (d.requires?.includes(n) && !out.includes(d.name)) {
        visit(d.name);
        out.push(d.name);
      }
    }
  };
  visit(name);
  return out;
}

for (const name of Object.keys(BUNDLED_MODULES)) {
  test(`module ${name}: unload releases everything, load advertises its features, reload is leak-free`, async () => {
    const mm = t.server.modules;
    const def = BUNDLED_MODULES[name]!;
    const dependents = dependentsOf(name);
    const loaded = await footprint();
    for (const d of dependents) await mm.unload(d);
    await mm.unload(name);
    const unloaded = await footprint();
    if (WATCHERS.has(name)) assert.ok(unloaded.watchers < loaded.watchers, `${name}'s table watchers are released on unload`);
    for (const f of def.features ?? []) assert.ok(!t.server.core.disco.featuresOf('localhost', 'server').includes(f), `${f} withdrawn on unload`);
    assert.deepEqual(t.server.core.commands!.list().filter((c) => c.module === name), [], `${name}'s admin commands withdrawn on unload`);
    await mm.load(name, {});
    for (const d of [...dependents].reverse()) await mm.load(d, {});
    for (const f of def.features ?? []) assert.ok(t.server.core.disco.featuresOf('localhost', 'server').includes(f), `${name} advertises ${f}`);
    assert.deepEqual(await footprint(), loaded, 'load restores the loaded footprint');
    for (let i = 0; i < 3; i++) await mm.reload(name);
    assert.deepEqual(await footprint(), loaded, 'reloads leak nothing');
    for (const d of dependents) await mm.unload(d);
    await mm.unload(name);
    assert.deepEqual(await footprint(), unloaded, 'unload returns to the baseline');
    await mm.load(name, {});
    for (const d of [...dependents].reverse()) await mm.load(d, {});
  });
}

test('unloading ping makes the server answer pings with service-unavailable; loading it again restores them', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw', 'pinger');
  await t.server.modules.unload('ping');
  c.send("<iq to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']p1["'][\s\S]*?<\/iq>/))[0], /<service-unavailable /);
  await t.server.modules.load('ping');
  c.send("<iq to='localhost' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']p2["'][^>]*>/))[0], /type=["']result["']/);
  c.close();
});

test('reload with new options changes behaviour (version show_os); bad options are refused and change nothing', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw', 'opts');
  await t.server.modules.reload('version', { show_os: true });
  c.send("<iq to='localhost' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']v1["'][\s\S]*?<\/iq>/))[0], /<os>/);
  await assert.rejects(t.server.modules.reload('version', { show_os: 'yes' }), /modules\.version\.show_os: must be true or false/);
  await assert.rejects(t.server.modules.reload('version', { colour: 1 }), /modules\.version\.colour: unknown option/);
  assert.equal(t.server.modules.info('version')?.status, 'running');
  c.send("<iq to='localhost' type='get' id='v2'><query xmlns='jabber:iq:version'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']v2["'][\s\S]*?<\/iq>/))[0], /<os>/, 'the old options still apply');
  await t.server.modules.reload('version', {});
  c.close();
});

test('an external module from module_paths loads at runtime, works, and unloads without leaks', async () => {
  const before = await footprint();
  const info = await t.server.modules.load('shout', { suffix: '!' });
  assert.equal(info.status, 'running');
  const a = await RawClient.login(t.c2sPort, 'alice', 'pw', 'shout-a');
  const b = await RawClient.login(t.c2sPort, 'alice', 'pw', 'shout-b');
  a.c.send("<message to='alice@localhost/shout-b' type='chat'><body>quiet please</body></message>");
  assert.match((await b.c.expect(/<message[\s\S]*?<\/message>/))[0], /<body>QUIET PLEASE!<\/body>/);
  await t.server.modules.unload('shout');
  assert.deepEqual(await footprint(), before);
  a.c.send("<message to='alice@localhost/shout-b' type='chat'><body>quiet please</body></message>");
  assert.match((await b.c.expect(/<message[\s\S]*?<\/message>/))[0], /<body>quiet please<\/body>/);
  a.c.close();
  b.c.close();
});

test('unknown modules, and modules whose start fails, are reported; the server serves on', async () => {
  await assert.rejects(t.server.modules.load('no-such-module'), /no module named "no-such-module"/);
  await assert.rejects(t.server.modules.load('ping'), /already loaded/);
  await assert.rejects(t.server.modules.unload('nothing'), /not loaded/);
  await assert.rejects(t.server.modules.load('shout', { suffix: 'FAIL' }), /failed to start/);
  assert.equal(t.server.modules.info('shout')?.status, 'failed');
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw', 'after-fail');
  c.send("<iq to='localhost' type='get' id='p3'><ping xmlns='urn:xmpp:ping'/></iq>");
  assert.match((await c.expect(/<iq[^>]*id=["']p3["'][^>]*>/))[0], /type=["']result["']/);
  c.close();
  await t.server.modules.load('shout', {});
  await t.server.modules.unload('shout');
});

test('boot is fail-fast: a bad module option or an unknown module names its YAML path', async () => {
  await assert.rejects(startTestServer({ modules: { version: { show_os: 'sometimes' } } }), /modules\.version\.show_os: must be true or false/);
  await assert.rejects(startTestServer({ modules: { pign: {} } }), /modules\.pign: no module named "pign"/);
});
