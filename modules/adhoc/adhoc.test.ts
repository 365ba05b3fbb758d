// XEP-0050 over real sockets: discovery (§2), the two-stage add-user flow (§3.4), cancel, the errors of
// §4.6, who may run commands, session expiry and the requester's stream closing (§3.3), and both options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { escapeRe, forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/sdk.js';
import type { DiscoItem } from '../../hooks/index.js';
import { ADMIN, NS_COMMANDS, ask, canLogin as canLoginAt, command as commandAt, commandTag, errorOf, eventually, fieldValues, notes, sessionOf, statusOf, submit } from './test-support.js';

const ADD_USER = `${ADMIN}#add-user`;
let t: TestServer;

before(async () => {
  t = await startTestServer({
    modules: { disco: {}, ping: {}, adhoc: {} },
    // admin@example.test is that host's admin (config/test.yaml host_config)
    acl: { admin: { user: ['admin@localhost'] }, operators: { user: ['oper@localhost', 'oper@example.test'] } },
    access_rules: { configure: [{ allow: 'operators' }, { deny: 'all' }] },
  });
  for (const host of HOSTS) for (const u of ['admin', 'alice', 'oper']) await t.addUser(u, `${u}-password`, host);
});
after(() => t.stop());

forEachHost((host) => {
  const H = escapeRe(host);
  const otherHost = host === 'localhost' ? 'example.test' : 'localhost';
  let admin: RawClient;
  let alice: RawClient;
  before(async () => {
    admin = (await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'desk', { host })).c;
    alice = (await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'phone', { host })).c;
  });
  after(() => {
    admin.close();
    alice.close();
  });
  /** A command to this host (XEP-0050). */
  const command = (c: RawClient, node: string, o: Parameters<typeof commandAt>[2] = {}) => commandAt(c, node, { iqAttrs: `type='set' to='${host}'`, ...o });
  const canLogin = (port: number, user: string, password: string) => canLoginAt(port, user, password, host);
  const discoInfo = (c: RawClient, node?: string) =>
    ask(c, `<query xmlns='http://jabber.org/protocol/disco#info'${node ? ` node='${node}'` : ''}/>`, `type='get' to='${host}'`);

  test('disco#info: the server advertises commands; the list node and command nodes describe themselves to admins', async () => {
    assert.match(await discoInfo(admin), new RegExp(`<feature var=["']${NS_COMMANDS}["']/>`));
    assert.match(await discoInfo(alice, NS_COMMANDS), /<identity category=["']automation["'] type=["']command-list["']/);
    const node = await discoInfo(admin, ADD_USER);
    assert.match(node, /<identity category=["']automation["'] type=["']command-node["'] name=["']Add User["']\/>/);
    assert.match(node, /<feature var=["']jabber:x:data["']\/>/);
    assert.equal(errorOf(await discoInfo(alice, ADD_USER)).condition, 'item-not-found', 'not shown to non-admins');
  });

  test('disco#items on the commands node lists the commands for an admin and nothing for others (XEP-0050 §2.2)', async () => {
    const items = await ask(admin, `<query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/>`, `type='get' to='${host}'`);
    // each command is an item at this host (XEP-0050 §2.2)
    assertStanza(items, iqResult({
      name: 'query', ns: 'http://jabber.org/protocol/disco#items',
      has: [{ name: 'item', attrs: { node: ADD_USER, jid: host } }, { name: 'item', attrs: { node: 'urn:xmppd:admin#module-load', jid: host } }],
      without: [{ name: 'item', attrs: { jid: otherHost } }],
    }));
    const none = await ask(alice, `<query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/>`, `type='get' to='${host}'`);
    assertStanza(none, { name: 'iq', attrs: { type: 'result' }, without: [{ name: 'query', has: [{ name: 'item' }] }] });
  });

  test('disco_items handler: admin commands on the commands node only; other nodes and the top level untouched', async () => {
    const hooks = t.server.core.hooks;
    const ctxOf = (from: string, node?: string) => ({ host: `${host}`, target: 'server' as const, node, from: Jid.parse(from), to: Jid.parse(`${host}`) });
    const forAdmin = (await hooks.filter('disco_items', `${host}`, null, ctxOf(`admin@${host}/desk`, NS_COMMANDS))) as DiscoItem[];
    assert.ok(forAdmin.some((i) => i.node === ADD_USER && i.jid === `${host}` && i.name === 'Add User'), JSON.stringify(forAdmin));
    assert.ok(forAdmin.some((i) => i.node === 'urn:xmppd:admin#status'));
    assert.deepEqual(await hooks.filter('disco_items', `${host}`, null, ctxOf(`alice@${host}/phone`, NS_COMMANDS)), [], 'a known node, empty for others');
    assert.equal(await hooks.filter('disco_items', `${host}`, null, ctxOf(`admin@${host}/desk`, 'other')), null, 'other nodes untouched');
    assert.deepEqual(await hooks.filter('disco_items', `${host}`, [], ctxOf(`admin@${host}/desk`)), [], 'top level untouched');
  });

  test('admin runs add-user: execute -> form -> submit -> completed with a note; the new account logs in', async () => {
    const form = await command(admin, ADD_USER, { action: 'execute' });
    assert.match(form, /type=["']result["']/);
    assert.equal(statusOf(form), 'executing');
    const sid = sessionOf(form);
    assert.ok(sid);
    assert.match(form, /<actions execute=["']complete["']><complete\/><\/actions>/);
    assert.match(form, /<x xmlns=["']jabber:x:data["'] type=["']form["']>/);
    assert.deepEqual(fieldValues(form, 'FORM_TYPE'), [ADMIN]);
    assert.match(form, /<field var=["']accountjid["'] type=["']jid-single["'][^>]*><required\/><\/field>/);
    assert.match(form, /<field var=["']password["'] type=["']text-private["']/);
    assert.match(form, /<field var=["']password-verify["'] type=["']text-private["']/);

    const done = await command(admin, ADD_USER, {
      sessionid: sid,
      payload: submit({ FORM_TYPE: ADMIN, accountjid: `carol@${host}`, password: 'carol-secret', 'password-verify': 'carol-secret' }),
    });
    assert.equal(statusOf(done), 'completed');
    assert.equal(sessionOf(done), sid);
    assert.deepEqual(notes(done), [['info', `Account carol@${host} created.`]]);
    assert.equal(await canLogin(t.c2sPort, 'carol', 'carol-secret'), true);
    // §3.3: a completed session is over.
    const again = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `dave@${host}`, password: 'x', 'password-verify': 'x' }) });
    assert.deepEqual([errorOf(again).condition, errorOf(again).app, errorOf(again).type], ['not-allowed', 'session-expired', 'cancel']);
  });

  test('a bad submission is <bad-payload/> without echoing the password, and the session stays open for a corrected one', async () => {
    const sid = sessionOf(await command(admin, ADD_USER));
    const mismatch = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `erin@${host}`, password: 'one-secret', 'password-verify': 'two-secret' }) });
    assert.deepEqual([errorOf(mismatch).condition, errorOf(mismatch).app, errorOf(mismatch).type], ['bad-request', 'bad-payload', 'modify']);
    assert.doesNotMatch(mismatch, /one-secret|two-secret/);
    const missing = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ password: 'p', 'password-verify': 'p' }) });
    assert.equal(errorOf(missing).app, 'bad-payload');
    const elsewhere = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `erin@${otherHost}`, password: 'p', 'password-verify': 'p' }) });
    assert.match(errorOf(elsewhere).text, new RegExp(String.raw`not an account of ${H}`));
    const noForm = await command(admin, ADD_USER, { sessionid: sid, action: 'complete' });
    assert.equal(errorOf(noForm).app, 'bad-payload');
    const ok = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `erin@${host}`, password: 'erin-secret', 'password-verify': 'erin-secret' }) });
    assert.equal(statusOf(ok), 'completed');
  });

  test('adding an account that exists is a <conflict/> (XEP-0133 §5)', async () => {
    const sid = sessionOf(await command(admin, ADD_USER));
    const r = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `alice@${host}`, password: 'p', 'password-verify': 'p' }) });
    assert.equal(errorOf(r).condition, 'conflict');
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-password'), true, 'the account keeps its password');
  });

  test('cancel ends the session (status canceled); the id is then expired', async () => {
    const sid = sessionOf(await command(admin, ADD_USER));
    const canceled = await command(admin, ADD_USER, { sessionid: sid, action: 'cancel' });
    assert.match(canceled, /type=["']result["']/);
    assert.equal(statusOf(canceled), 'canceled');
    assert.equal(sessionOf(canceled), sid);
    const after = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `frank@${host}`, password: 'p', 'password-verify': 'p' }) });
    assert.equal(errorOf(after).app, 'session-expired');
    assert.equal(await t.server.core.accounts.exists(Jid.parse(`frank@${host}`)), false);
  });

  test('unknown session ids, and sessions of another requester or command, are <bad-sessionid/>', async () => {
    const unknown = await command(admin, ADD_USER, { sessionid: 'no-such-session', action: 'cancel' });
    assert.deepEqual([errorOf(unknown).condition, errorOf(unknown).app, errorOf(unknown).type], ['bad-request', 'bad-sessionid', 'modify']);
    const sid = sessionOf(await command(admin, ADD_USER));
    const { c: other } = await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'laptop', { host });
    assert.equal(errorOf(await command(other, ADD_USER, { sessionid: sid, action: 'cancel' })).app, 'bad-sessionid', 'another resource of the same admin');
    other.close();
    assert.equal(errorOf(await command(admin, `${ADMIN}#delete-user`, { sessionid: sid, action: 'cancel' })).app, 'bad-sessionid', 'another node');
    assert.equal(statusOf(await command(admin, ADD_USER, { sessionid: sid, action: 'cancel' })), 'canceled', 'still valid for its owner');
  });

  test('actions: unknown ones are <malformed-action/>, ones this stage does not offer <bad-action/>', async () => {
    const dance = await command(admin, ADD_USER, { action: 'dance' });
    assert.deepEqual([errorOf(dance).condition, errorOf(dance).app], ['bad-request', 'malformed-action']);
    assert.equal(errorOf(await command(admin, ADD_USER, { action: 'prev' })).app, 'bad-action', 'prev without a session');
    const sid = sessionOf(await command(admin, ADD_USER));
    assert.equal(errorOf(await command(admin, ADD_USER, { sessionid: sid, action: 'next' })).app, 'bad-action', 'single stage: no next');
    assert.equal(errorOf(await command(admin, ADD_USER, { sessionid: sid, action: 'prev' })).app, 'bad-action', 'single stage: no prev');
    const ok = await command(admin, ADD_USER, { sessionid: sid, action: 'execute', payload: submit({ accountjid: `gina@${host}`, password: 'p', 'password-verify': 'p' }) });
    assert.equal(statusOf(ok), 'completed', '"execute" means the default action, complete');
  });

  test('language: a <command/> asking for another language is <bad-locale/>; the iq default language is answered in English', async () => {
    const fr = await command(admin, ADD_USER, { lang: 'fr-CA' });
    assert.deepEqual([errorOf(fr).condition, errorOf(fr).app], ['bad-request', 'bad-locale']);
    const en = await command(admin, ADD_USER, { lang: 'en-US' });
    assert.equal(statusOf(en), 'executing');
    const iqLang = await command(admin, ADD_USER, { iqAttrs: `type='set' to='${host}' xml:lang='de'` });
    assert.equal(statusOf(iqLang), 'executing');
    assert.match(commandTag(iqLang), /xml:lang=["']en["']/);
    for (const r of [en, iqLang]) await command(admin, ADD_USER, { sessionid: sessionOf(r), action: 'cancel' });
  });

  test('non-admins are <forbidden/> (type cancel); unknown nodes are <item-not-found/>; only IQ set runs commands', async () => {
    const r = await command(alice, ADD_USER);
    assert.deepEqual([errorOf(r).condition, errorOf(r).type], ['forbidden', 'cancel']);
    assert.equal(errorOf(await command(alice, `${ADMIN}#get-online-users-num`)).condition, 'forbidden');
    assert.equal(errorOf(await command(admin, `${ADMIN}#no-such-command`)).condition, 'item-not-found');
    const get = await ask(admin, `<command xmlns='${NS_COMMANDS}' node='${ADD_USER}'/>`, `type='get' to='${host}'`);
    assert.equal(errorOf(get).condition, 'bad-request');
  });

  test('option access: the access rule (default "configure") grants the commands too; another rule does not', async () => {
    const { c: oper } = await RawClient.login(t.c2sPort, 'oper', 'oper-password', 'console', { host });
    assert.equal(statusOf(await command(oper, `${ADMIN}#get-online-users-num`)), 'completed');
    await t.server.modules.reload('adhoc', { access: 'nobody' });
    try {
      assert.equal(errorOf(await command(oper, `${ADMIN}#get-online-users-num`)).condition, 'forbidden');
      assert.equal(statusOf(await command(admin, `${ADMIN}#get-online-users-num`)), 'completed', 'the admin ACL still does');
    } finally {
      await t.server.modules.reload('adhoc', {});
      oper.close();
    }
  });

  test("a requester's sessions end when its stream closes", async () => {
    const first = await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'tablet', { host });
    const sid = sessionOf(await command(first.c, ADD_USER));
    first.c.close();
    await eventually(() => t.server.core.sessions.get(Jid.parse(first.jid)) === undefined, 'the session is gone');
    const { c: again } = await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'tablet', { host });
    assert.equal(errorOf(await command(again, ADD_USER, { sessionid: sid, action: 'cancel' })).app, 'session-expired');
    again.close();
  });

  test('option session_timeout: an idle session expires (<session-expired/>)', async () => {
    await t.server.modules.reload('adhoc', { session_timeout: 1 });
    try {
      const sid = sessionOf(await command(admin, ADD_USER));
      // While it lives, "prev" is refused with <bad-action/>; once it has expired, with <session-expired/>.
      let app: string | undefined;
      await eventually(async () => (app = errorOf(await command(admin, ADD_USER, { sessionid: sid, action: 'prev' })).app) !== 'bad-action', 'the session expired', 15_000);
      assert.equal(app, 'session-expired');
      const late = await command(admin, ADD_USER, { sessionid: sid, payload: submit({ accountjid: `hank@${host}`, password: 'p', 'password-verify': 'p' }) });
      assert.equal(errorOf(late).app, 'session-expired');
      assert.equal(await t.server.core.accounts.exists(Jid.parse(`hank@${host}`)), false);
    } finally {
      await t.server.modules.reload('adhoc', {});
    }
  });
});
