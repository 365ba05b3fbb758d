// XEP-0133 commands over real sockets, each mapped onto the admin command registry: delete user, change
// password, end user session, online/registered user counts and lists; and the urn:xmppd:admin commands
// for modules and server status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/sdk.js';
import { ADMIN, ask, canLogin as canLoginAt, command as commandAt, errorOf, eventually, fieldValues, notes, sessionOf, statusOf, submit } from './test-support.js';

const XMPPD = 'urn:xmppd:admin';
let t: TestServer;

before(async () => {
  t = await startTestServer({
    modules: { disco: {}, ping: {}, version: {}, adhoc: {} },
    acl: { admin: { user: ['admin@localhost'] } },
    access_rules: {},
  });
  // admin@localhost is in the global admin ACL, admin@example.test in that host's (config/test.yaml)
  for (const host of HOSTS) for (const u of ['admin', 'alice', 'bob']) await t.addUser(u, `${u}-password`, host);
});
after(() => t.stop());

forEachHost((host) => {
  let admin: RawClient;
  before(async () => {
    admin = (await RawClient.login(t.c2sPort, 'admin', 'admin-password', 'desk', { host })).c;
  });
  after(() => admin.close());
  /** A command to this host (XEP-0050), as this host's admin sends it. */
  const command = (c: RawClient, node: string, o: Parameters<typeof commandAt>[2] = {}) => commandAt(c, node, { iqAttrs: `type='set' to='${host}'`, ...o });
  const canLogin = (port: number, user: string, password: string) => canLoginAt(port, user, password, host);
  /** Execute, then submit the form: the two-stage flow every form command takes. */
  async function run(node: string, fields: Record<string, string | string[]>): Promise<string> {
    const form = await command(admin, node);
    assert.equal(statusOf(form), 'executing', form);
    return command(admin, node, { sessionid: sessionOf(form), payload: submit(fields) });
  }

  const exists = (jid: string) => t.server.core.accounts.exists(Jid.parse(jid));

  test('delete-user removes each account and ends its sessions; an unknown one is an error note', async () => {
    await t.addUser('doomed', 'doomed-password', host);
    const { c: doomed } = await RawClient.login(t.c2sPort, 'doomed', 'doomed-password', 'last', { host });
    const form = await command(admin, `${ADMIN}#delete-user`);
    assert.match(form, /<field var=["']accountjids["'] type=["']jid-multi["'][^>]*><required\/><\/field>/);
    const r = await command(admin, `${ADMIN}#delete-user`, { sessionid: sessionOf(form), payload: submit({ accountjids: [`doomed@${host}`, `nobody@${host}`] }) });
    assert.equal(statusOf(r), 'completed');
    assert.deepEqual(notes(r), [['info', `Deleted: doomed@${host}`], ['error', `nobody@${host} does not exist`]]);
    assert.equal(await exists(`doomed@${host}`), false);
    await doomed.waitClosed();
    assert.equal(await canLogin(t.c2sPort, 'doomed', 'doomed-password'), false);
  });

  test('change-user-password: the account logs in with the new password only', async () => {
    await t.addUser('carl', 'old-password', host);
    const r = await run(`${ADMIN}#change-user-password`, { accountjid: `carl@${host}`, password: 'new-password' });
    assert.deepEqual(notes(r), [['info', `Password of carl@${host} changed.`]]);
    assert.equal(await canLogin(t.c2sPort, 'carl', 'new-password'), true);
    assert.equal(await canLogin(t.c2sPort, 'carl', 'old-password'), false);
    const missing = await run(`${ADMIN}#change-user-password`, { accountjid: `ghost@${host}`, password: 'whatever' });
    assert.equal(statusOf(missing), 'completed');
    assert.equal(notes(missing)[0]?.[0], 'error', 'a failed command completes with an error note (XEP-0050 §4.5)');
  });

  test('online users: the number and the list count accounts (not resources) of this host', async () => {
    const a1 = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'one', { host });
    const a2 = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'two', { host });
    const b = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'one', { host });
    const sessions = t.server.core.sessions.all().filter((s) => s.host === `${host}`);
    const online = [...new Set(sessions.map((s) => s.jid.bareString()))].sort();
    assert.ok(online.includes(`alice@${host}`) && online.includes(`bob@${host}`) && online.includes(`admin@${host}`));
    assert.ok(online.length < sessions.length, 'alice has two resources');

    const num = await command(admin, `${ADMIN}#get-online-users-num`);
    assert.equal(statusOf(num), 'completed', 'nothing to ask: completed on execute');
    assert.ok(sessionOf(num));
    assert.match(num, /<x xmlns=["']jabber:x:data["'] type=["']result["']>/);
    assert.deepEqual(fieldValues(num, 'FORM_TYPE'), [ADMIN]);
    assert.deepEqual(fieldValues(num, 'onlineusersnum'), [String(online.length)]);
    const list = await command(admin, `${ADMIN}#get-online-users-list`);
    assert.deepEqual(fieldValues(list, 'onlineuserjids'), online);
    assert.deepEqual(fieldValues(await command(admin, `${ADMIN}#get-online-users`), 'onlineuserjids'), online, 'the older node name still answers');
    for (const x of [a1, a2, b]) x.c.close();
  });

  test('registered users: the number and the list of this host', async () => {
    const users = await t.server.core.accounts.list(`${host}`);
    assert.deepEqual(fieldValues(await command(admin, `${ADMIN}#get-registered-users-num`), 'registeredusersnum'), [String(users.length)]);
    assert.deepEqual(fieldValues(await command(admin, `${ADMIN}#get-registered-users-list`), 'registereduserjids'), users);
  });

  test('end-user-session: a full JID ends that session, a bare JID every session of the account', async () => {
    const one = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'one', { host });
    const two = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'two', { host });
    const r = await run(`${ADMIN}#end-user-session`, { accountjids: `bob@${host}/one` });
    assert.deepEqual(notes(r), [['info', `Ended the sessions of: bob@${host}/one`]]);
    assert.match(await one.c.waitClosed(), /policy-violation/);
    assert.equal(two.c.closed, false);
    await run(`${ADMIN}#end-user-session`, { accountjids: `bob@${host}` });
    await two.c.waitClosed();
    await eventually(() => t.server.core.sessions.resources(Jid.parse(`bob@${host}`)).length === 0, 'bob is offline');
    const none = await run(`${ADMIN}#end-user-session`, { accountjids: `bob@${host}` });
    assert.deepEqual(notes(none), [['error', `no session for bob@${host}`]]);
  });

  test('urn:xmppd:admin: module list, unload and load (forms from the registry args), with effect on the server', async () => {
    const list = await command(admin, `${XMPPD}#module-list`);
    assert.equal(statusOf(list), 'completed');
    assert.match(list, /<reported>[\s\S]*<field var=["']name["']/);
    assert.match(list, /<item><field var=["']name["']><value>ping<\/value>/);

    const unloadForm = await command(admin, `${XMPPD}#module-unload`);
    assert.match(unloadForm, /<field var=["']name["'] type=["']list-single["'][^>]*><required\/>(<option [^>]*><value>[a-z]+<\/value><\/option>)*<option label=["']ping \(running\)["']><value>ping<\/value><\/option>/);
    const unloaded = await command(admin, `${XMPPD}#module-unload`, { sessionid: sessionOf(unloadForm), payload: submit({ name: 'ping' }) });
    assert.deepEqual(notes(unloaded), [['info', 'Module ping unloaded.']]);
    const ping = () => ask(admin, "<ping xmlns='urn:xmpp:ping'/>", `type='get' to='${host}'`);
    assert.equal(errorOf(await ping()).condition, 'service-unavailable');

    const loadForm = await command(admin, `${XMPPD}#module-load`);
    assert.match(loadForm, /<field var=["']options["'] type=["']text-multi["']/);
    const loaded = await command(admin, `${XMPPD}#module-load`, { sessionid: sessionOf(loadForm), payload: submit({ name: 'ping', options: '' }) });
    assert.deepEqual(notes(loaded), [['info', 'Module ping loaded.']]);
    assert.deepEqual(fieldValues(loaded, 'status'), ['running']);
    assert.match(await ping(), /type=["']result["']/);
  });

  test('urn:xmppd:admin: reload with YAML options; bad options are an error note; bad YAML a bad-payload', async () => {
    const reloaded = await run(`${XMPPD}#module-reload`, { name: 'version', options: 'show_os: true' });
    assert.deepEqual(notes(reloaded), [['info', 'Module version reloaded.']]);
    assert.match(await ask(admin, "<query xmlns='jabber:iq:version'/>", `type='get' to='${host}'`), /<os>/);
    const bad = await run(`${XMPPD}#module-reload`, { name: 'version', options: '{show_os: sometimes}' });
    assert.equal(notes(bad)[0]?.[0], 'error');
    assert.match(notes(bad)[0]![1], /show_os: must be true or false/);
    const form = await command(admin, `${XMPPD}#module-reload`);
    const yaml = await command(admin, `${XMPPD}#module-reload`, { sessionid: sessionOf(form), payload: submit({ name: 'version', options: '[1, 2' }) });
    assert.equal(errorOf(yaml).app, 'bad-payload');
    const notListed = await command(admin, `${XMPPD}#module-reload`, { sessionid: sessionOf(form), payload: submit({ name: 'no-such-module' }) });
    assert.match(errorOf(notListed).text, /not one of the choices/);
    await run(`${XMPPD}#module-reload`, { name: 'version', options: '' });
  });

  test('urn:xmppd:admin#status reports the server figures as a result form', async () => {
    const r = await command(admin, `${XMPPD}#status`);
    assert.equal(statusOf(r), 'completed');
    assert.deepEqual(fieldValues(r, 'FORM_TYPE'), [XMPPD]);
    assert.deepEqual(fieldValues(r, 'version'), [t.server.core.version]);
    assert.deepEqual(fieldValues(r, 'hosts'), HOSTS);
    assert.ok(Number(fieldValues(r, 'sessions')[0]) >= 1);
  });
});
