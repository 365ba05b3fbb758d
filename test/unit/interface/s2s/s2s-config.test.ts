// The s2s config section: defaults, overrides syntax, policies, and errors naming the YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError } from '../../../../src/core/config/load-config.js';

test('defaults: federation follows the listeners; dialback allowed; TLS required; 600 s idle, 30 s connect', () => {
  const off = buildConfig({});
  assert.equal(off.s2s.enabled, false, 'no s2s listener, no federation');
  const on = buildConfig({ listen: [{ type: 'c2s' }, { type: 's2s' }] });
  assert.equal(on.s2s.enabled, true);
  assert.equal(on.listen[1]!.port, 5269);
  assert.deepEqual(
    { policy: on.s2s.policy, tls: on.s2s.require_encryption, idle: on.s2s.idle_timeout, connect: on.s2s.connect_timeout, ca: on.s2s.system_ca },
    { policy: 'allow_dialback', tls: true, idle: 600, connect: 30, ca: true },
  );
  assert.equal(buildConfig({ s2s: { enabled: true } }).s2s.enabled, true, 'outbound-only federation can be asked for');
});

test('overrides: host:port, [v6]:port, bare host, or a mapping with tls direct|starttls', () => {
  const c = buildConfig({
    s2s: {
      overrides: {
        'a.example': '127.0.0.1:5299',
        'b.example': '[::1]:5270',
        'c.example': 'xmpp.c.example',
        'D.Example': { host: 'd-host', tls: 'direct' },
      },
      domain_policy: { 'secure.example': 'require_valid_cert' },
    },
  });
  assert.deepEqual(c.s2s.overrides, {
    'a.example': { host: '127.0.0.1', port: 5299, tls: 'starttls' },
    'b.example': { host: '::1', port: 5270, tls: 'starttls' },
    'c.example': { host: 'xmpp.c.example', port: 5269, tls: 'starttls' },
    'd.example': { host: 'd-host', port: 5270, tls: 'direct' },
  });
  assert.deepEqual(c.s2s.domain_policy, { 'secure.example': 'require_valid_cert' });
});

test('bad s2s values name their YAML path', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => buildConfig(raw, '/etc/x.yaml'), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  bad({ s2s: { policy: 'trust_everyone' } }, /s2s\.policy: must be one of require_valid_cert, allow_dialback/);
  bad({ s2s: { domain_policy: { 'x.example': 'maybe' } } }, /s2s\.domain_policy\.x\.example: must be one of/);
  bad({ s2s: { overrides: { 'x.example': 'host:port:extra' } } }, /s2s\.overrides\.x\.example: "host:port:extra" is not host:port/);
  bad({ s2s: { overrides: { 'x.example': { host: 'h', tls: 'sometimes' } } } }, /s2s\.overrides\.x\.example\.tls: must be direct/);
  bad({ s2s: { idle_timeout: 0 } }, /s2s\.idle_timeout: must be an integer from 1/);
  bad({ s2s: { dialback_secret: 'short' } }, /s2s\.dialback_secret: must be a string of at least 16/);
  bad({ s2s: { colour: 'blue' } }, /s2s\.colour: unknown option/);
  bad({ s2s: { dns_servers: '127.0.0.1' } }, /s2s\.dns_servers: must be a list/);
  bad({ listen: [{ type: 's2s' }], s2s: { enabled: false } }, /s2s\.enabled: is false, but listen has an s2s\/s2s_tls listener/);
});
