// The memory trimmer (src/core/memory-trim.ts): when it calls malloc_trim, its config key, and that glibc's
// malloc_trim loads and runs through koffi on a Linux/glibc machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/core/log.js';
import { Metrics } from '../../../src/core/metrics.js';
import { buildConfig, ConfigError } from '../../../src/core/config/load-config.js';
import { diffConfig } from '../../../src/core/config/reload/config-diff.js';
import { MIN_RSS_GROWTH, MemoryTrimmer, TrimPolicy, loadMallocTrim } from '../../../src/core/memory-trim.js';

const MiB = 1024 * 1024;

test('policy: an idle or steady server is never trimmed', () => {
  const idle = new TrimPolicy(0, 80 * MiB);
  for (let i = 0; i < 100; i++) assert.equal(idle.check(0, 80 * MiB + i * 1024), null);
  // 5000 connections held, the usual churn of a few dozen, RSS wobbling well under the growth threshold
  const steady = new TrimPolicy(5000, 300 * MiB);
  for (let i = 0; i < 100; i++) assert.equal(steady.check(5000 - (i % 40), 300 * MiB + (i % 7) * MiB), null);
});

test('policy: trims after a notable connection drop, then measures from the level after the trim', () => {
  const p = new TrimPolicy(0, 75 * MiB);
  assert.equal(p.check(10_000, 75 * MiB), null); // growth of connections alone is no reason
  assert.equal(p.check(9_000, 75 * MiB), null); // -10 %: not yet
  assert.equal(p.check(7_400, 75 * MiB), 'connections_dropped'); // -26 % of the high of 10 000
  p.trimmed(7_400, 75 * MiB);
  assert.equal(p.check(7_400, 75 * MiB), null); // the same level again: nothing new was freed
  assert.equal(p.check(5_500, 75 * MiB), 'connections_dropped');
  p.trimmed(0, 75 * MiB);
  // a small server: 40 of 50 connections gone is not worth a trim (under 64 connections)
  const small = new TrimPolicy(50, 75 * MiB);
  assert.equal(small.check(10, 75 * MiB), null);
});

test('policy: trims when RSS grew well above its level after the last trim (a peak between two checks)', () => {
  const p = new TrimPolicy(0, 75 * MiB);
  assert.equal(p.check(0, 75 * MiB + MIN_RSS_GROWTH - 1), null);
  assert.equal(p.check(0, 75 * MiB + MIN_RSS_GROWTH), 'rss_grew');
  p.trimmed(0, 400 * MiB); // the trim gave little back: no new trim until RSS grows again from there
  assert.equal(p.check(0, 420 * MiB), null);
  assert.equal(p.check(0, 400 * MiB + MIN_RSS_GROWTH), 'rss_grew');
});

test('policy: a server filling up with sessions is not trimmed while its RSS grows with them', () => {
  const p = new TrimPolicy(0, 75 * MiB);
  for (let n = 1000; n <= 10_000; n += 1000) assert.equal(p.check(n, 75 * MiB + n * 45 * 1024), null);
  assert.equal(p.check(10_000, 520 * MiB), null); // held
});

/** A trimmer over an injected clock, RSS, connection count and trim function (counting its calls). */
function rig(opts: { available?: boolean } = {}) {
  const state = { connections: 0, rss: 80 * MiB, clock: 0, calls: 0, pads: [] as number[] };
  const metrics = new Metrics();
  const trimmer = new MemoryTrimmer(() => 60, { connections: () => state.connections, rss: () => state.rss },
    new Logger('silent'), metrics,
    async () => (opts.available === false ? null : async (pad: number) => {
      state.calls++;
      state.pads.push(pad);
      state.clock += 30; // the call takes 30 ms of the injected clock
      state.rss = 90 * MiB; // and hands memory back
      return 1;
    }),
    () => state.clock);
  return { state, metrics, trimmer };
}

