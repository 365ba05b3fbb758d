// Per-stanza metrics (src/core/metrics.ts): counted in plain integers on the stanza path and exported by the
// registry as the same Prometheus counters and hook-time histogram as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../../src/core/metrics.js';

test('stanza counts appear in the scrape, by kind, and again after more stanzas', async () => {
  const m = new Metrics();
  m.countIn('message');
  m.countIn('message');
  m.countIn('iq');
  m.countOut();
  m.countRouted();
  m.countRouted();
  let text = await m.registry.metrics();
  assert.match(text, /^xmppd_stanzas_in_total\{kind="message"\} 2$/m);
  assert.match(text, /^xmppd_stanzas_in_total\{kind="iq"\} 1$/m);
  assert.match(text, /^xmppd_stanzas_out_total 1$/m);
  assert.match(text, /^xmppd_stanzas_routed_total 2$/m);
  m.countIn('message');
  m.countOut();
  text = await m.registry.metrics();
  assert.match(text, /^xmppd_stanzas_in_total\{kind="message"\} 3$/m);
  assert.match(text, /^xmppd_stanzas_out_total 2$/m);
  // Read through the counter itself (the admin stats command does this).
  const out = await m.stanzasOut.get();
  assert.equal(out.values[0]!.value, 2);
});

test('hook chain times are exported as a Prometheus histogram per hook', async () => {
  const m = new Metrics();
  m.observeHookTime('user_send_packet', 0.000005);
  m.observeHookTime('user_send_packet', 0.0005);
  m.observeHookTime('user_send_packet', 5);
  m.observeHookTime('filter_packet', 0.00005);
  const text = await m.registry.metrics();
  assert.match(text, /^# TYPE xmppd_hook_seconds histogram$/m);
  assert.match(text, /^xmppd_hook_seconds_bucket\{le="0.00001",hook="user_send_packet"\} 1$/m);
  assert.match(text, /^xmppd_hook_seconds_bucket\{le="0.001",hook="user_send_packet"\} 2$/m);
  assert.match(text, /^xmppd_hook_seconds_bucket\{le="1",hook="user_send_packet"\} 2$/m);
  assert.match(text, /^xmppd_hook_seconds_bucket\{le="\+Inf",hook="user_send_packet"\} 3$/m);
  assert.match(text, /^xmppd_hook_seconds_count\{hook="user_send_packet"\} 3$/m);
  assert.match(text, /^xmppd_hook_seconds_sum\{hook="user_send_packet"\} 5.000505$/m);
  assert.match(text, /^xmppd_hook_seconds_bucket\{le="0.0001",hook="filter_packet"\} 1$/m);
  assert.match(text, /^xmppd_hook_seconds_count\{hook="filter_packet"\} 1$/m);
});
