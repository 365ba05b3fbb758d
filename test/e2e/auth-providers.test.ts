// Authentication providers end to end over real sockets: an ejabberd extauth program (a real child
// process checking a JSON file), a provider a module registers, and the internal default. The SASL
// mechanisms each host offers follow its provider (RFC 6120 §6.3.3, §6.4.5).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../support/until.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { Jid } from '../../src/core/jid.js';
import { Logger } from '../../src/core/log.js';
import { buildConfig } from '../../src/core/config/load-config.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { extauthOf } from '../../src/core/auth/auth-providers.js';
import { AuthRefusedError, AuthUnsupportedError } from '../../src/core/auth/auth-provider.js';
import { encodeRequest, ReplyReader } from '../../src/core/auth/extauth-protocol.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/extauth/json-users.mjs', import.meta.url));
// A password with colons: the protocol's last field is everything after the third ':'.
const ALICE_PW = 'open:sesame:42';

let seq = 0;

/** TCP, STARTTLS, a fresh stream; resolves to the client and the post-TLS <stream:features/>. */
async function secureStream(port: number, domain = 'localhost'): Promise<{ c: RawClient; features: string; clearFeatures: string }> {
  const c = await RawClient.connect(port);
  c.openStream(domain);
  const clearFeatures = await c.features();
  await c.starttls(domain);
  c.openStream(domain);
  return { c, features: await c.features(), clearFeatures };
}

/** The classic SASL mechanisms offered (RFC 6120 <mechanisms/>; SASL2's <authentication/> lists the same ones). */
const mechanisms = (features: string) => {
  const block = /<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">([\s\S]*?)<\/mechanisms>/.exec(features)?.[1] ?? '';
  return [...block.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
};
const condition = (answer: string) => /<failure[^>]*>\s*<([a-z-]+)/.exec(answer)?.[1] ?? (answer.startsWith('<success') ? 'success' : answer);

/** SASL PLAIN over TLS; resolves to 'success' or the failure condition. Closes the client unless kept. */
async function plainLogin(port: number, user: string, password: string, domain = 'localhost'): Promise<string> {
  const { c } = await secureStream(port, domain);
  try {
    return condition(await c.authPlain(user, password));
  } finally {
    c.close();
  }
}

/** Logged in with PLAIN and bound, with initial presence. */
async function plainSession(port: number, user: string, password: string, resource: string): Promise<RawClient> {
  const { c } = await secureStream(port);
  assert.equal(condition(await c.authPlain(user, password)), 'success', `${user} logs in`);
  c.openStream();
  await c.features();
  await c.bind(resource);
  c.send('<presence/>');
  return c;
}

/** Round-trip a ping: what the server sent before the answer (RFC 6120 §10.1 keeps the order). */
async function sync(c: RawClient): Promise<string> {
  const id = `sync${++seq}`;
  c.send(`<iq to='localhost' type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  return (await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*>`)))[1]!;
}


const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function pidsIn(file: string): Promise<number[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean).map(Number);
}

