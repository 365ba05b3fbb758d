// XEP-0313 archiving preferences (the <prefs/> protocol of urn:xmpp:mam:2, now XEP-0441): per account a
// default (always | never | roster) and always/never JID lists, stored in a table and consulted for each
// message archived. A JID in both lists is not archived (never wins: the safer reading for privacy).
import { xml, Jid, StanzaError, type Element, type IqRequest, type ModuleContext, type Op } from '../../src/sdk.js';
import type { RosterApi } from '../../src/sdk.js';
import { NS_MAM } from './query.js';

export const PREFS_TABLE = 'mam_prefs';
export type DefaultPolicy = 'always' | 'never' | 'roster';
const POLICIES: readonly DefaultPolicy[] = ['always', 'never', 'roster'];

export interface ArchivePrefs { default: DefaultPolicy; always: string[]; never: string[] }

/** Most JIDs one account may list in always and never together. */
export const MAX_PREF_JIDS = 1000;
/** Accounts whose preferences are kept in memory before the cache starts over. */
const CACHE_MAX = 10_000;

const prefsKey = (owner: Jid): string => `${owner.domain}/${owner.local}`;

/** A list entry with a resource matches that full JID only; a bare entry matches every resource of it. */
function listed(list: readonly string[], peer: Jid): boolean {
  const full = peer.toString();
  const bare = peer.bareString();
  return list.some((j) => j === full || j === bare);
}

export class PrefsStore {
  private readonly cache = new Map<string, ArchivePrefs | null>();

  constructor(private readonly ctx: ModuleContext<any>, private readonly fallback: () => DefaultPolicy) {
    // Any committed change (this process, another node, account removal) drops the cached entry.
    ctx.watch(PREFS_TABLE, (ev) => this.cache.delete(ev.key));
  }

  /** The account's stored preferences, or null when it never set any. */
  async stored(owner: Jid): Promise<ArchivePrefs | null> {
    const k = prefsKey(owner);
    if (this.cache.has(k)) return this.cache.get(k)!;
    const row = await this.ctx.table<ArchivePrefs>(PREFS_TABLE).get(k);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(k, row?.value ?? null);
    return row?.value ?? null;
  }

  /** The preferences in force: the stored ones, or the server default with empty lists. */
  async effective(owner: Jid): Promise<ArchivePrefs> {
    return (await this.stored(owner)) ?? { default: this.fallback(), always: [], never: [] };
  }

  /** Whether a message between `owner` (a local account) and `peer` goes into owner's archive. */
  async archives(owner: Jid, peer: Jid): Promise<boolean> {
    const p = await this.effective(owner);
    if (listed(p.never, peer)) return false;
    if (listed(p.always, peer)) return true;
    if (p.default !== 'roster') return p.default === 'always';
    const item = await this.ctx.service<RosterApi>('roster')?.get(owner, peer.bare());
    return !!item && !item.hidden;
  }

  async save(owner: Jid, prefs: ArchivePrefs): Promise<void> {
    const r = await this.ctx.store.transact([{ type: 'put', table: PREFS_TABLE, key: prefsKey(owner), value: { ...prefs } }]);
    if (!r.ok) throw new StanzaError('internal-server-error', 'could not store the archiving preferences');
  }

  static removeOps(owner: Jid): Op[] {
    return [{ type: 'del', table: PREFS_TABLE, key: prefsKey(owner) }];
  }
}

/** The <prefs/> element for a get answer or a set result. */
function prefsElement(p: ArchivePrefs): Element {
  return xml('prefs', { xmlns: NS_MAM, default: p.default },
    xml('always', {}, ...p.always.map((j) => xml('jid', {}, j))),
    xml('never', {}, ...p.never.map((j) => xml('jid', {}, j))));
}

/** The JIDs of an <always/> or <never/> list, normalised (PRECIS) and without duplicates. */
function parseList(list: Element | undefined): string[] {
  if (!list) return [];
  const out = new Set<string>();
  for (const j of list.getChildren('jid')) {
    const parsed = Jid.tryParse(j.getText().trim());
    if (!parsed) throw new StanzaError('jid-malformed', `"${j.getText()}" is not a valid JID`);
    out.add(parsed.toString());
  }
  return [...out];
}

/** get: the preferences in force; set: replace them (both lists as sent) and answer with what is stored. */
export async function prefsIq(store: PrefsStore, req: IqRequest): Promise<Element> {
  const owner = req.to.bare();
  if (!req.from.bare().equals(owner)) throw new StanzaError('forbidden', 'you may only see or change your own archiving preferences');
  if (req.type === 'get') return prefsElement(await store.effective(owner));
  const def = req.payload.attrs.default as string | undefined;
  if (!POLICIES.includes(def as DefaultPolicy)) throw new StanzaError('bad-request', 'default must be always, never or roster');
  const prefs: ArchivePrefs = {
    default: def as DefaultPolicy,
    always: parseList(req.payload.getChild('always')),
    never: parseList(req.payload.getChild('never')),
  };
  if (prefs.always.length + prefs.never.length > MAX_PREF_JIDS) {
    throw new StanzaError('policy-violation', `at most ${MAX_PREF_JIDS} JIDs in the always and never lists`);
  }
  await store.save(owner, prefs);
  return prefsElement(prefs);
}
