// listen[i].bosh (src/core/config/bosh-config.ts): defaults, values, errors with the YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError } from '../../../src/core/config/load-config.js';
import { DEFAULT_BOSH } from '../../../src/core/config/bosh-config.js';

const http = (bosh: unknown, extra: Record<string, unknown> = {}) => buildConfig({ listen: [{ port: 5280, type: 'http', bosh, ...extra }] }).listen[0]!.bosh;

test('default: served at /http-bind on http/https listeners; false turns it off', () => {
  assert.deepEqual(http(undefined), DEFAULT_BOSH);
  assert.equal(DEFAULT_BOSH.path, '/http-bind');
  assert.equal(http(false)!.enabled, false);
  assert.equal(buildConfig({ listen: [{ port: 5222, type: 'c2s' }] }).listen[0]!.bosh, undefined);
});

test('options are read', () => {
  const b = http({ path: '/bosh', origins: ['https://chat.example.org/'], consider_secure: true, max_wait: 30, max_hold: 2, inactivity: 90, max_pause: 0 })!;
  assert.deepEqual(b, { enabled: true, path: '/bosh', origins: ['https://chat.example.org'], consider_secure: true, max_wait: 30, max_hold: 2, inactivity: 90, max_pause: 0 });
});

test('bad values name their YAML path', () => {
  const cases: Array<[unknown, RegExp, Record<string, unknown>?]> = [
    [{ path: 'http-bind' }, /listen\[0\]\.bosh\.path: must be a URL path/],
    [{ path: '/metrics' }, /listen\[0\]\.bosh\.path: "\/metrics" is taken/],
    [{ path: '/xmpp-websocket' }, /listen\[0\]\.bosh\.path: "\/xmpp-websocket" is the WebSocket path/],
    [{ max_wait: 0 }, /listen\[0\]\.bosh\.max_wait: must be a whole number from 1 to 3600/],
    [{ max_hold: 1.5 }, /listen\[0\]\.bosh\.max_hold: must be a whole number/],
    [{ inactivity: 'long' }, /listen\[0\]\.bosh\.inactivity: must be a whole number/],
    [{ origins: ['chat.example.org'] }, /listen\[0\]\.bosh\.origins\[0\]: "chat\.example\.org" is not an origin/],
    [{ hold: 1 }, /listen\[0\]\.bosh\.hold: unknown option/],
    ['yes', /listen\[0\]\.bosh: must be true, false or a mapping/],
  ];
  for (const [value, re] of cases) {
    assert.throws(() => http(value), (err: unknown) => err instanceof ConfigError && re.test(err.message), String(re));
  }
  assert.throws(() => buildConfig({ listen: [{ port: 5222, type: 'c2s', bosh: {} }] }), /listen\[0\]\.bosh: is an option of http and https listeners only/);
});