describe('external auth program (ejabberd extauth protocol)', () => {
  let t: TestServer;
  let dir: string;
  let usersFile: string;
  let pidLog: string;
  const logLines: string[] = [];
  const extauth = () => extauthOf(t.server.core.auth.forHost('localhost'))!;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xmppd-extauth-'));
    usersFile = join(dir, 'users.json');
    pidLog = join(dir, 'pids');
    await writeFile(usersFile, JSON.stringify({ 'alice@localhost': ALICE_PW, 'bob@localhost': 'bob-pw' }));
    t = await startTestServer(
      { auth: { method: 'external', program: process.execPath, program_args: [FIXTURE, usersFile, pidLog], pool_size: 2, timeout: 20 } },
      // Everything at debug, to check below that no password ever reaches the log.
      { log: new Logger('debug', {}, (line) => void logLines.push(line), false) },
    );
  });
  after(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the features offer PLAIN after TLS, no SCRAM, and no mechanism in the clear', async () => {
    const { c, features, clearFeatures } = await secureStream(t.c2sPort);
    c.close();
    assert.deepEqual(mechanisms(features), ['PLAIN']);
    assert.doesNotMatch(features, /sasl-channel-binding/, 'no channel binding without SCRAM-PLUS');
    assert.deepEqual(mechanisms(clearFeatures), [], 'PLAIN is never offered before TLS (RFC 6120 §6.4.5)');
    assert.match(clearFeatures, /<starttls/);
  });

  test('the right password logs in, a wrong one or an unknown user gets not-authorized', async () => {
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
    assert.equal(await plainLogin(t.c2sPort, 'Alice', ALICE_PW), 'success', 'the program sees the prepared localpart');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'open:sesame'), 'not-authorized');
    assert.equal(await plainLogin(t.c2sPort, 'mallory', ALICE_PW), 'not-authorized');
    const { c } = await secureStream(t.c2sPort);
    assert.equal(condition(await c.authScram('SCRAM-SHA-256', 'alice', ALICE_PW)), 'invalid-mechanism');
    c.close();
  });

  test("isuser drives the router: a user only the program knows gets offline delivery, a stranger's message bounces", async () => {
    const alice = await plainSession(t.c2sPort, 'alice', ALICE_PW, 'a');
    await sync(alice);
    alice.send("<message to='bob@localhost' type='chat' id='to-bob'><body>stored for bob</body></message>");
    alice.send("<message to='nobody@localhost' type='chat' id='to-nobody'><body>lost</body></message>");
    const seen = await sync(alice);
    assert.doesNotMatch(seen, /id=["']to-bob["']/, 'no error for bob: his message waits offline');
    assert.match(seen, /<message[^>]*id=["']to-nobody["'][^>]*type=["']error["']|<message[^>]*type=["']error["'][^>]*id=["']to-nobody["']/);
    assert.match(seen, /service-unavailable/);
    const bob = await plainSession(t.c2sPort, 'bob', 'bob-pw', 'b');
    await bob.expect(/<body>stored for bob<\/body>/);
    alice.close();
    bob.close();
  });

  test('account operations go through the program; what it cannot do is a clear error', async () => {
    const core = t.server.core;
    const carol = Jid.of('carol', 'localhost');
    assert.equal(await core.accounts.exists(carol), false);
    await runCommand({ core }, 'user.add', { jid: 'carol@localhost', password: 'carol-pw-1' });
    assert.equal(JSON.parse(await readFile(usersFile, 'utf8'))['carol@localhost'], 'carol-pw-1', 'tryregister wrote the file');
    assert.equal(await core.accounts.exists(carol), true);
    await assert.rejects(runCommand({ core }, 'user.add', { jid: 'carol@localhost', password: 'another-password' }), /already exists/);
    await assert.rejects(core.accounts.create(Jid.of('noreg1', 'localhost'), 'x'), (err) => err instanceof AuthRefusedError && /refused to register noreg1@localhost/.test(err.message));
    await runCommand({ core }, 'user.passwd', { jid: 'carol@localhost', password: 'carol:pw:new' });
    assert.equal(await plainLogin(t.c2sPort, 'carol', 'carol-pw-1'), 'not-authorized');
    assert.equal(await plainLogin(t.c2sPort, 'carol', 'carol:pw:new'), 'success');
    await assert.rejects(runCommand({ core }, 'user.list', { host: 'localhost' }), (err) => err instanceof AuthUnsupportedError && err.message === 'the external auth program does not support listing accounts');
    await runCommand({ core }, 'user.del', { jid: 'carol@localhost' });
    assert.equal(JSON.parse(await readFile(usersFile, 'utf8'))['carol@localhost'], undefined, 'removeuser wrote the file');
    assert.equal(await plainLogin(t.c2sPort, 'carol', 'carol:pw:new'), 'not-authorized');
    await assert.rejects(runCommand({ core }, 'user.del', { jid: 'carol@localhost' }), /does not exist/);
  });

  test('in-band registration (XEP-0077) creates the account in the program', async () => {
    const { c } = await secureStream(t.c2sPort);
    c.send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>frank</username><password>frank:pw:1</password></query></iq>");
    assert.match((await c.expect(/<iq[^>]*id=["']reg1["'][^>]*\/?>/))[0], /type=["']result["']/);
    c.close();
    assert.equal(JSON.parse(await readFile(usersFile, 'utf8'))['frank@localhost'], 'frank:pw:1');
    assert.equal(await plainLogin(t.c2sPort, 'frank', 'frank:pw:1'), 'success');
    // a name the program refuses to register: not-allowed, not an internal error
    const { c: c2 } = await secureStream(t.c2sPort);
    c2.send("<iq type='set' id='reg2'><query xmlns='jabber:iq:register'><username>noreg2</username><password>long-enough-pw</password></query></iq>");
    const refused = (await c2.expect(/<iq[^>]*id=["']reg2["'][\s\S]*?<\/iq>/))[0];
    assert.match(refused, /<not-allowed /);
    c2.close();
  });

  test('a program killed mid-run is started again on the next request', async () => {
    await until(() => extauth().pids().length === 2, 'both programs running');
    const killed = extauth().pids();
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    await until(() => killed.every((pid) => !alive(pid)) && extauth().pids().length === 0, 'the server to see them gone');
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
    const now = extauth().pids();
    assert.equal(now.length, 1, 'one program restarted for the one request');
    assert.ok(!killed.includes(now[0]!));
    assert.ok((await pidsIn(pidLog)).includes(now[0]!), 'it is a real new process of the program');
  });

  test('a program dying with a request in flight fails that login (temporary-auth-failure), the next one works', async () => {
    assert.equal(await plainLogin(t.c2sPort, 'crash', 'x'), 'temporary-auth-failure');
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
  });

  test('requests and restarts are counted; no password reaches the log', async () => {
    const text = await t.server.core.metrics.registry.metrics();
    assert.match(text, /xmppd_extauth_requests_total\{op="auth",result="true"\} [1-9]/);
    assert.match(text, /xmppd_extauth_requests_total\{op="auth",result="false"\} [1-9]/);
    assert.match(text, /xmppd_extauth_restarts_total [1-9]/);
    assert.ok(logLines.some((l) => l.includes('external auth program started')), 'the log was captured');
    for (const secret of [ALICE_PW, 'bob-pw', 'carol:pw:new', 'open:sesame']) {
      assert.equal(logLines.find((l) => l.includes(secret)), undefined, `"${secret}" is not logged`);
    }
  });
});

test('a hanging program: temporary-auth-failure after the timeout, then a fresh program answers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-extauth-hang-'));
  const usersFile = join(dir, 'users.json');
  const pidLog = join(dir, 'pids');
  await writeFile(usersFile, JSON.stringify({ 'alice@localhost': ALICE_PW }));
  // timeout 3 s: the replacement is spawned on demand for alice's login, and a fresh node process on a
  // loaded 2-core machine can take over a second before it answers.
  const t = await startTestServer({ auth: { method: 'external', program: process.execPath, program_args: [FIXTURE, usersFile, pidLog], timeout: 3 } });
  try {
    await until(async () => (await pidsIn(pidLog).catch(() => [])).length === 1, 'the program to start at boot');
    const [first] = await pidsIn(pidLog);
    assert.equal(await plainLogin(t.c2sPort, 'hang', 'whatever'), 'temporary-auth-failure');
    await until(() => !alive(first!), 'the hung program to be killed');
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
    const pids = await pidsIn(pidLog);
    assert.equal(pids.length, 2, 'a new program answered');
  } finally {
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('cache_ttl: a repeated login is answered from memory until the password changes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-extauth-cache-'));
  const usersFile = join(dir, 'users.json');
  await writeFile(usersFile, JSON.stringify({ 'alice@localhost': ALICE_PW }));
  const t = await startTestServer({ auth: { method: 'external', program: process.execPath, program_args: [FIXTURE, usersFile], cache_ttl: 3600 } });
  const asked = async (result: string) => Number(new RegExp(`xmppd_extauth_requests_total\\{op="auth",result="${result}"\\} (\\d+)`).exec(await t.server.core.metrics.registry.metrics())?.[1] ?? 0);
  try {
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'success');
    assert.equal(await asked('true'), 1, 'the program was asked once');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'wrong'), 'not-authorized');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'wrong'), 'not-authorized');
    assert.equal(await asked('false'), 2, 'failures are never cached');
    await runCommand({ core: t.server.core }, 'user.passwd', { jid: 'alice@localhost', password: 'new-password' });
    assert.equal(await plainLogin(t.c2sPort, 'alice', ALICE_PW), 'not-authorized', 'a password change drops the cached one');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'new-password'), 'success');
  } finally {
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('extauth framing: requests are length-prefixed, answers are split across reads and checked', () => {
  const frame = encodeRequest('auth', 'alice', 'localhost', 'a:b');
  assert.equal(frame.readUInt16BE(0), frame.length - 2);
  assert.equal(frame.subarray(2).toString(), 'auth:alice:localhost:a:b');
  assert.equal(encodeRequest('isuser', 'bob', 'localhost').subarray(2).toString(), 'isuser:bob:localhost');
  assert.throws(() => encodeRequest('auth', 'a', 'localhost', 'x'.repeat(70_000)), /frame limit/);
  const r = new ReplyReader();
  assert.deepEqual(r.push(Buffer.from([0, 2, 0])), []);
  assert.deepEqual(r.push(Buffer.from([1, 0, 2, 0, 0, 0])), [true, false]);
  assert.throws(() => new ReplyReader().push(Buffer.from([0, 3, 0, 1, 0])), /length 3/);
  assert.throws(() => new ReplyReader().push(Buffer.from([0, 2, 0, 7])), /value 7/);
});

test('the programs end with the server', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-extauth-stop-'));
  const usersFile = join(dir, 'users.json');
  const pidLog = join(dir, 'pids');
  await writeFile(usersFile, '{}');
  const t = await startTestServer({ auth: { method: 'external', program: process.execPath, program_args: [FIXTURE, usersFile, pidLog], pool_size: 3 } });
  await until(async () => (await pidsIn(pidLog).catch(() => [])).length === 3, 'three programs');
  const pids = await pidsIn(pidLog);
  await t.stop();
  await rm(dir, { recursive: true, force: true });
  assert.deepEqual(pids.filter(alive), []);
});

describe('a provider a module registers (ctx.authProvider)', () => {
  let t: TestServer;
  let moduleDir: string;
  // An inline module outside the tree: a fixed user table that can only check passwords.
  const MODULE = `
export default {
  name: 'static-auth',
  start(ctx) {
    const users = new Map([['dave', 'dave-pw'], ['erin', 'erin-pw']]);
    ctx.authProvider('test-static', {
      name: 'test-static',
      capabilities: { scram: false, plain: true, register: false, setPassword: false, remove: false, list: true },
      async checkPassword(bare, password) { return users.get(bare.local) === password; },
      async userExists(bare) { return users.has(bare.local); },
      async list(host) { return [...users.keys()].sort().map((u) => u + '@' + host); },
    });
  },
};
`;

  before(async () => {
    moduleDir = await mkdtemp(join(tmpdir(), 'xmppd-authmod-'));
    await mkdir(join(moduleDir, 'static-auth'));
    await writeFile(join(moduleDir, 'static-auth', 'index.js'), MODULE);
    t = await startTestServer({
      hosts: ['localhost', 'example.test'],
      host_config: { 'example.test': { auth: { method: 'test-static' } } },
      module_paths: [moduleDir],
      modules: { disco: {}, ping: {}, offline: {}, 'static-auth': {} },
    });
    await t.addUser('alice', 'alice-pw'); // localhost keeps the internal table
  });
  after(async () => {
    await t?.stop();
    await rm(moduleDir, { recursive: true, force: true });
  });

  test("the host using it offers what it can do (PLAIN only); the other host keeps SCRAM", async () => {
    const ext = await secureStream(t.c2sPort, 'example.test');
    ext.c.close();
    assert.deepEqual(mechanisms(ext.features), ['PLAIN']);
    const own = await secureStream(t.c2sPort, 'localhost');
    own.c.close();
    assert.ok(mechanisms(own.features).includes('SCRAM-SHA-256'));
  });

  test('logins on that host are checked by the module', async () => {
    assert.equal(await plainLogin(t.c2sPort, 'dave', 'dave-pw', 'example.test'), 'success');
    assert.equal(await plainLogin(t.c2sPort, 'dave', 'nope', 'example.test'), 'not-authorized');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'alice-pw', 'example.test'), 'not-authorized', "localhost's accounts are not example.test's");
    assert.equal(await t.server.core.accounts.exists(Jid.of('erin', 'example.test')), true);
    assert.deepEqual(await runCommand({ core: t.server.core }, 'user.list', { host: 'example.test' }), { users: ['dave@example.test', 'erin@example.test'] });
  });

  test('what it cannot do is refused with a clear error', async () => {
    await assert.rejects(runCommand({ core: t.server.core }, 'user.add', { jid: 'zed@example.test', password: 'zed-password' }),
      (err) => err instanceof Error && err.message === 'the test-static auth provider does not support registration');
    await assert.rejects(t.server.core.accounts.remove(Jid.of('dave', 'example.test')), /does not support account removal/);
  });

  test('unloaded: logins on its host get temporary-auth-failure; loaded again: they work', async () => {
    await t.server.modules.unload('static-auth');
    const { c, features } = await secureStream(t.c2sPort, 'example.test');
    assert.deepEqual(mechanisms(features), ['PLAIN'], 'the mechanisms it offered while loaded');
    assert.equal(condition(await c.authPlain('dave', 'dave-pw')), 'temporary-auth-failure');
    c.close();
    await t.server.modules.load('static-auth');
    assert.equal(await plainLogin(t.c2sPort, 'dave', 'dave-pw', 'example.test'), 'success');
  });
});

