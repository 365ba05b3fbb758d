// Accounts: stored SCRAM credentials per bare JID (RFC 5802 stored keys; never a plaintext password).
import type { Op, Store, Table } from '../data/index.js';
import { deriveCredentials, type StoredCredentials } from './sasl/scram-credentials.js';
import type { Jid } from './jid.js';
import type { HookRunner } from './hooks/hook-runner.js';

export interface AccountRow { creds: StoredCredentials; created: string }

export class AccountExistsError extends Error {}
export class NoSuchAccountError extends Error {}

/** Rows are keyed host/localpart so one host's accounts are one ordered prefix range. */
const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;

export class Accounts {
  private readonly table: Table<AccountRow>;

  constructor(private readonly store: Store, private readonly hooks: HookRunner, private readonly iterations: number) {
    this.table = store.table<AccountRow>('accounts');
  }

  async exists(bare: Jid): Promise<boolean> {
    return (await this.table.get(keyOf(bare))) !== undefined;
  }

  async credentials(bare: Jid): Promise<StoredCredentials | null> {
    return (await this.table.get(keyOf(bare)))?.value.creds ?? null;
  }

  /** Create an account; fails with AccountExistsError if the JID is taken (insert-if-absent). */
  async create(bare: Jid, password: string): Promise<void> {
    const creds = await deriveCredentials(password, { iterations: this.iterations });
    const key = keyOf(bare);
    const row: AccountRow = { creds, created: new Date().toISOString() };
    const r = await this.store.transact(
      [{ type: 'put', table: 'accounts', key, value: row as never }],
      [{ type: 'absent', table: 'accounts', key }],
    );
    if (!r.ok) throw new AccountExistsError(`${bare.bareString()} already exists`);
    await this.hooks.notify('user_registered', { jid: bare.bare() });
  }

  async setPassword(bare: Jid, password: string): Promise<void> {
    const key = keyOf(bare);
    const cur = await this.table.get(key);
    if (!cur) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    const creds = await deriveCredentials(password, { iterations: this.iterations });
    const r = await this.store.transact(
      [{ type: 'put', table: 'accounts', key, value: { ...cur.value, creds } as never }],
      [{ type: 'rev', table: 'accounts', key, rev: cur.rev }],
    );
    if (!r.ok) throw new Error(`${bare.bareString()} changed concurrently; try again`);
  }

  /**
   * Delete an account and all of its data in ONE transaction: modules append their delete ops through
   * remove_user_data. user_removing runs first, while contacts can still be told (RFC 6121 §3.2, §3.3).
   */
  async remove(bare: Jid): Promise<void> {
    const key = keyOf(bare);
    if (!(await this.table.get(key))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    const jid = bare.bare();
    await this.hooks.notify('user_removing', { jid });
    let ops: Op[] = [{ type: 'del', table: 'accounts', key }];
    if (this.hooks.has('remove_user_data')) ops = (await this.hooks.filter('remove_user_data', ops, { jid })) as Op[];
    const r = await this.store.transact(ops, [{ type: 'present', table: 'accounts', key }]);
    if (!r.ok) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    await this.hooks.notify('user_removed', { jid });
  }

  /** Bare JIDs of a host's accounts, in order. */
  async list(host?: string): Promise<string[]> {
    const rows = await this.table.range(host ? { prefix: `${host}/` } : {});
    return rows.map((r) => {
      const slash = r.key.indexOf('/');
      return `${r.key.slice(slash + 1)}@${r.key.slice(0, slash)}`;
    });
  }
}
