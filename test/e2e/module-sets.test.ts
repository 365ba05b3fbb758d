// Per-host module sets (issue 9, host_config.<host>.modules): a host removes a module (false), overrides its
// options, or runs a module no other host runs; both hosts answer accordingly; config reload restarts only
// the (module, host) pairs that changed; bad sets are refused with their YAML path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/core/config/load-config.js';
import { checkModules } from '../../src/core/config/reload/check-modules.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import { BUNDLED_MODULES } from '../../modules/index.js';
import { startServer, type XmppServer } from '../../src/main.js';
import { ensureSelfSignedCertificate } from '../../src/interface/tls/self-signed.js';
import { RawClient } from '../support/raw-client.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/external-modules', import.meta.url));
const NS_MAM = 'urn:xmpp:mam:2';
const NS_SHOUT = 'urn:example:shout';
const HOSTS = ['localhost', 'example.test'];

let root: string;
let tls: { cert: string; key: string };
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'xmppd-modsets-'));
  await ensureSelfSignedCertificate(join(root, 'certs'), HOSTS);
  tls = { cert: join(root, 'certs', 'self-signed.crt'), key: join(root, 'certs', 'self-signed.key') };
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

type Yaml = Record<string, any>;

/** Two hosts; example.test has no mam, a 1 KB vCard limit and the shout module only it runs. */
function baseYaml(): Yaml {
  return {
    hosts: HOSTS,
    data_dir: './data',
    log_level: 'info',
    tls,
    module_paths: [FIXTURES],
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }],
    modules: { disco: {}, roster: {}, presence: {}, vcard: {}, mam: {} },
    host_config: { 'example.test': { modules: { mam: false, vcard: { max_size: 1024 }, shout: { suffix: '!' } } } },
  };
}

interface Running { server: XmppServer; file: string; port: number; write(y: Yaml): Promise<void>; stop(): Promise<void> }

async function startFromFile(y: Yaml): Promise<Running> {
  const dir = await mkdtemp(join(root, 'srv-'));
  const file = join(dir, 'xmppd.yaml');
  const write = (v: Yaml) => writeFile(file, stringify(v));
  await write(y);
  const server = await startServer(loadConfigFile(file), { log: new Logger('silent'), controlSocket: false });
  for (const host of HOSTS) await server.core.accounts.create(Jid.of('alice', host), 'alice-pw');
  return { server, file, port: server.port('c2s'), write, stop: () => server.stop() };
}

/**
 * Alice on `host` asks for disco#info (XEP-0030) of her server and of her own account (where MAM is
 * advertised, XEP-0313 §6) and gets both feature lists, merged.
 */
async function serverFeatures(port: number, host: string): Promise<string[]> {
  return [...(await features(port, host, host)), ...(await features(port, host, `alice@${host}`))];
}

