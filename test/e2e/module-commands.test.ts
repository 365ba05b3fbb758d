// Admin commands a module registers (ctx.command, issue 9): an external module's commands are served by the
// control socket (what the xmppd CLI uses), the REST API and XEP-0050 ad-hoc commands, each run by the module
// instance of the account's host, and go away with the module; a host without the module gets a clear error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, CommandError } from '../../src/core/admin/commands.js';
import { callServer } from '../../src/cli/control-client.js';
import { startTestServer, TWO_HOSTS, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { command, fieldValues, notes, sessionOf, statusOf, submit, ask, errorOf, NS_COMMANDS } from '../../modules/adhoc/test-support.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/external-modules/greeter', import.meta.url));
const TOKEN = 'module-commands-test-token-0123456789abcdef';
const NODE = 'urn:xmppd:admin#greeter-hello';

let paths: string;
let t: TestServer;
let base: string;

before(async () => {
  paths = await mkdtemp(join(tmpdir(), 'xmppd-modcmd-'));
  await cp(FIXTURE, join(paths, 'greeter'), { recursive: true });
  t = await startTestServer({
    ...TWO_HOSTS,
    module_paths: [paths],
    api_tokens: [`sha256:${createHash('sha256').update(TOKEN).digest('hex')}`],
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'http' }],
    modules: { disco: {}, roster: {}, adhoc: {}, greeter: {} },
    // example.test: another greeting, and no roster
    host_config: { 'example.test': { modules: { greeter: { greeting: 'Hej' }, roster: false } } },
  });
  base = `http://127.0.0.1:${t.server.port('http')}`;
  await t.addUser('admin', 'admin-pw');
  await t.addUser('alice', 'alice-pw');
  await t.addUser('alice', 'alice-pw', 'example.test');
});
after(async () => {
  await t?.stop();
  await rm(paths, { recursive: true, force: true });
});

const ctl = (cmd: string, args: Record<string, unknown> = {}) => callServer(t.server.core.config.control_socket, cmd, args);
const rest = (cmd: string, body?: unknown) => fetch(`${base}/api/${cmd}`, {
  method: body === undefined ? 'GET' : 'POST',
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  ...(body !== undefined && { body: JSON.stringify(body) }),
});

/** The admin runs the ad-hoc command for greeter.hello with `jid`: the completed answer. */
async function adhocHello(c: RawClient, jid: string): Promise<string> {
  const form = await command(c, NODE);
  assert.equal(statusOf(form), 'executing', form);
  return command(c, NODE, { sessionid: sessionOf(form), payload: submit({ jid }) });
}
const listedNodes = async (c: RawClient) =>
  [...(await ask(c, `<query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/>`, "type='get' to='localhost'")).matchAll(/node=["']([^"']+)["']/g)].map((m) => m[1]);

test("an external module's command is served by the control socket, REST and ad-hoc, by the instance of the account's host", async () => {
  const listed = (await ctl('commands.list')) as { commands: Array<{ name: string; module?: string }> };
  assert.deepEqual(listed.commands.find((c) => c.name === 'greeter.hello'), { name: 'greeter.hello', description: 'Greet an account', args: ['jid'], module: 'greeter' });
  assert.ok(listed.commands.some((c) => c.name === 'roster.get' && c.module === 'roster'), 'bundled modules register theirs too');

  assert.deepEqual(await ctl('greeter.hello', { jid: 'alice@localhost' }), { greeting: 'Hello, alice@localhost', host: 'localhost' });
  assert.deepEqual(await ctl('greeter.hello', { jid: 'alice@example.test' }), { greeting: 'Hej, alice@example.test', host: 'example.test' });
  await assert.rejects(ctl('greeter.hello', { jid: 'nobody@localhost' }), /nobody@localhost does not exist/);
  assert.deepEqual(await ctl('greeter.where'), { host: 'localhost' });

  const names = ((await (await rest('')).json()) as { commands: Array<{ name: string }> }).commands.map((c) => c.name);
  assert.ok(names.includes('greeter.hello') && names.includes('greeter.where'));
  const r = await rest('greeter.hello', { jid: 'alice@example.test' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { ok: true, result: { greeting: 'Hej, alice@example.test', host: 'example.test' } });

  const { c } = await RawClient.login(t.c2sPort, 'admin', 'admin-pw', 'desk');
  try {
    assert.ok((await listedNodes(c)).includes(NODE));
    const done = await adhocHello(c, 'alice@localhost');
    assert.equal(statusOf(done), 'completed', done);
    assert.deepEqual(fieldValues(done, 'greeting'), ['Hello, alice@localhost']);
  } finally {
    c.close();
  }
});

test('unloading the module withdraws its commands from every surface; loading it again brings them back', async () => {
  await ctl('module.unload', { name: 'greeter' });
  await assert.rejects(ctl('greeter.hello', { jid: 'alice@localhost' }), /unknown command "greeter\.hello"/);
  assert.ok(!((await ctl('commands.list')) as { commands: Array<{ name: string }> }).commands.some((x) => x.name.startsWith('greeter.')));
  assert.equal((await rest('greeter.hello', { jid: 'alice@localhost' })).status, 404);
  assert.ok(!((await (await rest('')).json()) as { commands: Array<{ name: string }> }).commands.some((x) => x.name === 'greeter.hello'));
  const { c } = await RawClient.login(t.c2sPort, 'admin', 'admin-pw', 'desk2');
  try {
    assert.ok(!(await listedNodes(c)).includes(NODE));
    assert.equal(errorOf(await command(c, NODE)).condition, 'item-not-found');

    await ctl('module.load', { name: 'greeter' });
    assert.ok((await listedNodes(c)).includes(NODE));
    assert.deepEqual(await ctl('greeter.hello', { jid: 'alice@example.test' }), { greeting: 'Hej, alice@example.test', host: 'example.test' });
    assert.deepEqual(fieldValues(await adhocHello(c, 'alice@localhost'), 'greeting'), ['Hello, alice@localhost']);
  } finally {
    c.close();
  }
});

test('roster.get for an account of a host without the roster module: a clear "unavailable" error everywhere', async () => {
  const target = { core: t.server.core, modules: t.server.modules };
  await assert.rejects(runCommand(target, 'roster.get', { jid: 'alice@example.test' }),
    (err) => err instanceof CommandError && err.kind === 'unavailable' && err.message === 'roster is not loaded on example.test');
  await assert.rejects(ctl('roster.get', { jid: 'alice@example.test' }), /^Error: roster is not loaded on example\.test$/);
  const r = await rest('roster.get', { jid: 'alice@example.test' });
  assert.equal(r.status, 503);
  assert.deepEqual(await r.json(), { error: 'roster is not loaded on example.test' });
  const { c } = await RawClient.login(t.c2sPort, 'admin', 'admin-pw', 'desk3');
  try {
    const node = 'urn:xmppd:admin#roster-get';
    const form = await command(c, node);
    const done = await command(c, node, { sessionid: sessionOf(form), payload: submit({ jid: 'alice@example.test' }) });
    assert.deepEqual(notes(done), [['error', 'roster is not loaded on example.test']]);
  } finally {
    c.close();
  }
  // the host that has it answers
  assert.deepEqual(await runCommand(target, 'roster.get', { jid: 'alice@localhost' }), { jid: 'alice@localhost', items: [], pending: [] });
});
