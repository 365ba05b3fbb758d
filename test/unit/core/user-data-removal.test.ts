// Account removal over the modules' declarations (src/core/module-runtime/user-data-removal.ts, Accounts.remove)
// on a real LevelDB store: each definition's removeUser ops, with the options of the account's host, commit
// with the account row and the remove_user_data hook's ops; a missing definition is reported; a failing one
// deletes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/core/config/load-config.js';
import { HookRunner } from '../../../src/core/hooks/hook-runner.js';
import { Accounts } from '../../../src/core/accounts.js';
import { defineModule, type ModuleDefinition } from '../../../src/core/module-runtime/module-definition.js';
import { opt } from '../../../src/core/module-runtime/options.js';
import { userDataCollector } from '../../../src/core/module-runtime/user-data-removal.js';
import { Jid } from '../../../src/core/jid.js';
import { silentLogger } from '../../../src/core/log.js';
import { openStore, type Store } from '../../../src/data/index.js';

let dir: string;
let store: Store;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-user-removal-'));
  store = await openStore(join(dir, 'db'));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const keyOf = (u: Jid) => `${u.domain}/${u.local}`;
/** Deletes the account's row in the table its `table` option names. */
const notes = defineModule({
  name: 'notes', options: { table: opt.string('notes_default') },
  removeUser: (data, user) => [{ type: 'del', table: data.options.table, key: keyOf(user) }],
  start() {},
});
/** Configured on no host: its rows may be left from when it was. */
const retired = defineModule({ name: 'retired', removeUser: (_d, user) => [{ type: 'del', table: 'retired_rows', key: keyOf(user) }], start() {} });

function accountsWith(definitions: Record<string, ModuleDefinition<any, any>>, modules: Record<string, unknown>) {
  const config = buildConfig({
    hosts: ['a.test', 'b.test'], data_dir: dir, scram_iterations: 4096, modules,
    host_config: { 'b.test': { modules: { notes: { table: 'notes_b' } } } },
  }, '/etc/xmppd/xmppd.yaml', '/etc/xmppd');
  const hooks = new HookRunner(silentLogger);
  const accounts = new Accounts(store, hooks, config.scram_iterations);
  accounts.userData = userDataCollector({ config, store, log: silentLogger }, { definitions });
  return { accounts, hooks };
}

async function seed(user: Jid, tables: string[]): Promise<void> {
  await store.transact(tables.map((table) => ({ type: 'put', table, key: keyOf(user), value: { kept: true } })));
}
const has = async (table: string, user: Jid) => (await store.table(table).get(keyOf(user))) !== undefined;

test('every definition\'s ops, with the options of the account\'s host, commit with the account row and the hook\'s ops', async () => {
  const { accounts, hooks } = accountsWith({ notes, retired }, { notes: { table: 'notes_global' } });
  hooks.on('remove_user_data', (ops, { jid }) => [...ops, { type: 'del', table: 'hooked', key: keyOf(jid) }], 50, 'test', 'b.test');
  const u = Jid.parse('u@b.test');
  await accounts.create(u, 'pw');
  await seed(u, ['notes_b', 'notes_global', 'retired_rows', 'hooked']);
  assert.deepEqual(await accounts.remove(u), { warnings: [] });
  assert.equal(await accounts.exists(u), false);
  assert.equal(await has('notes_b', u), false, 'host_config.b.test.modules.notes.table names the table on b.test');
  assert.equal(await has('notes_global', u), true, 'the global option is not the one of b.test');
  assert.equal(await has('retired_rows', u), false, 'a module enabled on no host still deletes its rows');
  assert.equal(await has('hooked', u), false, 'remove_user_data handlers still append ops');

  const v = Jid.parse('v@a.test');
  await accounts.create(v, 'pw');
  await seed(v, ['notes_global']);
  await accounts.remove(v);
  assert.equal(await has('notes_global', v), false, 'a.test takes the global option');
});

test('a configured module with no definition at hand is named; a throwing removeUser deletes nothing', async () => {
  const { accounts } = accountsWith({ notes }, { notes: {}, external: {} });
  const u = Jid.parse('w@a.test');
  await accounts.create(u, 'pw');
  await seed(u, ['notes_default']);
  assert.deepEqual(await accounts.remove(u), {
    warnings: ['not deleted: the data of external for w@a.test, if any (no definition at hand with the server stopped); re-create the account and delete it with the server running to remove it'],
  });
  assert.equal(await has('notes_default', u), false);

  const broken = defineModule({ name: 'broken', removeUser: () => { throw new Error('index unreadable'); }, start() {} });
  const b = accountsWith({ notes, broken }, { notes: {} });
  await b.accounts.create(u, 'pw');
  await seed(u, ['notes_default']);
  await assert.rejects(b.accounts.remove(u), /module broken could not list the data of w@a\.test to delete: index unreadable/);
  assert.equal(await b.accounts.exists(u), true, 'the account stays whole');
  assert.equal(await has('notes_default', u), true);
});
