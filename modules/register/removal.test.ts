// XEP-0077 §3.2 account cancellation over raw XML, and the same removal through the admin command path
// (user.del): the result first, then <not-authorized/> to every session, the account and ALL of its data
// gone — checked in every table the store wrote to, and in the raw LevelDB after shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, stanzaError } from '../../test/support/stanza-match.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { Jid } from '../../src/sdk.js';
import { ALL_MODULES, canLogin, expectIq, liveRows, rawRows, seedUserData, until, watchTables } from './test-support.js';

let t: TestServer;
let dir: string;
let watched: ReturnType<typeof watchTables>;
let stopped = false;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-register-removal-'));
  t = await startTestServer({ modules: ALL_MODULES }, { dir });
  watched = watchTables(t);
  for (const host of HOSTS) for (const u of ['bob', 'dora', 'erin']) await t.addUser(u, `${u}-password`, host);
});
after(async () => {
  watched.stop();
  if (!stopped) await t.stop();
  await rm(dir, { recursive: true, force: true });
});

forEachHost((host) => {
  const jidOf = (local: string) => Jid.of(local, host);

  /** Seed the user's data and check it landed: at least the account row, plus whatever modules exist. */
  async function seeded(local: string): Promise<Record<string, string[]>> {
    await seedUserData(t.c2sPort, local, `${local}-password`, 'bob', 'bob-password', host);
    const rows = await liveRows(t, watched.tables, local, host);
    assert.ok(rows.accounts?.length === 1, `the account row is there: ${JSON.stringify(rows)}`);
    return rows;
  }

  async function assertGone(local: string, before: Record<string, string[]>): Promise<void> {
    assert.equal(await t.server.core.accounts.exists(jidOf(local)), false, 'the account is gone');
    await until(() => t.server.core.sessions.resources(jidOf(local)).length === 0, `${local} has no session left`);
    assert.deepEqual(await liveRows(t, watched.tables, local, host), {}, `no ${local} rows in any table (had ${JSON.stringify(before)})`);
    assert.equal(await canLogin(t.c2sPort, local, `${local}-password`, host), false, 'login fails');
  }

  test('dora cancels her registration: result first, then <not-authorized/> on every session; her account and data are gone', async (tt) => {
    const before = await seeded('dora');
    tt.diagnostic(`dora's rows before removal, by table: ${JSON.stringify(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.length])))}`);
    const other = await RawClient.login(t.c2sPort, 'dora', 'dora-password', 'phone', { host });
    const { c } = await RawClient.login(t.c2sPort, 'dora', 'dora-password', 'laptop', { presence: false, host });
    // XEP-0077 §3.2 Example 11: no 'to' (the home server, through her own account).
    c.send("<iq type='set' id='unreg1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    const closed = await c.waitClosed();
    const result = /<iq [^>]*id=["']unreg1["'][^>]*\/>/.exec(closed);
    assert.ok(result, `a result for the remove: ${closed}`);
    assertStanza(result[0], { name: 'iq', attrs: { type: 'result', to: `dora@${host}/laptop` } });
    const streamError = closed.indexOf('<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    assert.ok(streamError > closed.indexOf(result[0]), `the result comes before the <not-authorized/> stream error: ${closed}`);
    assert.equal(closed.match(/id=["']unreg1["']/g)?.length, 1, 'exactly one answer');
    assert.match(await other.c.waitClosed(), /<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, 'her other session ends too');
    await assertGone('dora', before);
    assert.equal(await t.server.core.accounts.exists(jidOf('bob')), true, 'her contact is untouched');
  });

  test('removal addressed to the server (to=domain) works the same', async () => {
    await t.server.core.accounts.create(jidOf('dora'), 'dora-password');
    const { c } = await RawClient.login(t.c2sPort, 'dora', 'dora-password', 'again', { host });
    c.send(`<iq type='set' id='unreg2' to='${host}'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
    const closed = await c.waitClosed();
    const answer = /<iq [^>]*id=["']unreg2["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/.exec(closed);
    assert.ok(answer, `an answer to the remove: ${closed}`);
    assertStanza(answer[0], { name: 'iq', attrs: { type: 'result', from: host } });
    assert.match(closed, /<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    assert.equal(await t.server.core.accounts.exists(jidOf('dora')), false);
  });

  test('<remove/> with other children is a bad-request (§3.2) and removes nothing', async () => {
    const { c } = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'badrm', { host });
    c.send("<iq type='set' id='r'><query xmlns='jabber:iq:register'><remove/><username>bob</username></query></iq>");
    assertStanza(await expectIq(c, 'r'), stanzaError('bad-request'));
    c.close();
    assert.equal(await t.server.core.accounts.exists(jidOf('bob')), true);
  });

  test('the admin command user.del removes erin the same way: sessions get <not-authorized/>, account and data gone', async () => {
    const before = await seeded('erin');
    const s1 = await RawClient.login(t.c2sPort, 'erin', 'erin-password', 'one', { host });
    const s2 = await RawClient.login(t.c2sPort, 'erin', 'erin-password', 'two', { presence: false, host });
    const r = await runCommand({ core: t.server.core, modules: t.server.modules }, 'user.del', { jid: `erin@${host}` });
    assert.deepEqual(r, { deleted: `erin@${host}` });
    for (const s of [s1, s2]) assert.match(await s.c.waitClosed(), /<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await assertGone('erin', before);
  });
});

test('after shutdown no row of the removed accounts is left in any table of the LevelDB', async () => {
  await t.stop(); // applies everything submitted, including writes from hooks that ran as sessions closed
  stopped = true;
  for (const host of HOSTS) {
    assert.deepEqual(await rawRows(dir, host, ['dora', 'erin']), [], host);
    assert.ok((await rawRows(dir, host, ['bob'])).length > 0, `the scan does see rows (bob’s account on ${host})`);
  }
});
