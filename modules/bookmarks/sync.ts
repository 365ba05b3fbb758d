// Keeps an account's XEP-0402 node (urn:xmpp:bookmarks:1, the truth) and its XEP-0048 views (the
// storage:bookmarks PEP node, and the private XML answer built from the items) in step. A replaced legacy list
// is applied as the changes it makes; the legacy node is always rebuilt from the items. Every write compares
// first, and the module's own publishes are marked so their notifications are not taken for a client's.
import { StanzaError, type Element, type Jid, type ModuleContext, type PepApi, type PublishOptions } from '../../src/sdk.js';
import { NS_LEGACY, NS_NATIVE, bookmarkKey, fromLegacy, fromNative, listKey, toNative, toStorage, type Bookmark, type LegacyList } from './convert.js';

/** XEP-0402 §3 publish-options: one item per room, kept, never pushed on presence, owner only. */
const NATIVE_OPTIONS: PublishOptions = {
  'pubsub#persist_items': 'true',
  'pubsub#max_items': 'max',
  'pubsub#send_last_published_item': 'never',
  'pubsub#access_model': 'whitelist',
};
/** XEP-0048 §3.2 via XEP-0223: private, persistent storage; the whole list in one item. */
const LEGACY_OPTIONS: PublishOptions = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' };
const LEGACY_ITEM = 'current';

type Logger = ModuleContext['log'];

export interface NativeState {
  /** Parsed bookmarks by room JID. */
  bookmarks: Map<string, Bookmark>;
  /** Item ids whose payload is not a bookmark: never touched. */
  foreign: Set<string>;
}

/** The module's own publishes in flight (owner, node, item): their notifications are not a client's change. */
export class OwnWrites {
  private readonly inFlight = new Map<string, number>();
  private key = (owner: Jid, node: string, id: string) => `${owner.bareString()}\u0000${node}\u0000${id}`;

  async run<T>(owner: Jid, node: string, id: string, fn: () => Promise<T>): Promise<T> {
    const k = this.key(owner, node, id);
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = this.inFlight.get(k)! - 1;
      if (left) this.inFlight.set(k, left);
      else this.inFlight.delete(k);
    }
  }

  has(owner: Jid, node: string, id: string): boolean {
    return this.inFlight.has(this.key(owner, node, id));
  }
}

export class BookmarkSync {
  constructor(private readonly pep: PepApi, private readonly own: OwnWrites, private readonly log: Logger) {}

  async native(owner: Jid): Promise<NativeState> {
    const bookmarks = new Map<string, Bookmark>();
    const foreign = new Set<string>();
    // Oldest first, so a rebuilt legacy list follows the order the rooms were bookmarked in.
    for (const item of (await this.pep.items(owner, NS_NATIVE)).reverse()) {
      const b = fromNative(item.id, item.payload);
      if (b && b.jid === item.id) bookmarks.set(b.jid, b);
      else foreign.add(item.id);
    }
    return { bookmarks, foreign };
  }

  /** The newest item of the storage:bookmarks node, or null. */
  async legacyNode(owner: Jid): Promise<Element | null> {
    const [item] = await this.pep.items(owner, NS_LEGACY, { max: 1 });
    return item && item.payload.name === 'storage' && item.payload.getNS() === NS_LEGACY ? item.payload : null;
  }

  /**
   * The XEP-0048 view of the XEP-0402 items: their conferences (in the legacy node's order where it lists
   * them) plus `others` (default: the legacy node's <url/> bookmarks and the like, which XEP-0402 dropped).
   */
  async legacyView(owner: Jid, opts: { state?: NativeState; others?: Element[] } = {}): Promise<LegacyList> {
    const { bookmarks } = opts.state ?? (await this.native(owner));
    const node = await this.legacyNode(owner);
    const legacy = fromLegacy(node ? [node] : []);
    const order = legacy.conferences.map((b) => b.jid).filter((jid) => bookmarks.has(jid));
    const rest = [...bookmarks.keys()].filter((jid) => !order.includes(jid));
    return { conferences: [...order, ...rest].map((jid) => bookmarks.get(jid)!), others: opts.others ?? legacy.others };
  }

  /**
   * Apply the changes a legacy list makes to the rooms it replaced (`before`): publish the rooms it adds or
   * changes, retract those it drops (only changed items notify, XEP-0402 "Publishing via the old
   * specification"). A room it leaves as it was keeps whatever the items say now (a later XEP-0402 change
   * stands). Then the storage:bookmarks node is rebuilt from the items, with the list's other entries.
   */
  async applyLegacy(owner: Jid, list: LegacyList, before?: NativeState): Promise<void> {
    const now = await this.native(owner);
    const was = before ?? now;
    const wanted = new Set(list.conferences.map((b) => b.jid));
    for (const b of list.conferences) {
      const key = bookmarkKey(b);
      const old = was.bookmarks.get(b.jid);
      const cur = now.bookmarks.get(b.jid);
      if ((old && bookmarkKey(old) === key) || (cur && bookmarkKey(cur) === key)) continue;
      await this.publish(owner, NS_NATIVE, b.jid, toNative(b), NATIVE_OPTIONS);
    }
    for (const jid of was.bookmarks.keys()) {
      if (wanted.has(jid) || !now.bookmarks.has(jid) || now.foreign.has(jid)) continue;
      await this.own.run(owner, NS_NATIVE, jid, () => this.pep.retract(owner, NS_NATIVE, jid));
    }
    await this.syncLegacyNode(owner, list.others);
  }

  /** Rebuild the storage:bookmarks node from the XEP-0402 items, unless it already says the same. */
  async syncLegacyNode(owner: Jid, others?: Element[]): Promise<void> {
    const node = await this.legacyNode(owner);
    const want = await this.legacyView(owner, others ? { others } : {});
    const have = fromLegacy(node ? [node] : []);
    if (listKey(have) === listKey(want)) return;
    // Nothing to say and no node yet: no node is created for an empty list.
    if (!node && want.conferences.length === 0 && want.others.length === 0) return;
    await this.publish(owner, NS_LEGACY, LEGACY_ITEM, toStorage(want), LEGACY_OPTIONS);
  }

  /**
   * Publish with the profile's options. A node the account configured otherwise (precondition-not-met)
   * keeps its configuration: the XEP-0402 node takes the item as it is (the account chose its settings for
   * its bookmarks); the legacy node is left as it is, since the list carries room passwords and that node
   * may be open to more than the owner (logged, the rest of the conversion stands).
   */
  private publish(owner: Jid, node: string, id: string, payload: Element, options: PublishOptions): Promise<void> {
    return this.own.run(owner, node, id, async () => {
      try {
        await this.pep.publish(owner, node, { id, payload }, options);
      } catch (err) {
        // XEP-0060 §7.1.5: <conflict/> with <precondition-not-met xmlns='...pubsub#errors'/>.
        if (!(err instanceof StanzaError && err.condition === 'conflict' && err.appElement?.name === 'precondition-not-met')) throw err;
        if (node === NS_LEGACY) {
          this.log.warn('bookmarks: the storage:bookmarks node is configured otherwise (not whitelist/persistent); not updated', { owner: owner.bareString() });
          return;
        }
        await this.pep.publish(owner, node, { id, payload });
      }
    });
  }
}
