// admin_files_dir and import_limits: defaults, relative paths, and errors that name the YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildConfig } from '../../../src/core/config/load-config.js';
import { DEFAULT_IMPORT_LIMITS } from '../../../src/core/config/admin-files-config.js';

test('admin_files_dir defaults to <data_dir>/admin-files; a relative one is relative to the config file', () => {
  const c = buildConfig({ data_dir: '/var/lib/xmppd' }, '/etc/xmppd/xmppd.yaml', '/etc/xmppd');
  assert.equal(c.admin_files_dir, '/var/lib/xmppd/admin-files');
  assert.equal(buildConfig({ admin_files_dir: 'files' }, '/etc/xmppd/xmppd.yaml', '/etc/xmppd').admin_files_dir, join('/etc/xmppd', 'files'));
  assert.throws(() => buildConfig({ admin_files_dir: 42 }, 'x.yaml'), /x\.yaml: admin_files_dir: must be a directory path/);
});

test('import_limits: defaults, overrides, and errors with the YAML path', () => {
  assert.deepEqual(buildConfig({}).import_limits, DEFAULT_IMPORT_LIMITS);
  assert.equal(DEFAULT_IMPORT_LIMITS.max_bytes, 512 * 1024 * 1024);
  assert.deepEqual(buildConfig({ import_limits: { max_depth: 32 } }).import_limits, { ...DEFAULT_IMPORT_LIMITS, max_depth: 32 });
  assert.throws(() => buildConfig({ import_limits: { max_bytes: -1 } }), /import_limits\.max_bytes: must be a whole number of at least 1024/);
  assert.throws(() => buildConfig({ import_limits: { max_depth: 2 } }), /import_limits\.max_depth: must be a whole number of at least 8/);
  assert.throws(() => buildConfig({ import_limits: { maxbytes: 5 } }), /import_limits\.maxbytes: unknown option \(known: max_bytes, max_user_bytes, max_text_bytes, max_depth\)/);
  assert.throws(() => buildConfig({ import_limits: 'big' }), /import_limits: must be a mapping/);
});
