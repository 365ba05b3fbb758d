// XMPPD_* environment variables over the configuration file (containers): YAML values, `__` between levels,
// lists by index, keys matched whatever their case, and errors that name the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultConfig, KNOWN_KEYS, loadConfigFile } from '../../../src/core/config/load-config.js';
import { applyEnv, ignoredEnv } from '../../../src/core/config/env-overrides.js';

function withFile(yaml: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'xmppd-env-'));
  try {
    const file = join(dir, 'xmppd.yaml');
    writeFileSync(file, yaml);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FILE = `
hosts: [example.com]
data_dir: /var/lib/xmppd
listen:
  - { port: 5222, type: c2s }
  - { port: 5280, ip: 127.0.0.1, type: http }
host_config:
  example.com:
    tls: { cert: /etc/cert.pem, key: /etc/key.pem }
`;

test('variables override the file: scalars, lists as YAML, nested levels with __, list entries by index', () => {
  withFile(FILE, (file) => {
    const c = loadConfigFile(file, {
      XMPPD_HOSTS: '[example.com, example.org]',
      XMPPD_DATA_DIR: '/data',
      XMPPD_LOG_LEVEL: 'debug',
      XMPPD_LISTEN__1__PORT: '8080',
      XMPPD_LISTEN__2: '{port: 5269, type: s2s}',
      XMPPD_CLUSTER__NODE: 'xmppd-0',
      XMPPD_CLUSTER__NATS: '[nats://nats-0:4222, nats://nats-1:4222]',
      XMPPD_CLUSTER__SEE_OTHER_HOST: 'xmpp.example.com:5222',
      'XMPPD_HOST_CONFIG__EXAMPLE.COM__TLS__CERT': '/run/secrets/cert.pem',
      XMPPD_CONFIG: '/ignored/as/an/option.yaml',
      XMPPD_DEBUG: '1',
      PATH: '/usr/bin',
    });
    assert.deepEqual(c.hosts, ['example.com', 'example.org']);
    assert.equal(c.data_dir, '/data');
    assert.equal(c.log_level, 'debug');
    assert.equal(c.listen[1]!.port, 8080);
    assert.equal(c.listen[1]!.ip, '127.0.0.1', 'the rest of the entry stays as the file has it');
    assert.equal(c.listen[2]!.type, 's2s');
    assert.equal(c.cluster?.node, 'xmppd-0');
    assert.deepEqual(c.cluster?.nats, ['nats://nats-0:4222', 'nats://nats-1:4222']);
    assert.equal(c.cluster?.see_other_host, 'xmpp.example.com:5222');
    assert.deepEqual(c.host_config['example.com']!.tls, { cert: '/run/secrets/cert.pem', key: '/etc/key.pem' }, 'the host keeps its spelling');
  });
});

test('the embedded default takes variables too', () => {
  const c = defaultConfig({ XMPPD_HOSTS: '[chat.example]', XMPPD_CONTROL_SOCKET: '/run/xmppd.sock' });
  assert.deepEqual(c.hosts, ['chat.example']);
  assert.equal(c.control_socket, '/run/xmppd.sock');
  assert.equal(defaultConfig({}).hosts[0], 'localhost');
});

test('an invalid value names the variable that set it, with the YAML path', () => {
  withFile(FILE, (file) => {
    const err = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfigFile(file, env);
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
      }
      return assert.fail('accepted');
    };
    assert.match(err({ XMPPD_LOG_LEVEL: 'loud' }), /log_level: must be one of .* \(set by the environment variable XMPPD_LOG_LEVEL\)/);
    assert.match(err({ XMPPD_LISTEN__0__PORT: 'high' }), /listen\[0\]\.port: must be an integer .*XMPPD_LISTEN__0__PORT/);
    assert.match(err({ XMPPD_CLUSTER: '{node: n1, nats: [nats://a:4222], replicas: 2}' }), /cluster\.replicas: .*XMPPD_CLUSTER\)/);
    assert.match(err({ XMPPD_HOSTS: '[a, b' }), /XMPPD_HOSTS is not a YAML value/);
    assert.match(err({ XMPPD_DATA_DIR__X: 'y' }), /data_dir: is not a mapping or a list: the environment variable XMPPD_DATA_DIR__X/);
    assert.match(err({ XMPPD_LISTEN__FIRST: '1' }), /listen: is a list: the environment variable XMPPD_LISTEN__FIRST must give an index/);
    assert.match(err({ XMPPD_LISTEN__7__PORT: '1' }), /XMPPD_LISTEN__7__PORT can set index 2 at most/);
    assert.match(err({ XMPPD_CLUSTER____NODE: 'x' }), /XMPPD_CLUSTER____NODE has an empty level/);
    // an error the file itself causes does not blame a variable
    assert.doesNotMatch(err({ XMPPD_LOG_LEVEL: 'debug', XMPPD_LISTEN__0__TYPE: 'c2s', XMPPD_HOSTS: '[]' }), /XMPPD_LOG_LEVEL/);
  });
});

test('variables that name no option are reported (typos), not applied; the file object is not changed', () => {
  assert.deepEqual(ignoredEnv(KNOWN_KEYS, { XMPPD_HOSST: '[a]', XMPPD_HOSTS: '[a]', XMPPD_CONFIG: 'x', XMPPD_TEST_LOG: '1', OTHER: '1' }), ['XMPPD_HOSST']);
  const raw = { hosts: ['a'] };
  const { raw: out, applied, ignored } = applyEnv(raw, '', KNOWN_KEYS, { XMPPD_HOSTS: '[b]', XMPPD_HOSST: '[c]' });
  assert.deepEqual(out, { hosts: ['b'] });
  assert.deepEqual(raw, { hosts: ['a'] });
  assert.deepEqual(applied, [{ variable: 'XMPPD_HOSTS', path: 'hosts' }]);
  assert.deepEqual(ignored, ['XMPPD_HOSST']);
});