async function features(port: number, host: string, to: string): Promise<string[]> {
  const { c } = await RawClient.login(port, 'alice', 'alice-pw', 'disco', { host });
  try {
    c.send(`<iq type='get' id='d1' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const [iq] = await c.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/);
    return [...iq!.matchAll(/<feature var=["']([^"']+)["']/g)].map((m) => m[1]!);
  } finally {
    c.close();
  }
}

/** Alice on `host` publishes a vCard of about `bytes` bytes; the IQ result or error. */
async function publishVcard(port: number, host: string, bytes: number): Promise<string> {
  const { c } = await RawClient.login(port, 'alice', 'alice-pw', 'vc', { host });
  try {
    c.send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><DESC>${'a'.repeat(bytes)}</DESC></vCard></iq>`);
    return (await c.expect(/<iq[^>]*id=["']v1["'][\s\S]*?(<\/iq>|\/>)/))[0];
  } finally {
    c.close();
  }
}

test('host_config modules: example.test drops mam, limits vCards to 1 KB and alone runs shout; localhost keeps the global set', async () => {
  const s = await startFromFile(baseYaml());
  try {
    const local = await serverFeatures(s.port, 'localhost');
    const other = await serverFeatures(s.port, 'example.test');
    assert.ok(local.includes(NS_MAM), 'mam on localhost');
    assert.ok(!local.includes(NS_SHOUT), 'shout is not on localhost');
    assert.ok(!other.includes(NS_MAM), 'mam: false removes it on example.test');
    assert.ok(other.includes(NS_SHOUT), 'shout, listed only under example.test, runs there');
    assert.ok(other.includes('vcard-temp') && local.includes('vcard-temp'));

    assert.match(await publishVcard(s.port, 'localhost', 2000), /type=["']result["']/, 'the global 64 KB limit on localhost');
    const refused = await publishVcard(s.port, 'example.test', 2000);
    assert.match(refused, /type=["']error["'][\s\S]*<policy-violation/, 'max_size 1024 on example.test');

    assert.deepEqual(s.server.modules.info('mam')!.hosts, ['localhost']);
    assert.deepEqual(s.server.modules.info('shout')!.hosts, ['example.test']);
    assert.deepEqual(s.server.modules.info('vcard')!.host_options, { 'example.test': { max_size: 1024 } });

    // `xmppd module load` at runtime follows host_config too
    await s.server.modules.unload('mam');
    await s.server.modules.unload('shout');
    assert.deepEqual((await s.server.modules.load('mam')).hosts, ['localhost'], 'mam stays off example.test');
    assert.deepEqual((await s.server.modules.load('shout', { suffix: '?' })).hosts, ['example.test'], 'shout only where host_config lists it');
    assert.deepEqual(s.server.modules.info('shout')!.host_options, { 'example.test': { suffix: '!' } }, 'the host override wins');
    assert.deepEqual((await s.server.modules.reload('vcard', { max_size: 2048 })).host_options, { 'example.test': { max_size: 1024 } });
    assert.ok((await serverFeatures(s.port, 'localhost')).includes(NS_MAM));
  } finally {
    await s.stop();
  }
});

test('config reload per host: only the changed (module, host) pairs stop, start or restart', async () => {
  const s = await startFromFile(baseYaml());
  try {
    const y = baseYaml();
    y.host_config['example.test'].modules.vcard = { max_size: 4096 }; // options change on one host
    y.host_config.localhost = { modules: { mam: false } }; // removed on the other
    delete y.host_config['example.test'].modules.mam; // and back on example.test
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, true, r.errors.join('; '));
    assert.deepEqual(r.modules, { started: ['mam on example.test'], reloaded: ['vcard on example.test'], stopped: ['mam on localhost'] });
    assert.deepEqual(r.restart_required, [], 'module sets apply without a restart');
    assert.deepEqual([...r.applied].sort(), ['host_config.example.test.modules.vcard', 'host_config.localhost.modules.mam', 'modules.mam']);

    assert.ok(!(await serverFeatures(s.port, 'localhost')).includes(NS_MAM));
    assert.ok((await serverFeatures(s.port, 'example.test')).includes(NS_MAM));
    assert.match(await publishVcard(s.port, 'example.test', 2000), /type=["']result["']/, 'the new 4 KB limit');
    assert.match(await publishVcard(s.port, 'example.test', 6000), /<policy-violation/);
    assert.match(await publishVcard(s.port, 'localhost', 6000), /type=["']result["']/, 'localhost unchanged');
    assert.deepEqual(s.server.modules.info('mam')!.hosts, ['example.test']);

    const again = await s.server.reload();
    assert.deepEqual(again.modules, { started: [], reloaded: [], stopped: [] }, 'an unchanged file changes no module');
  } finally {
    await s.stop();
  }
});

test('a reload that would break a dependency on one host is refused with the YAML path, and nothing changes', async () => {
  const s = await startFromFile(baseYaml());
  try {
    const y = baseYaml();
    y.host_config['example.test'].modules.roster = false; // presence requires roster
    y.host_config['example.test'].modules.vcard = { max_size: 4096 };
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /host_config\.example\.test\.modules\.roster: removing "roster" on example\.test breaks module "presence"/);
    assert.match(await publishVcard(s.port, 'example.test', 2000), /<policy-violation/, 'vcard keeps its running options');
    assert.deepEqual(s.server.modules.info('roster')!.hosts, HOSTS);
  } finally {
    await s.stop();
  }
});

test('a module that fails to start on one host during a reload is rolled back there; the other host never stops it', async () => {
  const y0 = baseYaml();
  y0.modules.shout = { suffix: '!' }; // shout on both hosts
  delete y0.host_config['example.test'].modules.shout;
  const s = await startFromFile(y0);
  try {
    const y = structuredClone(y0);
    y.host_config['example.test'].modules.shout = { suffix: 'FAIL' }; // the fixture's start() throws
    await s.write(y);
    const r = await s.server.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors[0]!, /module shout failed to start on example\.test: asked to fail; rolled back/);
    assert.equal(r.errors.length, 1, 'restored');
    assert.deepEqual(s.server.modules.info('shout')!.hosts.sort(), [...HOSTS].sort());
    assert.equal(s.server.modules.info('shout')!.status, 'running');
    for (const h of HOSTS) assert.ok((await serverFeatures(s.port, h)).includes(NS_SHOUT), h);
  } finally {
    await s.stop();
  }
});

/** The problems `xmppd config check` reports for a config file, or the load error. */
async function problemsOf(y: Yaml): Promise<string> {
  const dir = await mkdtemp(join(root, 'chk-'));
  const file = join(dir, 'xmppd.yaml');
  await writeFile(file, stringify(y));
  try {
    return (await checkModules(loadConfigFile(file), BUNDLED_MODULES)).join('\n');
  } catch (err) {
    return (err as Error).message;
  }
}

test('bad host module sets name their YAML path: unknown module, bad option, broken requires, not a mapping', async () => {
  const withHost = (modules: unknown) => ({ ...baseYaml(), host_config: { 'example.test': { modules } } });
  assert.match(await problemsOf(withHost({ nosuch: {} })), /host_config\.example\.test\.modules\.nosuch: no module named "nosuch"/);
  assert.match(await problemsOf(withHost({ vcard: { max_size: 'big' } })), /host_config\.example\.test\.modules\.vcard\.max_size/);
  assert.match(await problemsOf(withHost({ roster: false })), /host_config\.example\.test\.modules\.roster: removing "roster" on example\.test breaks module "presence" \(modules\.presence\)/);
  assert.match(await problemsOf(withHost({ mam: 3 })), /host_config\.example\.test\.modules\.mam/);
  assert.match(await problemsOf(withHost(['mam'])), /host_config\.example\.test\.modules: must be a mapping/);
  assert.equal(await problemsOf(baseYaml()), '', 'the sound set has no problems');
  // boot is fail-fast with the same path
  const y = withHost({ vcard: { max_size: 10 } });
  const dir = await mkdtemp(join(root, 'boot-'));
  await writeFile(join(dir, 'x.yaml'), stringify(y));
  await assert.rejects(startServer(loadConfigFile(join(dir, 'x.yaml')), { log: new Logger('silent'), controlSocket: false }), /host_config\.example\.test\.modules\.vcard\.max_size/);
});
