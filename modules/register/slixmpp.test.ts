// XEP-0077 interop with slixmpp 1.8.3 (Debian python3-slixmpp, /usr/bin/python3), default settings: its
// xep_0077 plugin changes the password and cancels the account (sessions closed, every row of the user
// deleted). Registration before login is tried with aioxmpp (aioxmpp.test.ts): slixmpp 1.8.3 holds back
// every stanza but bind and session before session_start, so its own registration form request is never sent.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { runSlixmppOk, slixmppTestOptions as opts } from '../../test/support/slixmpp.js';
import { Jid } from '../../src/sdk.js';
import { ALL_MODULES, liveRows, seedUserData, until, watchTables } from './test-support.js';

const SCRIPTS = fileURLToPath(new URL('../../../modules/register/slixmpp/', import.meta.url));
const LOGIN = fileURLToPath(new URL('../../../test/e2e/slixmpp/login.py', import.meta.url));

/** Run one script to its end; it must exit 0 with a 'done' line and no exception. */
const slix = (script: string, args: Array<string | number>) => runSlixmppOk(script.includes('/') ? script : join(SCRIPTS, script), args);

describe('slixmpp 1.8.3 xep_0077 against xmppd', () => {
  let t: TestServer;
  let watched: ReturnType<typeof watchTables>;
  const exists = (local: string) => t.server.core.accounts.exists(Jid.of(local, t.domain));
  before(async () => {
    if (opts.skip) return;
    t = await startTestServer({ modules: ALL_MODULES });
    watched = watchTables(t);
    await t.addUser('alice', 'alice-password');
    await t.addUser('bob', 'bob-password');
  });
  after(async () => {
    watched?.stop();
    await t?.stop();
  });

  test('slixmpp changes alice’s password (to her account, then to the server); only the newest works', opts, async () => {
    const s = await slix('change_password.py', [t.c2sPort, 'alice@localhost/pw', 'alice-password', 'alice-second', 'account']);
    assert.ok(s.has('password_changed'), s.transcript);
    const old = await slix(LOGIN, [t.c2sPort, 'alice@localhost/old', 'alice-password', 'SCRAM-SHA-256-PLUS', 'starttls']);
    assert.equal(old.one('auth_failed').reason, 'failed_all_auth');
    const fresh = await slix(LOGIN, [t.c2sPort, 'alice@localhost/new', 'alice-second', 'auto', 'starttls']);
    assert.equal(fresh.one('session_start').jid, 'alice@localhost/new');

    const s2 = await slix('change_password.py', [t.c2sPort, 'alice@localhost/pw2', 'alice-second', 'alice-third', 'server']);
    assert.ok(s2.has('password_changed'), s2.transcript);
    assert.equal((await slix(LOGIN, [t.c2sPort, 'alice@localhost/x', 'alice-third', 'PLAIN', 'starttls'])).one('session_start').mech, 'PLAIN');
    const weak = await slix('change_password.py', [t.c2sPort, 'alice@localhost/pw3', 'alice-third', 'short', 'account']);
    assert.equal(weak.one('change_error').error, 'not-acceptable');
  });

  test('slixmpp cancels dora’s registration: both sessions get <not-authorized/>, login fails, all her data is gone', opts, async (tt) => {
    await t.addUser('dora', 'dora-password');
    await seedUserData(t.c2sPort, 'dora', 'dora-password', 'bob', 'bob-password');
    const before = await liveRows(t, watched.tables, 'dora');
    tt.diagnostic(`dora's rows before removal, by table: ${JSON.stringify(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.length])))}`);
    assert.equal(before.accounts?.length, 1);
    const raw = await RawClient.login(t.c2sPort, 'dora', 'dora-password', 'raw', { presence: false });

    const s = await slix('cancel.py', [t.c2sPort, 'dora@localhost/slix', 'dora-password', 'slix-2']);
    assert.equal(s.one('cancelled').type, 'result', s.transcript);
    for (const who of ['main_disconnected', 'other_disconnected']) {
      assert.deepEqual((s.one(who).stream_errors as Array<{ condition: string }>).map((e) => e.condition), ['not-authorized'], who);
    }
    assert.match(await raw.c.waitClosed(), /<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, 'a third, raw session ends too');
    assert.equal(await exists('dora'), false);
    await until(() => t.server.core.sessions.resources(Jid.of('dora', t.domain)).length === 0, 'dora has no session');
    assert.deepEqual(await liveRows(t, watched.tables, 'dora'), {}, `no dora rows left in any table (had ${JSON.stringify(before)})`);
    const login = await slix(LOGIN, [t.c2sPort, 'dora@localhost/back', 'dora-password', 'SCRAM-SHA-256-PLUS', 'starttls']);
    assert.equal(login.one('auth_failed').reason, 'failed_all_auth');
  });
});
