// Roster storage (RFC 6121 §2, XEP-0237 versioning): one row per item keyed owner\0contact, so a user's
// roster is one prefix range, plus one version row per user; every change bumps the version in the same
// compare-and-set transaction.
import { randomBytes } from 'node:crypto';
import { StanzaError, type DataContext, type Jid, type Op, type Table } from '../../src/sdk.js';
import type { RosterChange, RosterItem, RosterMutator } from './api.js';

export const ITEMS_TABLE = 'roster_items';
export const VERSIONS_TABLE = 'roster_versions';

interface VersionRow { epoch: string; n: number }

const ownerKey = (owner: Jid) => `${owner.domain}/${owner.local}`;
const ownerPrefix = (owner: Jid) => `${ownerKey(owner)}\u0000`;

/** The version string: a random epoch per roster (a re-created account never repeats an old one) and a counter. */
const verString = (v: VersionRow | undefined) => (v ? `${v.epoch}-${v.n}` : '0');

/** A canonical copy: no undefined members, a stored request only while it is pending. */
export function normalize(item: RosterItem): RosterItem {
  const out: RosterItem = {
    jid: item.jid,
    groups: [...item.groups],
    subscription: item.subscription,
    ask: !!item.ask,
    approved: !!item.approved,
    pendingIn: !!item.pendingIn,
  };
  if (item.name) out.name = item.name;
  if (item.hidden) out.hidden = true;
  if (item.pendingIn && item.pendingStanza) out.pendingStanza = item.pendingStanza;
  return out;
}

const same = (a: RosterItem, b: RosterItem) => JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));

export class RosterStore {
  private readonly items: Table<RosterItem>;
  private readonly versions: Table<VersionRow>;

  constructor(private readonly ctx: DataContext<any>, private readonly maxItems: () => number) {
    this.items = ctx.table<RosterItem>(ITEMS_TABLE);
    this.versions = ctx.table<VersionRow>(VERSIONS_TABLE);
  }

  async version(owner: Jid): Promise<string> {
    return verString((await this.versions.get(ownerKey(owner)))?.value);
  }

  async get(owner: Jid, contact: Jid): Promise<RosterItem | undefined> {
    const row = await this.items.get(ownerPrefix(owner) + contact.bareString());
    return row ? normalize(row.value) : undefined;
  }

  async list(owner: Jid, includeHidden = false): Promise<RosterItem[]> {
    const rows = await this.items.range({ prefix: ownerPrefix(owner) });
    return rows.map((r) => normalize(r.value)).filter((i) => includeHidden || !i.hidden);
  }

  /** Roster and version read together, for a roster get. */
  async snapshot(owner: Jid): Promise<{ ver: string; items: RosterItem[] }> {
    for (;;) {
      const v1 = await this.versions.get(ownerKey(owner));
      const items = await this.list(owner);
      const v2 = await this.versions.get(ownerKey(owner));
      if ((v1?.rev ?? 0) === (v2?.rev ?? 0)) return { ver: verString(v2?.value), items };
    }
  }

  /** Delete ops for everything of this owner (account removal). */
  static removeOps(owner: Jid): Op[] {
    return [
      { type: 'delRange', table: ITEMS_TABLE, prefix: ownerPrefix(owner) },
      { type: 'del', table: VERSIONS_TABLE, key: ownerKey(owner) },
    ];
  }

  update(owner: Jid, contact: Jid, fn: RosterMutator): Promise<RosterChange> {
    // Updates of one roster run one at a time in this process (the compare-and-set covers the rest).
    return this.ctx.lock(ownerKey(owner), () => this.updateNow(owner, contact, fn));
  }

  private async updateNow(owner: Jid, contact: Jid, fn: RosterMutator): Promise<RosterChange> {
    const key = ownerPrefix(owner) + contact.bareString();
    const vkey = ownerKey(owner);
    for (let attempt = 0; attempt < 20; attempt++) {
      const [cur, ver] = await Promise.all([this.items.get(key), this.versions.get(vkey)]);
      const before = cur ? normalize(cur.value) : undefined;
      const next = fn(before ? structuredClone(before) : undefined);
      const unchanged = next === undefined || (next === null && !before) || (next !== null && before !== undefined && same(before, next));
      if (unchanged) return { before, after: before, changed: false, ver: verString(ver?.value) };
      const after = next === null ? undefined : normalize({ ...next, jid: contact.bareString() });
      if (after && !before) await this.checkLimit(owner, after);
      const newVer: VersionRow = { epoch: ver?.value.epoch ?? randomBytes(6).toString('hex'), n: (ver?.value.n ?? 0) + 1 };
      const ops: Op[] = [
        after ? { type: 'put', table: ITEMS_TABLE, key, value: after as never } : { type: 'del', table: ITEMS_TABLE, key },
        { type: 'put', table: VERSIONS_TABLE, key: vkey, value: newVer as never },
      ];
      const r = await this.ctx.store.transact(ops, [
        { type: 'rev', table: ITEMS_TABLE, key, rev: cur?.rev ?? 0 },
        { type: 'rev', table: VERSIONS_TABLE, key: vkey, rev: ver?.rev ?? 0 },
      ]);
      if (r.ok) return { before, after, changed: true, ver: verString(newVer) };
    }
    throw new StanzaError('internal-server-error', 'the roster kept changing; try again');
  }

  /**
   * max_items bounds the roster the user sees; records of inbound requests from strangers are bounded
   * by the same number separately, so a flood of requests cannot fill the user's own roster.
   */
  private async checkLimit(owner: Jid, item: RosterItem): Promise<void> {
    const max = this.maxItems();
    const rows = await this.items.range({ prefix: ownerPrefix(owner) });
    const n = rows.filter((r) => !!r.value.hidden === !!item.hidden).length;
    if (n >= max) {
      const what = item.hidden ? 'too many pending subscription requests' : `the roster is full (at most ${max} items)`;
      throw new StanzaError('resource-constraint', what, 'cancel');
    }
  }
}
