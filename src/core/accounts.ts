// Accounts: stored SCRAM credentials per bare JID (RFC 5802 stored keys; never a plaintext password).
import type { Op, Store, Table } from '../data/index.js';
import { deriveCredentials, type StoredCredentials } from './sasl/scram-credentials.js';
import type { Jid } from './jid.js';
import type { HookRunner } from './hooks/hook-runner.js';
import { requireOperation, type AuthProvider } from './auth/auth-provider.js';
import { fastTokenRemovalOps } from './auth/fast-tokens.js';

export interface AccountRow { creds: StoredCredentials; created: string }

export class AccountExistsError extends Error {}
export class NoSuchAccountError extends Error {}

/** Rows are keyed host/localpart so one host's accounts are one ordered prefix range. */
const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;
/** Banned accounts, keyed like accounts (a table of its own: bans apply to every auth provider). */
const BANS = 'account_bans';

export class Accounts {
  private readonly table: Table<AccountRow>;

  constructor(private readonly store: Store, private readonly hooks: HookRunner, private readonly iterations: number) {
    this.table = store.table<AccountRow>('accounts');
  }

  /** Hosts whose auth provider is not this table (src/core/auth); unset: this table serves every host. */
  private routes: { hosts: readonly string[]; routed(host: string): AuthProvider | null } | null = null;

  /**
   * Send the account operations of hosts with another auth provider (external, a module's) to it, so the
   * router, registration and admin commands ask the site's directory. Lifecycle hooks still fire here.
   */
  routeTo(routes: { hosts: readonly string[]; routed(host: string): AuthProvider | null }): void {
    this.routes = routes;
  }

  private providerOf(bare: Jid): AuthProvider | null {
    return this.routes?.routed(bare.domain) ?? null;
  }

  async exists(bare: Jid): Promise<boolean> {
    const p = this.providerOf(bare);
    if (p) return p.userExists(bare);
    return (await this.table.get(keyOf(bare))) !== undefined;
  }

  async credentials(bare: Jid): Promise<StoredCredentials | null> {
    const p = this.providerOf(bare);
    if (p) return p.credentials ? p.credentials(bare) : null;
    return (await this.table.get(keyOf(bare)))?.value.creds ?? null;
  }

  /** Create an account; fails with AccountExistsError if the JID is taken (insert-if-absent). */
  async create(bare: Jid, password: string): Promise<void> {
    const p = this.providerOf(bare);
    if (p) {
      await requireOperation(p, 'register')(bare, password);
      await this.hooks.notify('user_registered', bare.domain, { jid: bare.bare() });
      return;
    }
    const creds = await deriveCredentials(password, { iterations: this.iterations });
    const key = keyOf(bare);
    const row: AccountRow = { creds, created: new Date().toISOString() };
    const r = await this.store.transact(
      [{ type: 'put', table: 'accounts', key, value: row as never }],
      [{ type: 'absent', table: 'accounts', key }],
    );
    if (!r.ok) throw new AccountExistsError(`${bare.bareString()} already exists`);
    await this.hooks.notify('user_registered', bare.domain, { jid: bare.bare() });
  }

  async setPassword(bare: Jid, password: string): Promise<void> {
    const p = this.providerOf(bare);
    if (p) {
      await requireOperation(p, 'setPassword')(bare, password);
      await this.store.transact(fastTokenRemovalOps(bare)); // a new password ends the FAST tokens of the old one
      return;
    }
    const key = keyOf(bare);
    const cur = await this.table.get(key);
    if (!cur) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    const creds = await deriveCredentials(password, { iterations: this.iterations });
    const r = await this.store.transact(
      // A new password ends every FAST token (XEP-0484) issued on the strength of the old one.
      [{ type: 'put', table: 'accounts', key, value: { ...cur.value, creds } as never }, ...fastTokenRemovalOps(bare)],
      [{ type: 'rev', table: 'accounts', key, rev: cur.rev }],
    );
    if (!r.ok) throw new Error(`${bare.bareString()} changed concurrently; try again`);
  }

  /**
   * The modules' declared shares of a removal (ModuleDefinition.removeUser, user-data-removal.ts), set by
   * whoever knows the modules: the server, or the CLI on the data directory. Unset: the hook's ops only.
   */
  userData: ((user: Jid) => Promise<{ ops: Op[]; warnings: string[] }>) | null = null;

