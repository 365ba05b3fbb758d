// config/xmppd.example.yaml says its uncommented lines are the embedded default: they must build the very
// config `buildConfig({})` builds, module options resolved (an option shown with its default equals none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfig, loadConfigFile } from '../../../src/core/config/load-config.js';
import { resolveOptions } from '../../../src/core/module-runtime/options.js';
import type { ServerConfig } from '../../../src/core/config/types.js';
import { BUNDLED_MODULES } from '../../../modules/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../../config/xmppd.example.yaml', import.meta.url));

/** The config as the server uses it: module options with their defaults applied. */
function effective(c: ServerConfig): Record<string, unknown> {
  const modules = Object.fromEntries(Object.entries(c.modules).map(([name, raw]) => {
    const def = BUNDLED_MODULES[name];
    assert.ok(def, `module ${name} is bundled`);
    return [name, resolveOptions(def.options, raw, `modules.${name}`)];
  }));
  return { ...c, path: '', modules, module_order: Object.keys(c.modules) };
}

test('the example config is exactly the embedded default', () => {
  const example = loadConfigFile(EXAMPLE);
  // Relative paths resolve against the file's directory, so the default is built from there too.
  const embedded = buildConfig({}, '', dirname(EXAMPLE));
  const a = effective(example);
  const b = effective(embedded);
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) assert.deepEqual(a[key], b[key], `${key} differs between the example and the embedded default`);
  assert.equal(example.data_dir, join(dirname(EXAMPLE), 'data'));
});

test('the default listens for HTTP (/metrics, /api) on loopback only, and the example shows it', () => {
  const http = buildConfig({}).listen.filter((l) => l.type === 'http');
  assert.deepEqual(http.map((l) => [l.ip, l.port]), [['127.0.0.1', 5280]]);
  assert.deepEqual(loadConfigFile(EXAMPLE).listen.filter((l) => l.type === 'http').map((l) => [l.ip, l.port]), [['127.0.0.1', 5280]]);
});
