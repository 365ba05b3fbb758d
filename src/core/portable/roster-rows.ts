// A user's roster for export, import and the roster admin commands: through the roster module's service
// (its contract: src/core/services/roster-service.ts) when it runs on the host — so changes are pushed to the user's clients and the
// XEP-0237 version moves — and through its tables when it does not (server stopped: `xmppd import` on the
// data directory). The table layout mirrors modules/roster/store.ts.
import { randomBytes } from 'node:crypto';
import type { Table } from '../../data/index.js';
import type { Core } from '../core.js';
import type { Jid } from '../jid.js';
import type { RosterApi, RosterItem, RosterMutator } from '../services/roster-service.js';

const ITEMS = 'roster_items';
const VERSIONS = 'roster_versions';
interface VersionRow { epoch: string; n: number }

const ownerKey = (owner: Jid) => `${owner.domain}/${owner.local}`;
const ownerPrefix = (owner: Jid) => `${ownerKey(owner)}\u0000`;

export type { RosterItem };

export class RosterRows {
  private readonly items: Table<RosterItem>;
  private readonly versions: Table<VersionRow>;

  constructor(private readonly core: Core) {
    this.items = core.store.table<RosterItem>(ITEMS);
    this.versions = core.store.table<VersionRow>(VERSIONS);
  }

  /** The roster module's service on this host, if it runs. */
  service(host: string): RosterApi | undefined {
    return this.core.services?.get<RosterApi>(host, 'roster');
  }

  /** Every item, the hidden records of inbound requests from strangers included. */
  async list(owner: Jid): Promise<RosterItem[]> {
    const api = this.service(owner.domain);
    if (api) return api.items(owner, { includeHidden: true });
    return (await this.items.range({ prefix: ownerPrefix(owner) })).map((r) => r.value);
  }

  /** Compare-and-set one item (see RosterApi.update); true when something changed. */
  async update(owner: Jid, contact: Jid, fn: RosterMutator): Promise<boolean> {
    const api = this.service(owner.domain);
    if (api) return (await api.update(owner, contact, fn)).changed;
    const key = ownerPrefix(owner) + contact.bareString();
    const vkey = ownerKey(owner);
    for (let attempt = 0; attempt < 20; attempt++) {
      const [cur, ver] = await Promise.all([this.items.get(key), this.versions.get(vkey)]);
      const next = fn(cur ? structuredClone(cur.value) : undefined);
      if (next === undefined || (next === null && !cur)) return false;
      if (next && cur && JSON.stringify(clean(next, contact)) === JSON.stringify(clean(cur.value, contact))) return false;
      // The version moves with every change, so clients holding an older roster version refetch it.
      const v: VersionRow = { epoch: ver?.value.epoch ?? randomBytes(6).toString('hex'), n: (ver?.value.n ?? 0) + 1 };
      const r = await this.core.store.transact([
        next === null ? { type: 'del', table: ITEMS, key } : { type: 'put', table: ITEMS, key, value: clean(next, contact) as never },
        { type: 'put', table: VERSIONS, key: vkey, value: v as never },
      ], [
        { type: 'rev', table: ITEMS, key, rev: cur?.rev ?? 0 },
        { type: 'rev', table: VERSIONS, key: vkey, rev: ver?.rev ?? 0 },
      ]);
      if (r.ok) return true;
    }
    throw new Error(`the roster of ${owner.bareString()} kept changing; try again`);
  }
}

/** The canonical stored form (as modules/roster/store.ts normalize()). */
function clean(i: RosterItem, contact: Jid): RosterItem {
  const out: RosterItem = {
    jid: contact.bareString(), groups: [...i.groups], subscription: i.subscription,
    ask: !!i.ask, approved: !!i.approved, pendingIn: !!i.pendingIn,
  };
  if (i.name) out.name = i.name;
  if (i.hidden) out.hidden = true;
  if (i.pendingIn && i.pendingStanza) out.pendingStanza = i.pendingStanza;
  return out;
}