  /**
   * Delete an account and all of its data in ONE transaction: the modules' removeUser ops, then whatever
   * remove_user_data handlers append. user_removing runs first, while contacts can still be told (RFC 6121
   * §3.2, §3.3). The warnings name data that could not be included (a module whose definition is not at hand).
   */
  async remove(bare: Jid): Promise<{ warnings: string[] }> {
    const p = this.providerOf(bare);
    if (p) return this.removeRouted(p, bare);
    const key = keyOf(bare);
    if (!(await this.table.get(key))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    const jid = bare.bare();
    await this.hooks.notify('user_removing', jid.domain, { jid });
    const { ops, warnings } = await this.dataOps(jid, [{ type: 'del', table: 'accounts', key }, { type: 'del', table: BANS, key }, ...fastTokenRemovalOps(jid)]);
    const r = await this.store.transact(ops, [{ type: 'present', table: 'accounts', key }]);
    if (!r.ok) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    await this.hooks.notify('user_removed', jid.domain, { jid });
    return { warnings };
  }

  private async dataOps(jid: Jid, own: Op[]): Promise<{ ops: Op[]; warnings: string[] }> {
    const declared = this.userData ? await this.userData(jid) : { ops: [], warnings: [] };
    let ops = [...own, ...declared.ops];
    if (this.hooks.has('remove_user_data', jid.domain)) ops = (await this.hooks.filter('remove_user_data', jid.domain, ops, { jid })) as Op[];
    return { ops, warnings: declared.warnings };
  }

  /**
   * remove() where another provider holds the credentials: they go first (the provider may refuse), so
   * contacts are told only about an account that is really gone; then its data, in one transaction.
   */
  private async removeRouted(p: AuthProvider, bare: Jid): Promise<{ warnings: string[] }> {
    const drop = requireOperation(p, 'remove');
    if (!(await p.userExists(bare))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    await drop(bare);
    const jid = bare.bare();
    await this.hooks.notify('user_removing', jid.domain, { jid });
    const { ops, warnings } = await this.dataOps(jid, [{ type: 'del', table: BANS, key: keyOf(bare) }, ...fastTokenRemovalOps(jid)]);
    await this.store.transact(ops);
    await this.hooks.notify('user_removed', jid.domain, { jid });
    return { warnings };
  }

  /**
   * Ban an account (whatever provider holds its credentials): logins then fail with account-disabled
   * (RFC 6120 §6.5.1). The caller ends its live sessions.
   */
  async ban(bare: Jid, reason: string): Promise<void> {
    if (!(await this.exists(bare))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    await this.store.transact([{ type: 'put', table: BANS, key: keyOf(bare), value: { reason, at: new Date().toISOString() } }]);
  }

  /** Lift a ban; false when the account was not banned. */
  async unban(bare: Jid): Promise<boolean> {
    const key = keyOf(bare);
    const r = await this.store.transact([{ type: 'del', table: BANS, key }], [{ type: 'present', table: BANS, key }]);
    return r.ok;
  }

  /** The ban of an account, if any (checked once per login, after the credentials were verified). */
  async banOf(bare: Jid): Promise<{ reason: string; at: string } | null> {
    return ((await this.store.table(BANS).get(keyOf(bare)))?.value as { reason: string; at: string } | undefined) ?? null;
  }

  /** Whether any account exists (one row read; a host with another auth provider is asked for its list). */
  async any(): Promise<boolean> {
    if (this.routes?.hosts.some((h) => this.routes!.routed(h))) return (await this.list()).length > 0;
    return (await this.table.range({ limit: 1 })).length > 0;
  }

  /** Banned accounts (of one host, or all), in order, with the reason and time of the ban. */
  async bans(host?: string): Promise<Array<{ jid: string; reason: string; at: string }>> {
    const rows = await this.store.table(BANS).range(host ? { prefix: `${host}/` } : {});
    return rows.map((r) => {
      const slash = r.key.indexOf('/');
      const v = r.value as { reason?: string; at?: string };
      return { jid: `${r.key.slice(slash + 1)}@${r.key.slice(0, slash)}`, reason: v.reason ?? '', at: v.at ?? '' };
    });
  }

  /** Bare JIDs of a host's accounts, in order. */
  async list(host?: string): Promise<string[]> {
    const routes = this.routes;
    if (routes && host && routes.routed(host)) return requireOperation(routes.routed(host)!, 'list')(host);
    if (routes && !host && routes.hosts.some((h) => routes.routed(h))) {
      // Every host's own list; hosts whose provider cannot list (an extauth program) are left out.
      const all: string[] = [];
      for (const h of routes.hosts) {
        const p = routes.routed(h);
        if (!p) all.push(...(await this.list(h)));
        else if (p.capabilities.list && p.list) all.push(...(await p.list(h)));
      }
      return all;
    }
    const rows = await this.table.range(host ? { prefix: `${host}/` } : {});
    return rows.map((r) => {
      const slash = r.key.indexOf('/');
      return `${r.key.slice(slash + 1)}@${r.key.slice(0, slash)}`;
    });
  }
}
