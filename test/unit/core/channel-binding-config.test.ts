// The channel_binding option (src/core/config/channel-binding-config.ts): defaults, values, errors with the YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError } from '../../../src/core/config/load-config.js';

test('default: -PLUS offered with tls-unique on every TLS version', () => {
  assert.deepEqual(buildConfig({}).channel_binding, { plus: true, tls_unique: 'always' });
});

test('plus and tls_unique are read', () => {
  assert.deepEqual(buildConfig({ channel_binding: { plus: false } }).channel_binding, { plus: false, tls_unique: 'always' });
  assert.deepEqual(buildConfig({ channel_binding: { tls_unique: 'tls12' } }).channel_binding, { plus: true, tls_unique: 'tls12' });
  assert.deepEqual(buildConfig({ channel_binding: { tls_unique: 'never' } }).channel_binding.tls_unique, 'never');
});

test('bad values name their YAML path', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ tls_unique: 'tls13' }, /channel_binding\.tls_unique: must be one of always, tls12, never/],
    [{ plus: 'no' }, /channel_binding\.plus: must be true or false/],
    [{ tls_exporter: true }, /channel_binding\.tls_exporter: unknown option/],
    ['off', /channel_binding: must be a mapping/],
  ];
  for (const [value, re] of cases) {
    assert.throws(() => buildConfig({ channel_binding: value }), (err: unknown) => err instanceof ConfigError && re.test(err.message));
  }
});
