// XEP-0357 §5/§6 registrations: one row per (account, app server JID, node), keyed
// `${domain}/${local}\0${jid}\0${node}` so an account's registrations are one prefix range (removed with one
// delRange), plus an in-memory index of the accounts that have any, kept exact by the table's change feed.
import type { ElementJson, Jid, ModuleContext, Op, Table } from '../../src/sdk.js';

export const TABLE = 'push_registrations';

export interface Registration {
  /** The app server's XMPP Push Service (a PubSub service). */
  jid: string;
  node: string;
  /** The http://jabber.org/protocol/pubsub#publish-options form given at enable, sent with every publish. */
  options: ElementJson | null;
  /** When it was enabled (ms); a disable-on-error only removes the registration it published for. */
  at: number;
}

/** The key prefix of one account's rows. */
export const userPrefix = (bare: Jid): string => `${bare.domain}/${bare.local}\u0000`;
export const keyOf = (bare: Jid, jid: string, node: string): string => `${userPrefix(bare)}${jid}\u0000${node}`;

export class Registrations {
  readonly table: Table<Registration>;
  /** account prefix -> its registration keys (this host's accounts only). */
  private readonly index = new Map<string, Set<string>>();

  constructor(private readonly ctx: ModuleContext<any>) {
    this.table = ctx.table<Registration>(TABLE);
    ctx.watch(TABLE, (ev) => this.changed(ev.key, ev.value !== undefined), { prefix: `${ctx.host}/` });
  }

  /** Fill the index from the table (at start; the change feed keeps it exact afterwards). */
  async load(): Promise<void> {
    for (const row of await this.table.range({ prefix: `${this.ctx.host}/` })) this.changed(row.key, true);
  }

  private changed(key: string, present: boolean): void {
    const account = key.slice(0, key.indexOf('\u0000') + 1);
    let keys = this.index.get(account);
    if (present) {
      if (!keys) this.index.set(account, (keys = new Set()));
      keys.add(key);
    } else if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.index.delete(account);
    }
  }

  /** Whether the account has push enabled anywhere: the synchronous check on the message path. */
  has(bare: Jid): boolean {
    return this.index.has(userPrefix(bare));
  }

  count(bare: Jid): number {
    return this.index.get(userPrefix(bare))?.size ?? 0;
  }

  list(bare: Jid): Promise<Array<{ key: string; value: Registration }>> {
    return this.table.range({ prefix: userPrefix(bare) });
  }

  async enable(bare: Jid, reg: Registration): Promise<void> {
    await this.ctx.store.transact([{ type: 'put', table: TABLE, key: keyOf(bare, reg.jid, reg.node), value: reg as never }]);
  }

  /** §6: jid and node remove that registration; jid alone every registration for that service. */
  async disable(bare: Jid, jid: string, node?: string): Promise<number> {
    const rows = await this.list(bare);
    const gone = rows.filter((r) => r.value.jid === jid && (node === undefined || r.value.node === node));
    if (gone.length) await this.ctx.store.transact(gone.map((r): Op => ({ type: 'del', table: TABLE, key: r.key })));
    return gone.length;
  }

  /** Remove one registration if it is still the one enabled at `at` (not re-enabled since). */
  async disableIfUnchanged(key: string, at: number): Promise<boolean> {
    const row = await this.table.get(key);
    if (!row || row.value.at !== at) return false;
    const r = await this.ctx.store.transact([{ type: 'del', table: TABLE, key }], [{ type: 'rev', table: TABLE, key, rev: row.rev }]);
    return r.ok;
  }
}
