// XEP-0077 interop with aioxmpp 0.13 (Debian python3-aioxmpp, /usr/bin/python3), default settings: it
// registers in-band on a TLS stream before authentication (aioxmpp.ibr), then logs in with the new account;
// it meets conflict, not-acceptable and forbidden as the server sends them. (aioxmpp does not look at the
// register stream feature; register.test.ts checks when it is offered.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, testCertificateFile, type TestServer } from '../../test/support/harness.js';
import { PYTHON, startJsonLines, type SlixRun } from '../../test/support/slixmpp.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/sdk.js';
import { ALL_MODULES } from './test-support.js';

const SCRIPT = fileURLToPath(new URL('../../../modules/register/aioxmpp/register.py', import.meta.url));

function aioxmppUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import aioxmpp'], { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? null : `aioxmpp is not importable by ${PYTHON} (install Debian's python3-aioxmpp): ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
}
const missing = aioxmppUnavailable();
const opts = { skip: missing !== null && process.env.CI !== 'true' ? missing : false };

/** Run register.py to its end: exit 0, a 'done' line, no exception. */
async function register(port: number, jid: string, password: string): Promise<SlixRun> {
  if (missing) throw new Error(`${missing} (CI=true: the aioxmpp interop tests are required)`);
  const r = await startJsonLines(PYTHON, [SCRIPT, port, jid, password], { env: { SSL_CERT_FILE: await testCertificateFile() } }).done;
  assert.equal(r.code, 0, r.transcript);
  assert.ok(r.has('done') && !r.has('exception'), r.transcript);
  return r;
}

describe('aioxmpp 0.13 in-band registration against xmppd', () => {
  let t: TestServer;
  const exists = (server: TestServer, local: string) => server.server.core.accounts.exists(Jid.of(local, server.domain));
  before(async () => {
    if (opts.skip) return;
    t = await startTestServer({ modules: ALL_MODULES });
    await t.addUser('alice', 'alice-password');
  });
  after(async () => {
    await t?.stop();
  });

  test('aioxmpp registers newbie over TLS before authenticating, then logs in with the new account', opts, async () => {
    const s = await register(t.c2sPort, 'newbie@localhost/aio', 'newbie-password');
    const form = s.one('form');
    assert.deepEqual(form.fields, ['instructions', 'password', 'registered', 'remove', 'username']);
    assert.equal(form.registered, false);
    assert.match(String(form.instructions), /at least 8 characters/);
    assert.equal(s.one('registered').username, 'newbie');
    assert.equal(s.one('session_start').jid, 'newbie@localhost/aio');
    assert.equal(s.one('ping').ok, true);
    assert.equal(await exists(t, 'newbie'), true);
  });

  test('registering alice again: aioxmpp gets conflict, and alice keeps her password', opts, async () => {
    const s = await register(t.c2sPort, 'alice@localhost/aio', 'not-alices-password');
    const err = s.one('register_error');
    assert.equal(err.stage, 'set');
    assert.equal(err.error, 'conflict');
    assert.equal(err.type, 'cancel');
    assert.ok(!s.has('session_start'), s.transcript);
    const login = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'check', { presence: false });
    login.c.close();
  });

  test('a weak password: aioxmpp gets not-acceptable and no account is created', opts, async () => {
    const s = await register(t.c2sPort, 'weakling@localhost/aio', '1234');
    const err = s.one('register_error');
    assert.equal(err.error, 'not-acceptable');
    assert.equal(err.type, 'modify');
    assert.match(String(err.text), /too weak/);
    assert.equal(await exists(t, 'weakling'), false);
  });

  test('a server whose access rule denies registration: the form request gets forbidden', opts, async () => {
    const closed = await startTestServer({ modules: { register: {} }, access_rules: { register: [{ deny: 'all' }] } });
    try {
      const s = await register(closed.c2sPort, 'outsider@localhost/aio', 'outsider-password');
      const err = s.one('register_error');
      assert.equal(err.stage, 'get');
      assert.equal(err.error, 'forbidden');
      assert.deepEqual(await closed.server.core.accounts.list(), []);
    } finally {
      await closed.stop();
    }
  });
});
