// Fuzzing the configuration loader: random YAML-shaped values, alone or grafted into a valid config,
// either build or throw a ConfigError whose YAML path starts at a key the input has; never another error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { ConfigError, buildConfig } from '../../src/core/config/load-config.js';
import type { ServerConfig } from '../../src/core/config/types.js';
import { describeRun, fuzz } from './support/fuzz-run.js';

const ROOT = new URL('../../../', import.meta.url);
const EXAMPLE = parseYaml(readFileSync(fileURLToPath(new URL('config/xmppd.example.yaml', ROOT)), 'utf8')) as Record<string, unknown>;
const TEST = parseYaml(readFileSync(fileURLToPath(new URL('config/test.yaml', ROOT)), 'utf8')) as Record<string, unknown>;

/** Keys a YAML mapping may hold: the loader's own, inherited Object members, and junk. */
const KEYS = [
  'hosts', 'data_dir', 'log_level', 'listen', 'tls', 'host_config', 'max_stanza_size', 'max_xml_depth', 'max_xml_attributes',
  'max_xml_name_length', 'c2s_idle_timeout', 'sasl_max_failures', 'scram_iterations', 'module_paths', 'modules', 'acl',
  'access_rules', 's2s', 'api_tokens', 'auth', 'components', 'limits', 'port', 'ip', 'type', 'starttls_required', 'cert', 'key',
  'user', 'server', 'user_regexp', 'resource', 'allow', 'deny', 'localhost', 'example.com', 'enabled', 'policy', 'overrides',
  'dialback_secret', 'secret', 'method', 'program', 'exempt', 'c2s', 'max_sessions_per_user', 'bytes_per_second',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'all', 'none', '', ' ', 'é',
];

const scalar = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer({ min: -10, max: 70000 }), fc.constantFrom(0, -0, 1.5, 1e308, Infinity, NaN, 2 ** 53),
  fc.constantFrom(...KEYS), fc.string({ maxLength: 12 }), fc.constantFrom('localhost', 'xn--', '[::1]', 'a@b', '127.0.0.1:5269', 'sha256:00', '0.0.0.0/0', '::/200'),
);
const { value: yamlish } = fc.letrec<{ value: unknown }>((rec) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'yaml' },
    scalar,
    fc.array(rec('value'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.constantFrom(...KEYS), rec('value')), { maxLength: 5 }).map(toMapping),
  ),
}));

/** Like YAML's toJS: keys become own properties, even "__proto__". */
function toMapping(entries: Array<[string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** A copy of `base` with `value` put at `path` (creating mappings on the way). */
function graft(base: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const o = typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  const [k, ...rest] = path;
  Object.defineProperty(o, k!, { value: graft(o[k!], rest, value), enumerable: true, writable: true, configurable: true });
  return o;
}

/** The contract: a ServerConfig or a ConfigError pointing into the input. */
function check(raw: unknown): ServerConfig | null {
  try {
    return buildConfig(raw, '/etc/xmppd/xmppd.yaml', '/etc/xmppd');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `buildConfig threw ${(err as Error)?.constructor?.name}: ${String(err)}`);
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      // Keys may hold dots themselves (host_config.example.com.tls), so match whole prefixes.
      const p = err.yamlPath;
      const starts = Object.keys(raw).map((k) => k || '""').some((k) => p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`));
      assert.ok(starts, `error path "${p}" does not start at a key of the input (${err.message})`);
    } else {
      assert.equal(err.yamlPath, '');
    }
    assert.match(err.message, /^\/etc\/xmppd\/xmppd\.yaml: /);
    return null;
  }
}

/** What a built config promises its readers: rules name ACLs that exist, numbers are numbers. */
function checkBuilt(c: ServerConfig): void {
  const hasAcl = (acl: Record<string, unknown>, name: string) => name === 'all' || name === 'none' || Object.hasOwn(acl, name);
  for (const rule of Object.values(c.access_rules)) for (const r of rule) assert.ok(hasAcl(c.acl, r.acl), `access rule names ACL ${r.acl}, which is not defined`);
  for (const [h, hc] of Object.entries(c.host_config)) {
    for (const rule of Object.values(hc.access_rules ?? {})) for (const r of rule) assert.ok(hasAcl({ ...c.acl, ...hc.acl }, r.acl), `host ${h}: ACL ${r.acl}`);
  }
  for (const n of [c.max_stanza_size, c.max_xml_depth, c.max_xml_attributes, c.max_xml_name_length, c.scram_iterations]) assert.ok(Number.isSafeInteger(n));
  for (const l of c.listen) assert.ok(Number.isInteger(l.port) && l.port >= 0 && l.port <= 65535);
}

test('random YAML-shaped documents: buildConfig builds or throws a ConfigError with the YAML path', async (t) => {
  const r = await fuzz(fc.property(yamlish, (raw) => {
    const c = check(raw);
    if (c) checkBuilt(c);
  }), 1500);
  t.diagnostic(describeRun(r));
});

test('the example and test configs with one random value grafted anywhere: built, or a ConfigError naming that path', async (t) => {
  const base = fc.constantFrom(EXAMPLE, TEST);
  const path = fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 4 });
  const r = await fuzz(fc.property(base, path, yamlish, (b, p, v) => {
    const c = check(graft(b, p, v));
    if (c) checkBuilt(c);
  }), 1500);
  t.diagnostic(describeRun(r));
});

test('ACLs and access rules with random names (Object members included): a rule builds only if its ACL is defined', async (t) => {
  const name = fc.constantFrom('admin', 'local', 'all', 'none', 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '');
  const r = await fuzz(fc.property(
    fc.array(name, { maxLength: 3 }), fc.array(fc.tuple(fc.constantFrom('allow', 'deny'), name), { minLength: 1, maxLength: 3 }), fc.boolean(),
    (acls, rules, perHost) => {
      const acl = toMapping(acls.map((n) => [n, { user: ['admin@localhost'] }]));
      const list = rules.map(([action, n]) => toMapping([[action, n]]));
      const raw = perHost
        ? { acl, host_config: { localhost: { access_rules: { r: list } } } }
        : { acl, access_rules: { r: list } };
      const c = check(raw);
      if (c) checkBuilt(c);
    }), 300);
  t.diagnostic(describeRun(r));
});
