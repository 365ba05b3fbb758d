// The sasl2 option (src/core/config/sasl2-config.ts): defaults, values, errors with the YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError } from '../../../src/core/config/load-config.js';

test('default: SASL2 and FAST on, tokens valid for 14 days', () => {
  assert.deepEqual(buildConfig({}).sasl2, { enabled: true, fast: true, fast_token_lifetime: 14 * 86400 });
});

test('enabled, fast and fast_token_lifetime are read', () => {
  assert.deepEqual(buildConfig({ sasl2: { enabled: false } }).sasl2, { enabled: false, fast: true, fast_token_lifetime: 1209600 });
  assert.deepEqual(buildConfig({ sasl2: { fast: false, fast_token_lifetime: 3600 } }).sasl2, { enabled: true, fast: false, fast_token_lifetime: 3600 });
});

test('bad values name their YAML path', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ enabled: 'yes' }, /sasl2\.enabled: must be true or false/],
    [{ fast: 1 }, /sasl2\.fast: must be true or false/],
    [{ fast_token_lifetime: 10 }, /sasl2\.fast_token_lifetime: must be a whole number of seconds from 60/],
    [{ fast_token_lifetime: 1.5e9 }, /sasl2\.fast_token_lifetime: must be a whole number/],
    [{ bind2: true }, /sasl2\.bind2: unknown option \(known: enabled, fast, fast_token_lifetime\)/],
    ['on', /sasl2: must be a mapping/],
  ];
  for (const [value, re] of cases) {
    assert.throws(() => buildConfig({ sasl2: value }), (err: unknown) => err instanceof ConfigError && re.test(err.message));
  }
});
