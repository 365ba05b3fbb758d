// The accounts table as export/import see it: stored SCRAM credentials per account (src/core/accounts.ts
// owns the layout: key host/localpart, row {creds, created}). Import writes credentials as given — the
// Accounts API only takes passwords — and fires user_registered for new accounts like Accounts.create.
import { randomBytes } from 'node:crypto';
import type { Row, Table } from '../../data/index.js';
import type { Core } from '../core.js';
import type { AccountRow } from '../accounts.js';
import type { Jid } from '../jid.js';
import { deriveCredentials, type StoredCredentials } from '../sasl/scram-credentials.js';

const TABLE = 'accounts';
const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;

export class AccountRows {
  private readonly table: Table<AccountRow>;

  constructor(private readonly core: Core) {
    this.table = core.store.table<AccountRow>(TABLE);
  }

  /** A host's accounts in key order, a page at a time (never the whole table in memory). */
  async *scan(host: string, pageSize = 200): AsyncGenerator<{ local: string; row: AccountRow }> {
    const prefix = `${host}/`;
    let after: string | undefined;
    for (;;) {
      const rows: Row<AccountRow>[] = await this.table.range({ prefix, ...(after !== undefined && { gte: `${after}\u0000` }), limit: pageSize });
      for (const r of rows) yield { local: r.key.slice(prefix.length), row: r.value };
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  async count(host: string): Promise<number> {
    return this.table.count({ prefix: `${host}/` });
  }

  async exists(bare: Jid): Promise<boolean> {
    return (await this.table.get(keyOf(bare))) !== undefined;
  }

  /**
   * Create the account or replace its credentials; 'created' or 'updated'. Accounts created here are
   * announced through user_registered, as Accounts.create does.
   */
  async put(bare: Jid, creds: StoredCredentials): Promise<'created' | 'updated'> {
    const key = keyOf(bare);
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.table.get(key);
      const row: AccountRow = cur ? { ...cur.value, creds } : { creds, created: new Date().toISOString() };
      const r = await this.core.store.transact(
        [{ type: 'put', table: TABLE, key, value: row as never }],
        [{ type: 'rev', table: TABLE, key, rev: cur?.rev ?? 0 }],
      );
      if (!r.ok) continue;
      if (!cur) await this.core.hooks.notify('user_registered', bare.domain, { jid: bare.bare() });
      return cur ? 'updated' : 'created';
    }
    throw new Error(`${bare.bareString()} kept changing during the import; try again`);
  }

  /** Credentials nobody knows the password of: for accounts a file carries no credential for. */
  unusable(): Promise<StoredCredentials> {
    return deriveCredentials(randomBytes(32).toString('base64'), { iterations: this.core.config.scram_iterations });
  }

  password(password: string): Promise<StoredCredentials> {
    return deriveCredentials(password, { iterations: this.core.config.scram_iterations });
  }
}
