// XEP-0215 against a real coturn (Debian's coturn: use-auth-secret + static-auth-secret, loopback only):
// the TURN credentials the server hands out are accepted (an Allocate succeeds, with coturn's own
// turnutils_uclient too) and refused once expired or with a tampered password (coturn answers 401).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { clientTestOptions, missingExecutable } from '../../test/e2e/clients/matrix.js';
import { stunBinding, turnAllocate } from './test-support.js';

const NS = 'urn:xmpp:extdisco:2';
const SECRET = 'coturn-shared-secret-for-tests';
const REALM = 'xmppd.test';
const TTL = 8; // seconds: long enough for one allocation, short enough to wait out
const TURNSERVER = '/usr/bin/turnserver';
const UCLIENT = '/usr/bin/turnutils_uclient';

const missing = missingExecutable(TURNSERVER, ['--version'], 'coturn') ?? (existsSync(UCLIENT) ? null : `${UCLIENT} is missing (install Debian's coturn)`);
const opts = clientTestOptions(missing);
/** A test that needs coturn: skipped with the reason on a developer box without it, failed when CI=true. */
function requireCoturn(): void {
  if (missing !== null) throw new Error(`${missing} (CI=true: coturn is required; .ci/run installs it)`);
}

/** A UDP port free on loopback now (coturn listens on it, UDP and TCP). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

let dir = '';
let port = 0;
let coturn: ChildProcess | undefined;
let t: TestServer | undefined;
const coturnLog = () => (dir && existsSync(join(dir, 'turn.log')) ? readFileSync(join(dir, 'turn.log'), 'utf8') : '');

before(async () => {
  if (missing !== null) return; // each test says why: skipped here, failed with CI=true
  dir = await mkdtemp(join(tmpdir(), 'xmppd-coturn-'));
  port = await freeUdpPort();
  coturn = spawn(TURNSERVER, [
    '-n', '--verbose', '--simple-log', '--no-stdout-log',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, `--realm=${REALM}`,
    '--no-cli', '--no-tls', '--no-dtls',
    // turnutils_uclient -y relays between two allocations of its own: peers on loopback (refused by default).
    '--allow-loopback-peers',
    `--log-file=${join(dir, 'turn.log')}`, `--pidfile=${join(dir, 'turn.pid')}`, `--db=${join(dir, 'turndb')}`,
  ], { stdio: 'ignore' });
  const exited = new Promise<never>((_, reject) => coturn!.once('exit', (code) => reject(new Error(`turnserver exited (${code}): ${coturnLog().slice(-2000)}`))));
  exited.catch(() => {});
  await Promise.race([until(() => stunBinding(port, 300), `coturn answers STUN on 127.0.0.1:${port}`, 15_000), exited]);
  t = await startTestServer({
    modules: { disco: {}, external_services: { services: [{ type: 'turn', host: '127.0.0.1', port, transport: 'udp' }], turn_secret: SECRET, credential_ttl: TTL } },
  });
  for (const h of HOSTS) await t.addUser('alice', 'pw-alice', h);
});

after(async () => {
  await t?.stop();
  if (coturn && coturn.exitCode === null) {
    const gone = new Promise((resolve) => coturn!.once('exit', resolve));
    coturn.kill('SIGTERM');
    await gone;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** alice's TURN service as the server lists it (XEP-0215 §3.2), with the credentials it carries. */
async function turnService(host: string): Promise<{ host: string; port: number; username: string; password: string; expires: string }> {
  const { c } = await RawClient.login(t!.c2sPort, 'alice', 'pw-alice', 'call', { host });
  try {
    const r = await c.iq('x1', `<iq type='get' id='x1' to='${host}'><services xmlns='${NS}' type='turn'/></iq>`);
    const s = parseStanza(r).getChild('services', NS)?.getChild('service');
    assert.ok(s?.attrs.username && s.attrs.password, `a TURN service with credentials: ${r}`);
    return { host: s.attrs.host, port: Number(s.attrs.port), username: s.attrs.username, password: s.attrs.password, expires: s.attrs.expires };
  } finally {
    c.close();
  }
}

const expiryOf = (username: string) => Number(username.split(':')[0]);

forEachHost((host) => {
  test('coturn accepts the credentials the server hands out: a TURN Allocate succeeds', opts, async () => {
    requireCoturn();
    const s = await turnService(host);
    assert.deepEqual([s.host, s.port], ['127.0.0.1', port]);
    assert.match(s.username, new RegExp(`^\\d+:alice@${host.replace(/\./g, '\\.')}$`));
    const r = await turnAllocate(s.port, s.username, s.password);
    assert.equal(r.realm, REALM, 'the challenge comes from the test\'s coturn');
    assert.equal(r.code, 200, `Allocate refused: ${r.code} ${r.reason}\n${coturnLog().slice(-3000)}`);
    assert.match(r.relayed ?? '', /^127\.0\.0\.1:\d+$/, 'a relayed address on loopback');
    assert.match(coturnLog(), new RegExp(`user <${s.username.replace(/\./g, '\\.')}>: incoming packet ALLOCATE processed, success`));
  });

  test('coturn\'s own client (turnutils_uclient) allocates and relays with them', opts, async () => {
    requireCoturn();
    const s = await turnService(host);
    // One client, one message, relayed between two allocations of its own (-y), no RTCP pair (-c).
    const r = spawnSync(UCLIENT, ['-u', s.username, '-w', s.password, '-p', String(s.port), '-n', '1', '-m', '1', '-y', '-c', '-v', '127.0.0.1'], { encoding: 'utf8', timeout: 30_000 });
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `turnutils_uclient failed (${r.status}):\n${out.slice(-2000)}`);
    assert.match(out, /Received relay addr: 127\.0\.0\.1:\d+/);
    assert.doesNotMatch(out, /Cannot complete Allocation/);
  });

  test('coturn refuses a tampered password with 401', opts, async () => {
    requireCoturn();
    const s = await turnService(host);
    const tampered = (s.password[0] === 'A' ? 'B' : 'A') + s.password.slice(1);
    const r = await turnAllocate(s.port, s.username, tampered);
    assert.equal(r.code, 401, `${r.code} ${r.reason}`);
    // …and another user's name with alice's password: the HMAC binds the password to the username.
    const other = await turnAllocate(s.port, s.username.replace(/:alice@/, ':mallory@'), s.password);
    assert.equal(other.code, 401, `${other.code} ${other.reason}`);
  });

  test('coturn refuses the credentials once they have expired (credential_ttl)', opts, async () => {
    requireCoturn();
    const s = await turnService(host);
    const expiry = expiryOf(s.username);
    assert.equal(s.expires, new Date(expiry * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    assert.equal((await turnAllocate(s.port, s.username, s.password)).code, 200, 'valid before expiry');
    // coturn reads its clock once a second in its event loop, later on a loaded machine: a few seconds past expiry.
    await until(() => Date.now() / 1000 > expiry + 3, 'the credentials expired', (TTL + 8) * 1000);
    const r = await turnAllocate(s.port, s.username, s.password);
    assert.equal(r.code, 401, `coturn answers an expired REST API username with 401 Unauthorized, got ${r.code} ${r.reason}`);
  });
});
