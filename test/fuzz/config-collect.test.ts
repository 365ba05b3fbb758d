// Fuzzing the every-error collection: the example and test configs with several random values grafted
// in. The first error is buildConfig's own; no error means buildConfig builds the same config; every error
// is located in the YAML text (line and source line), and the collection always ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError, buildConfig } from '../../src/core/config/load-config.js';
import { collectConfig } from '../../src/core/config/collect-config.js';
import { YamlSource } from '../../src/core/config/yaml-source.js';
import { describeRun, fuzz } from './support/fuzz-run.js';

const ROOT = new URL('../../../', import.meta.url);
const load = (f: string) => parseYaml(readFileSync(fileURLToPath(new URL(f, ROOT)), 'utf8')) as Record<string, unknown>;
const BASES = [load('config/xmppd.example.yaml'), load('config/test.yaml')];

const KEYS = ['hosts', 'listen', 'tls', 'host_config', 'localhost', 'example.test', 'modules', 'acl', 'access_rules', 's2s', 'limits',
  'auth', 'port', 'ip', 'adress', 'type', 'cert', 'key', 'c2s', 'roster', 'max_items', 'overrides', 'a.example', 'websocket', 'bosh', 'admin', 'user'];
const value = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 70000 }), fc.constantFrom(...KEYS), fc.string({ maxLength: 8 }),
  fc.array(fc.constantFrom('localhost', 'bad host', 1, { type: 'http' }, { port: 5, adress: 'x' }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(1, 'x', true, [], {}), { maxKeys: 3 }),
);

/** A copy of `base` with `v` put at `path`; a number segment indexes a list when there is one. */
function graft(base: unknown, path: Array<string | number>, v: unknown): unknown {
  if (path.length === 0) return v;
  const [k, ...rest] = path;
  if (Array.isArray(base) && typeof k === 'number' && base.length) {
    const copy = [...base];
    copy[k % base.length] = graft(copy[k % base.length], rest, v);
    return copy;
  }
  const o = typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  o[String(k)] = graft(o[String(k)], rest, v);
  return o;
}

test('grafted configs: every error collected, the first is buildConfig\'s, each located in the YAML text', async (t) => {
  const step = fc.tuple(fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.nat(3)), { minLength: 1, maxLength: 4 }), value);
  const r = await fuzz(fc.property(fc.constantFrom(...BASES), fc.array(step, { minLength: 1, maxLength: 4 }), (base, steps) => {
    const raw = steps.reduce<unknown>((acc, [p, v]) => graft(acc, p, v), base);
    const text = stringify(raw);
    const doc = parseYaml(text);
    const { config, errors } = collectConfig(doc, '/etc/xmppd/xmppd.yaml', '/etc/xmppd');
    let first: ConfigError | null = null;
    try {
      assert.deepEqual(buildConfig(doc, '/etc/xmppd/xmppd.yaml', '/etc/xmppd'), config, 'no error: the same config');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      first = err;
    }
    assert.equal(errors.length > 0, first !== null);
    if (first) assert.equal(errors[0]!.yamlPath, first.yamlPath);
    const source = new YamlSource('/etc/xmppd/xmppd.yaml', text);
    for (const e of errors) {
      if (e.segments.length === 0) continue;
      const at = source.locate(e.segments, 'key');
      assert.ok(at && at.line >= 1 && text.split('\n')[at.line - 1] === at.source, `${e.yamlPath} is located`);
    }
  }), 400);
  t.diagnostic(describeRun(r));
});
