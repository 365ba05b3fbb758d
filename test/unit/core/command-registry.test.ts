// The admin command registry (src/core/admin/command-registry.ts): module commands per host, dispatch by the
// account's host, names that cannot clash, release on stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandRegistry, type ModuleCommandDef } from '../../../src/core/admin/command-registry.js';
import { CommandError, type AdminTarget, type CommandDef } from '../../../src/core/admin/command-def.js';
import { buildConfig } from '../../../src/core/config/load-config.js';
import type { Core } from '../../../src/core/core.js';

const CORE_CMD: CommandDef = { name: 'status', description: 'Server status', args: [], run: async () => ({ up: true }) };
const target: AdminTarget = { core: { config: buildConfig({ hosts: ['a.test', 'b.test'] }) } as Core };
const caller = { origin: 'cli' as const };

/** The definition a module instance on `host` registers: it answers with its host. */
const echo = (host: string, name = 'echo.who', args = ['jid']): ModuleCommandDef => ({
  name, description: 'Which instance answers', args, existingAccount: false,
  run: async (a, call) => ({ instance: host, host: call.host, jid: call.jid?.toString() }),
});

test('a command about an account runs on the instance of its host; a host without the module gets "unavailable"', async () => {
  const r = new CommandRegistry([CORE_CMD]);
  r.register('a.test', 'echo', echo('a.test'));
  assert.deepEqual(await r.get('echo.who')!.run(target, { jid: 'Alice@A.test' }, caller), { instance: 'a.test', host: 'a.test', jid: 'alice@a.test' });
  await assert.rejects(r.get('echo.who')!.run(target, { jid: 'alice@b.test' }, caller),
    (e) => e instanceof CommandError && e.kind === 'unavailable' && e.message === 'echo is not loaded on b.test');
  const release = r.register('b.test', 'echo', echo('b.test'));
  assert.deepEqual(await r.get('echo.who')!.run(target, { jid: 'alice@b.test' }, caller), { instance: 'b.test', host: 'b.test', jid: 'alice@b.test' });
  await assert.rejects(r.get('echo.who')!.run(target, { jid: 'alice@elsewhere.example' }, caller), /elsewhere\.example is not one of this server's hosts/);
  release();
  await assert.rejects(r.get('echo.who')!.run(target, { jid: 'alice@b.test' }, caller), /echo is not loaded on b\.test/);
});

test('a server-level command runs on the first host that has the module; listing shows the module', async () => {
  const r = new CommandRegistry([CORE_CMD]);
  r.register('b.test', 'echo', echo('b.test', 'echo.where', []));
  r.register('a.test', 'echo', echo('a.test', 'echo.where', []));
  assert.equal(((await r.get('echo.where')!.run(target, {}, caller)) as { instance: string }).instance, 'a.test');
  assert.deepEqual(r.list().map((c) => [c.name, c.module]), [['status', undefined], ['echo.where', 'echo']]);
});

test('names cannot clash: not with the server\'s commands, not across modules, not twice on a host', () => {
  const r = new CommandRegistry([CORE_CMD]);
  assert.throws(() => r.register('a.test', 'echo', echo('a.test', 'status')), /not a valid command name/);
  assert.throws(() => r.register('a.test', 'echo', { ...echo('a.test'), name: 'Bad Name' }), /not a valid command name/);
  const r2 = new CommandRegistry([{ ...CORE_CMD, name: 'server.status' }]);
  assert.throws(() => r2.register('a.test', 'echo', echo('a.test', 'server.status')), /the command server\.status is the server's own/);
  r.register('a.test', 'echo', echo('a.test'));
  assert.throws(() => r.register('a.test', 'echo', echo('a.test')), /already registered on a\.test/);
  assert.throws(() => r.register('b.test', 'other', echo('b.test')), /already registered by module echo/);
});

test('releasing every host removes the command; a stale release after a reload leaves the new one alone', () => {
  const r = new CommandRegistry([]);
  const old = r.register('a.test', 'echo', echo('a.test'));
  old();
  assert.equal(r.get('echo.who'), undefined);
  old(); // released twice: nothing happens
  r.register('a.test', 'echo', echo('a.test'));
  old();
  assert.ok(r.get('echo.who'), 'the reloaded instance keeps its command');
});
