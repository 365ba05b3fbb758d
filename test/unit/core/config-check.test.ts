// The config check start and both check verbs run: a typo at every level is an error naming the file, the
// YAML path, the line, the column and the source line; every error of a file comes out of one run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../../src/core/config/check-config.js';
import { ConfigErrors, loadConfigFile } from '../../../src/core/config/load-config.js';
import { formatProblem, type ConfigProblem } from '../../../src/core/config/config-problem.js';
import { BUNDLED_MODULES } from '../../../modules/index.js';

const dir = mkdtempSync(join(tmpdir(), 'xmppd-check-'));
let n = 0;
function file(text: string): string {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}
const errors = async (text: string) => (await checkConfig(file(text), BUNDLED_MODULES)).problems.filter((p) => p.severity === 'error');

/** One typo per level: the YAML (after `hosts:`), the path it must be reported at, and the typo on its line. */
const TYPOS: Array<{ yaml: string; path: string; typo: string }> = [
  { yaml: 'max_stanza_sise: 1024', path: 'max_stanza_sise', typo: 'max_stanza_sise' },
  { yaml: 'listen:\n  - { port: 0, type: c2s, starttls_requird: true }', path: 'listen[0].starttls_requird', typo: 'starttls_requird' },
  { yaml: 'listen:\n  - { port: 0, type: c2s }\n  - port: 5280\n    adress: 127.0.0.1\n    type: http', path: 'listen[1].adress', typo: 'adress' },
  { yaml: 'listen:\n  - { port: 0, type: c2s_tls, starttls_required: false }', path: 'listen[0].starttls_required', typo: 'starttls_required' },
  { yaml: 'listen:\n  - port: 0\n    type: http\n    websocket: { pth: /ws }', path: 'listen[0].websocket.pth', typo: 'pth' },
  { yaml: 'listen:\n  - port: 0\n    type: https\n    bosh:\n      max_wiat: 5', path: 'listen[0].bosh.max_wiat', typo: 'max_wiat' },
  { yaml: 'listen:\n  - { port: 0, type: s2s, bosh: {} }', path: 'listen[0].bosh', typo: 'bosh' },
  { yaml: 'tls:\n  cert: /etc/c.pem\n  key: /etc/k.pem\n  chain: /etc/ch.pem', path: 'tls.chain', typo: 'chain' },
  { yaml: 's2s:\n  dialback_secrt: 0123456789abcdef0123', path: 's2s.dialback_secrt', typo: 'dialback_secrt' },
  { yaml: 's2s:\n  overrides:\n    peer.example: { host: 127.0.0.1, prot: 5269 }', path: 's2s.overrides.peer.example.prot', typo: 'prot' },
  { yaml: 'limits:\n  max_session_per_user: 3', path: 'limits.max_session_per_user', typo: 'max_session_per_user' },
  { yaml: 'limits:\n  c2s: { bytes_per_sec: 10 }', path: 'limits.c2s.bytes_per_sec', typo: 'bytes_per_sec' },
  { yaml: 'limits:\n  auth:\n    delay: 10', path: 'limits.auth.delay', typo: 'delay' },
  { yaml: 'auth:\n  methd: internal', path: 'auth.methd', typo: 'methd' },
  { yaml: 'host_config:\n  localhost:\n    tsl: { cert: /c, key: /k }', path: 'host_config.localhost.tsl', typo: 'tsl' },
  { yaml: 'host_config:\n  localhost:\n    tls: { cert: /c, key: /k, ca: /x }', path: 'host_config.localhost.tls.ca', typo: 'ca' },
  { yaml: 'host_config:\n  localhost:\n    auth:\n      cache_tll: 5', path: 'host_config.localhost.auth.cache_tll', typo: 'cache_tll' },
  { yaml: 'host_config:\n  localhost:\n    modules:\n      roster: { max_itemz: 5 }', path: 'host_config.localhost.modules.roster.max_itemz', typo: 'max_itemz' },
  { yaml: 'modules:\n  roster: { max_itemz: 5 }', path: 'modules.roster.max_itemz', typo: 'max_itemz' },
  { yaml: 'modules:\n  roster:\n    max_items: lots', path: 'modules.roster.max_items', typo: 'lots' },
  { yaml: 'modules:\n  carbonz: {}', path: 'modules.carbonz', typo: 'carbonz' },
  { yaml: 'modules:\n  presence: {}', path: 'modules.presence', typo: 'presence' },
  { yaml: 'acl:\n  admin:\n    usr: [admin@localhost]', path: 'acl.admin.usr', typo: 'usr' },
  { yaml: 'access_rules:\n  register:\n    - alow: all', path: 'access_rules.register[0]', typo: 'alow' },
  { yaml: 'durability:\n  mod: batch', path: 'durability.mod', typo: 'mod' },
  { yaml: 'sasl2:\n  fast_token_lifetme: 100', path: 'sasl2.fast_token_lifetme', typo: 'fast_token_lifetme' },
  { yaml: 'channel_binding:\n  tls_uniqe: always', path: 'channel_binding.tls_uniqe', typo: 'tls_uniqe' },
  { yaml: 'import_limits:\n  max_byte: 100', path: 'import_limits.max_byte', typo: 'max_byte' },
  { yaml: 'components:\n  gw.localhost: { secret: s3cret, secrte: x }', path: 'components.gw.localhost.secrte', typo: 'secrte' },
  { yaml: 'cluster:\n  node: a\n  nats: [nats://127.0.0.1:4222]\n  snapshot_intervall: 60', path: 'cluster.snapshot_intervall', typo: 'snapshot_intervall' },
];

