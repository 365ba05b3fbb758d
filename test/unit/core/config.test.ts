// Configuration loading: defaults, and errors that name the YAML path and what to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfigFile, ConfigError } from '../../../src/core/config/load-config.js';

test('the embedded default: localhost, ./data, c2s 5222 + c2s_tls 5223 on every address, http 5280 on loopback, no s2s, core modules', () => {
  const c = buildConfig({});
  assert.deepEqual(c.hosts, ['localhost']);
  assert.equal(c.data_dir, join(process.cwd(), 'data'));
  assert.deepEqual(c.listen.map((l) => [l.type, l.ip, l.port, l.starttls_required]), [['c2s', '::', 5222, true], ['c2s_tls', '::', 5223, true], ['http', '127.0.0.1', 5280, true]]);
  assert.equal(c.s2s.enabled, false, 'no federation without an s2s listener');
  assert.equal(c.max_stanza_size, 262144);
  assert.deepEqual(Object.keys(c.modules).sort(), ['blocking', 'bookmarks', 'caps', 'carbons', 'csi', 'disco', 'last', 'mam', 'muc', 'offline', 'pep', 'ping', 'presence', 'private', 'pubsub', 'push', 'register', 'roster', 'stream_management', 'time', 'vcard', 'version']);
});

const bad = (raw: unknown, path: RegExp) => {
  assert.throws(() => buildConfig(raw, '/etc/xmppd.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^\/etc\/xmppd\.yaml: /);
    assert.match(err.message, path);
    assert.equal(err.code, 'XMPPD_ERR_CONFIG');
    return true;
  });
};

test('bad values name their YAML path', () => {
  bad({ hosts: [] }, /hosts: must be a non-empty list/);
  bad({ hosts: ['bad host name'] }, /hosts\[0\]: "bad host name" is not a valid domain/);
  bad({ listen: [{ port: 99999, type: 'c2s' }] }, /listen\[0\]\.port: must be an integer from 0 to 65535/);
  bad({ listen: [{ port: 5222, type: 'pop3' }] }, /listen\[0\]\.type: must be one of/);
  bad({ max_stanza_size: 'big' }, /max_stanza_size: must be an integer/);
  bad({ log_level: 'loud' }, /log_level: must be one of/);
  bad({ colour: 'blue' }, /colour: unknown option/);
  bad({ access_rules: { register: [{ allow: 'friends' }] } }, /access_rules\.register\[0\]\.allow: ACL "friends" is not defined/);
  bad({ acl: { admin: { nickname: ['x'] } } }, /acl\.admin\.nickname: unknown ACL kind/);
  bad({ host_config: { 'other.example': {} } }, /host_config\.other\.example: "other\.example" is not listed in hosts/);
  bad({ modules: { ping: 'yes' } }, /modules\.ping: must be a mapping/);
});

test('YAML files: relative paths resolve against the file; syntax errors are reported with the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xmppd-cfg-'));
  const f = join(dir, 'x.yaml');
  writeFileSync(f, 'hosts: [example.org]\ndata_dir: ./state\nacl:\n  admin:\n    user: [admin@example.org]\naccess_rules:\n  configure:\n    - allow: admin\n');
  const c = loadConfigFile(f);
  assert.equal(c.data_dir, join(dir, 'state'));
  assert.equal(c.control_socket, join(dir, 'state', 'xmppd.sock'));
  assert.deepEqual(c.access_rules.configure, [{ action: 'allow', acl: 'admin' }]);
  writeFileSync(f, 'hosts: [a\n  b: c');
  assert.throws(() => loadConfigFile(f), /x\.yaml: \(top level\): invalid YAML/);
  assert.throws(() => loadConfigFile(join(dir, 'missing.yaml')), /missing\.yaml: \(top level\): cannot read the file \(ENOENT\)/);
});

test('the annotated example config and the test config are valid', () => {
  const root = new URL('../../../../config/', import.meta.url).pathname;
  const ex = loadConfigFile(join(root, 'xmppd.example.yaml'));
  assert.deepEqual(ex.hosts, ['localhost']);
  assert.equal(ex.listen[0]!.starttls_required, true);
  const t = loadConfigFile(join(root, 'test.yaml'));
  assert.deepEqual(t.access_rules.register, [{ action: 'allow', acl: 'loopback' }, { action: 'deny', acl: 'all' }]);
});

test('host_config ACLs and access rules are validated with their YAML path', () => {
  const c = buildConfig({
    hosts: ['a.example', 'b.example'],
    acl: { admin: { user: ['root@a.example'] } },
    host_config: { 'b.example': { acl: { local: { server: ['b.example'] } }, access_rules: { register: [{ allow: 'local' }, { deny: 'all' }] } } },
  });
  assert.deepEqual(c.host_config['b.example']!.access_rules!.register, [{ action: 'allow', acl: 'local' }, { action: 'deny', acl: 'all' }]);
  bad({ hosts: ['a.example'], host_config: { 'a.example': { access_rules: { register: [{ allow: 'nobody' }] } } } }, /host_config\.a\.example\.access_rules\.register\[0\]\.allow: ACL "nobody" is not defined/);
  bad({ hosts: ['a.example'], host_config: { 'a.example': { acl: { x: { colour: ['red'] } } } } }, /host_config\.a\.example\.acl\.x\.colour: unknown ACL kind/);
});