test('internal stays the default: SCRAM (and PLAIN over TLS) against stored keys', async () => {
  const t = await startTestServer();
  try {
    await t.addUser('alice', 'alice-pw');
    const { c, features } = await secureStream(t.c2sPort);
    c.close();
    assert.deepEqual(mechanisms(features).filter((m) => !m.endsWith('-PLUS')), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    assert.ok(mechanisms(features).includes('SCRAM-SHA-256-PLUS'));
    const { c: s, jid } = await RawClient.login(t.c2sPort, 'alice', 'alice-pw');
    s.close();
    assert.match(jid, /^alice@localhost\//);
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'alice-pw'), 'success');
    assert.equal(await plainLogin(t.c2sPort, 'alice', 'wrong'), 'not-authorized');
  } finally {
    await t.stop();
  }
});

test('auth settings are checked with the YAML path', () => {
  const bad = (raw: Record<string, unknown>, re: RegExp) => assert.throws(() => buildConfig(raw), re);
  bad({ auth: { method: 'external' } }, /auth\.program: is required with method: external/);
  bad({ auth: { method: 'external', program: '/nonexistent/extauth' } }, /auth\.program: \/nonexistent\/extauth does not exist/);
  bad({ auth: { method: 'LDAP!' } }, /auth\.method: must be internal, external, or the name/);
  bad({ auth: { pool_size: 0 } }, /auth\.pool_size: must be an integer from 1 to 64/);
  bad({ auth: { timeout: 'soon' } }, /auth\.timeout: must be an integer/);
  bad({ auth: { programme: 'x' } }, /auth\.programme: unknown option/);
  bad({ hosts: ['localhost'], host_config: { localhost: { auth: { method: 'external' } } } }, /host_config\.localhost\.auth\.program: is required/);
  const ok = buildConfig({ hosts: ['a.test', 'b.test'], auth: { method: 'external', program: process.execPath, timeout: 2 }, host_config: { 'b.test': { auth: { method: 'internal' } } } });
  assert.equal(ok.auth.method, 'external');
  assert.equal(ok.auth.timeout, 2);
  assert.equal(ok.host_config['b.test']!.auth!.method, 'internal');
  assert.equal(ok.host_config['b.test']!.auth!.timeout, 2, 'a host override inherits the rest of the top-level section');
  assert.deepEqual(buildConfig({}).auth, { method: 'internal', program_args: [], pool_size: 1, timeout: 5, cache_ttl: 0 });
});
