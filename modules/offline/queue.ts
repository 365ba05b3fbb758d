// The per-user offline queue (XEP-0160 §2): rows keyed `${domain}/${local}\0${seq}` so one account's
// messages are one prefix range in arrival order; one writer per account at a time in this process.
import { xml, parseXml, type Element, type Jid, type Table, type ModuleContext } from '../../src/sdk.js';

export interface StoredMessage {
  /** The stanza as serialized XML, with its XEP-0203 <delay/> already added. */
  xml: string;
  /** The XEP-0082 stamp of the <delay/>, for listings without parsing. */
  stamp: string;
  from: string;
}

export type StoreResult = 'stored' | 'full';

const SEQ_DIGITS = 12;

/** The prefix of one account's rows; '\0' cannot occur in a localpart, so 'bob' never matches 'bobby'. */
export function userPrefix(jid: Jid): string {
  return `${jid.domain}/${jid.local}\u0000`;
}

export class OfflineQueue {
  readonly table: Table<StoredMessage>;

  constructor(private readonly ctx: ModuleContext, readonly tableName: string) {
    this.table = ctx.table<StoredMessage>(tableName);
  }

  /** Run fn after every earlier operation on the same account has finished: stores and deliveries never overlap. */
  serial<T>(jid: Jid, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock(userPrefix(jid), fn);
  }

  count(jid: Jid): Promise<number> {
    return this.table.count({ prefix: userPrefix(jid) });
  }

  /**
   * Append a message unless the account already holds `max` of them. `build` makes the row, only once
   * there is room (so nothing is stamped or archived for a message refused as full). Resolves once durable.
   */
  append(jid: Jid, build: () => Promise<StoredMessage>, max: number): Promise<StoreResult> {
    return this.serial(jid, async () => {
      const prefix = userPrefix(jid);
      if ((await this.table.count({ prefix })) >= max) return 'full';
      const value = await build();
      // The next seq after the newest row. Insert-if-absent guards against another node of a cluster
      // taking the same seq at the same moment: then re-read and try the next one.
      for (let attempt = 0; attempt < 8; attempt++) {
        const [last] = await this.table.range({ prefix, reverse: true, limit: 1 });
        const seq = last ? Number.parseInt(last.key.slice(prefix.length), 10) + 1 : 1;
        const key = prefix + String(seq).padStart(SEQ_DIGITS, '0');
        const r = await this.ctx.store.transact(
          [{ type: 'put', table: this.tableName, key, value: { ...value } }],
          [{ type: 'absent', table: this.tableName, key }],
        );
        if (r.ok) return 'stored';
      }
      throw new Error('could not allocate an offline queue slot');
    });
  }

  /** Every stored message of the account, oldest first. */
  list(jid: Jid): Promise<Array<{ key: string; value: StoredMessage }>> {
    return this.table.range({ prefix: userPrefix(jid) });
  }

  async remove(keys: string[]): Promise<void> {
    if (!keys.length) return;
    await this.ctx.store.transact(keys.map((key) => ({ type: 'del' as const, table: this.tableName, key })));
  }
}

// ---- stanza (de)serialization ---------------------------------------------------------------------

/** Parse one serialized stanza back into an element. */
export function parseStanza(s: string): Element {
  return parseXml(s);
}