for (const t of TYPOS) {
  test(`a typo at ${t.path} is an error at its line`, async () => {
    const text = `hosts: [localhost]\n${t.yaml}\n`;
    const found = await errors(text);
    assert.equal(found.length, 1, found.map((p) => formatProblem(p)).join('\n'));
    const p = found[0]!;
    assert.equal(p.yamlPath, t.path);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => new RegExp(`\\b${t.typo}\\b`).test(l)) + 1;
    assert.ok(p.at, 'the problem has a position');
    assert.equal(p.at!.line, line, formatProblem(p));
    assert.equal(p.at!.source, lines[line - 1]);
    const shown = formatProblem(p);
    assert.ok(shown.startsWith(`${p.file}: ${t.path}: `), shown);
    // The source line is shown whole, with a caret under the column.
    assert.ok(shown.includes(`  at line ${line}, column ${p.at!.column}:\n    ${line} | ${lines[line - 1]}\n`), shown);
    assert.match(shown, new RegExp(`\\n {4} *\\| {${p.at!.column}}\\^$`));
  });
}

test('every error of a file comes out of one run, in file order, with list indices as in the file', async () => {
  const text = [
    'hosts: [localhost, "bad host", localhost]', // 1
    'listen:', // 2
    '  - { port: 99999, type: c2s }', // 3
    '  - { port: 5280, adress: 127.0.0.1, type: http }', // 4
    '  - { port: 0, type: pop3 }', // 5
    'tls: { cert: /c, kee: /k }', // 6
    'limits: { c2s: { bytes_per_second: lots } }', // 7
    'modules:', // 8
    '  roster: { max_itemz: 5 }', // 9
    '  ping: { ping_interval: soon }', // 10
    'colour: blue', // 11
  ].join('\n');
  const found = await errors(text);
  const got = found.map((p) => [p.yamlPath, p.at?.line]);
  assert.deepEqual(got, [
    ['hosts[1]', 1], ['hosts[2]', 1], ['listen[0].port', 3], ['listen[1].adress', 4], ['listen[2].type', 5],
    ['tls.key', 6], ['tls.kee', 6], ['limits.c2s.bytes_per_second', 7], ['modules.roster.max_itemz', 9],
    ['modules.ping.ping_interval', 10], ['colour', 11],
  ], found.map((p) => formatProblem(p)).join('\n'));
  assert.match(found.find((p) => p.yamlPath === 'tls.kee')!.problem, /did you mean key\?/);
  assert.match(found.find((p) => p.yamlPath === 'modules.roster.max_itemz')!.problem, /did you mean max_items\?/);
});

test('the listener typo refuses to load: start never listens on every address for a mistyped ip', () => {
  const f = file('hosts: [localhost]\nlisten: [{port: 5280, adress: 127.0.0.1, type: http}]\n');
  assert.throws(() => loadConfigFile(f), (err: unknown) => {
    assert.ok(err instanceof ConfigErrors);
    assert.equal(err.code, 'XMPPD_ERR_CONFIG');
    assert.equal(err.yamlPath, 'listen[0].adress');
    assert.match(err.message, /listen\[0\]\.adress: unknown option .*the address to listen on is "ip"\n {2}at line 2, column 23:\n {4}2 \| listen: \[\{port: 5280, adress: 127\.0\.0\.1, type: http\}\]\n/);
    return true;
  });
});

test('YAML syntax errors: all of them, each with its line and the source line', async () => {
  const r = await checkConfig(file('hosts: [localhost]\nlisten:\n  - { port: 1\nmodules: {a: 1, a: 2}\n'), BUNDLED_MODULES);
  assert.ok(r.problems.length >= 1);
  for (const p of r.problems) {
    assert.match(p.problem, /^invalid YAML: /);
    assert.ok(p.at && p.at.line >= 1, formatProblem(p));
    assert.doesNotMatch(p.problem, /at line \d+, column \d+:$/, 'the message is not cut after its position');
  }
});

test('a sound file and the embedded default have no errors', async () => {
  const ok = await checkConfig(file('hosts: [localhost]\nlisten: [{ port: 0, ip: 127.0.0.1, type: c2s }]\nmodules: { roster: { max_items: 5 }, presence: {} }\n'), BUNDLED_MODULES);
  assert.deepEqual(ok.problems, [] as ConfigProblem[]);
  assert.deepEqual((await checkConfig(undefined, BUNDLED_MODULES)).problems, []);
});

test('ACL patterns and addresses are checked as start compiles them', async () => {
  const found = await errors('hosts: [localhost]\nacl:\n  a: { user_regexp: ["(unclosed"] }\n  b: { ip: [10.0.0.0/33, "::1/128", not-an-ip] }\n');
  assert.deepEqual(found.map((p) => [p.yamlPath, p.at?.line]), [['acl.a.user_regexp[0]', 3], ['acl.b.ip[0]', 4], ['acl.b.ip[2]', 4]]);
  assert.match(found[0]!.problem, /not a valid regular expression/);
  assert.match(found[1]!.problem, /"10\.0\.0\.0\/33" is not an IP address or CIDR range/);
});

test('two listeners on one port are an error at the second (a wildcard address takes the port on every address)', async () => {
  const found = await errors('hosts: [localhost]\nlisten:\n  - { port: 5222, type: c2s }\n  - { port: 5222, ip: 127.0.0.1, type: c2s_tls }\n  - { port: 0, type: http }\n  - { port: 0, type: http }\n  - { port: 5300, ip: 127.0.0.1, type: http }\n  - { port: 5300, ip: 127.0.0.2, type: http }\n');
  assert.deepEqual(found.map((p) => [p.yamlPath, p.at?.line]), [['listen[1].port', 4]]);
  assert.match(found[0]!.problem, /5222 on 127\.0\.0\.1 is already taken by listen\[0\] \(c2s on ::\)/);
});