test('trimmer: calls malloc_trim(0) only after a drop, counts and times it; idle checks do nothing', async (t) => {
  const { state, metrics, trimmer } = rig();
  trimmer.start();
  t.after(() => trimmer.stop());
  for (let i = 0; i < 5; i++) assert.equal(await trimmer.check(), null);
  state.connections = 10_000;
  state.rss = 500 * MiB;
  assert.equal(await trimmer.check(), null); // 10 000 sessions held: their memory is in use
  assert.equal(state.calls, 0);
  state.connections = 0;
  state.rss = 460 * MiB;
  const dropped = await trimmer.check();
  assert.deepEqual({ reason: dropped?.reason, seconds: dropped?.seconds, before: dropped?.rssBefore, after: dropped?.rssAfter },
    { reason: 'connections_dropped', seconds: 0.03, before: 460 * MiB, after: 90 * MiB });
  for (let i = 0; i < 5; i++) assert.equal(await trimmer.check(), null); // idle again
  state.rss = 200 * MiB; // a burst that came and went between two checks
  assert.equal((await trimmer.check())?.reason, 'rss_grew');
  assert.equal(await trimmer.check(), null);
  assert.equal(state.calls, 2);
  assert.deepEqual(state.pads, [0, 0]);
  assert.deepEqual(trimmer.recent.map((r) => r.reason), ['connections_dropped', 'rss_grew']);
  const trims = await metrics.memoryTrims.get();
  assert.deepEqual(trims.values.map((v) => [v.labels.reason, v.value]).sort(), [['connections_dropped', 1], ['rss_grew', 1]]);
  const seconds = await metrics.memoryTrimSeconds.get();
  assert.equal(seconds.values.find((v) => v.metricName === 'xmppd_memory_trim_seconds_count')?.value, 2);
  assert.equal((await metrics.memoryTrimReleased.get()).values[0]?.value, (460 - 90 + 200 - 90) * MiB);
});

test('trimmer: without malloc_trim (no glibc or koffi) it stops checking and never fails', async () => {
  const { state, trimmer } = rig({ available: false });
  trimmer.start();
  state.rss = 900 * MiB; // a reason to trim, but nothing to trim with
  assert.equal(await trimmer.check(), null);
  assert.equal(await trimmer.check(), null);
  assert.equal(state.calls, 0);
  trimmer.stop();
});

test('memory_trim_interval: default 60 s, 0 turns it off, bad values name the YAML path, applied on reload', () => {
  assert.equal(buildConfig({}).memory_trim_interval, 60);
  assert.equal(buildConfig({ memory_trim_interval: 0 }).memory_trim_interval, 0);
  for (const v of [-1, 1.5, '60', 86401]) {
    assert.throws(() => buildConfig({ memory_trim_interval: v }, '/etc/xmppd.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^\/etc\/xmppd\.yaml: memory_trim_interval: must be an integer from 0 to 86400/);
      return true;
    });
  }
  const diff = diffConfig(buildConfig({}), buildConfig({ memory_trim_interval: 300 }));
  assert.deepEqual(diff.hot, ['memory_trim_interval']);
  assert.deepEqual(diff.restart, []);
});

test('on Linux with glibc, malloc_trim loads through koffi and hands memory back', async (t) => {
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
  let why: string | null = null;
  if (process.platform !== 'linux') why = `not Linux (${process.platform})`;
  else if (!glibc) why = 'not glibc (musl or another libc)';
  else {
    try {
      await import('koffi');
    } catch {
      why = 'the optional dependency koffi is not installed';
    }
  }
  if (why) {
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return;
  }
  const trim = await loadMallocTrim();
  assert.ok(trim, 'malloc_trim did not load');
  // Free a few thousand small blocks between live ones (fragmentation), then trim: glibc answers 1 when it
  // released memory, 0 when there was nothing to release; anything else would mean a wrong binding.
  const kept: Buffer[] = [];
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.allocUnsafeSlow(8192); // outside the pool: one malloc each
    if (i % 2) kept.push(b);
  }
  assert.ok([0, 1].includes(await trim(0)));
  assert.equal(kept.length, 10_000);
});
