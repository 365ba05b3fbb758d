#!/usr/bin/env node
// filter_packet handler runs per routed stanza with 1 and with 10 virtual hosts (issue 9: per-host hook
// chains). Counts invocations, not time. Runs on the compiled dist/ (build first: npx tsc -p tsconfig.json);
// a dist/ of another checkout can be named to compare: node test/bench/hook-runs.mjs [path/to/dist/]
// Each line: hosts, stanzas routed through the real router, filter_packet handler runs, runs per stanza.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = process.argv[2] ? pathToFileURL(resolve(process.argv[2]) + '/') : new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { HookRunner } = await import(new URL('src/core/hooks/hook-runner.js', dist));
const { Jid } = await import(new URL('src/core/jid.js', dist));
const xml = (await import('@xmpp/xml')).default;

// Count every filter_packet handler call, whatever the runner's registration signature.
let runs = 0;
const on = HookRunner.prototype.on;
HookRunner.prototype.on = function (name, handler, ...rest) {
  if (name !== 'filter_packet') return on.call(this, name, handler, ...rest);
  return on.call(this, name, function (...a) { runs++; return handler.apply(this, a); }, ...rest);
};

const STANZAS = 200;
// 'same-host': alice@localhost to bob@localhost and to the server; 'cross-host' (10 hosts): to bob@h1.test.
for (const [n, traffic] of [[1, 'same-host'], [10, 'same-host'], [10, 'cross-host']]) {
  const hosts = ['localhost', ...Array.from({ length: n - 1 }, (_, i) => `h${i + 1}.test`)];
  const t = await startTestServer({ hosts });
  try {
    await t.addUser('alice', 'pw');
    await t.addUser('bob', 'pw', hosts[traffic === 'cross-host' ? 1 : 0]);
    const alice = Jid.parse('alice@localhost/desk');
    const bob = Jid.parse(`bob@${hosts[traffic === 'cross-host' ? 1 : 0]}`);
    runs = 0;
    // Chat messages (archived, stored offline: bob has no session) and IQs to the server, alternating.
    for (let i = 0; i < STANZAS; i++) {
      const el = i % 2
        ? xml('iq', { type: 'get', id: `p${i}`, from: alice.toString(), to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' }))
        : xml('message', { type: 'chat', id: `m${i}`, from: alice.toString(), to: bob.toString() }, xml('body', {}, `hello ${i}`));
      await t.server.core.router.route(el, alice, i % 2 ? Jid.parse('localhost') : bob);
    }
    // Replies routed back (pong to alice@localhost/desk, no session: a drop) also pass the filter: count
    // them as routed stanzas too, from the router's own counter.
    await new Promise((r) => setTimeout(r, 200));
    const routed = (await t.server.core.metrics.registry.getSingleMetric('xmppd_stanzas_routed_total')?.get())?.values.reduce((s, v) => s + v.value, 0) ?? STANZAS;
    console.log(JSON.stringify({ hosts: n, traffic, routed, filter_packet_runs: runs, runs_per_stanza: +(runs / routed).toFixed(2) }));
  } finally {
    await t.stop();
  }
}
