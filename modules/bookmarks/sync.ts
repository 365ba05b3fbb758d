// Keeps an account's XEP-0402 node (urn:xmpp:bookmarks:1) and its XEP-0048 views (the storage:bookmarks PEP
// node, and the private XML answer built from the XEP-0402 items) in step. Every step compares before it
// writes, so the notifications of its own publishes find nothing left to do: conversions never loop.
import { StanzaError, type Element, type Jid, type PepApi, type PublishOptions } from '../../src/sdk.js';
import { NS_LEGACY, NS_NATIVE, bookmarkKey, fromLegacy, fromNative, listKey, toNative, toStorage, type Bookmark, type LegacyList } from './convert.js';

/** XEP-0402 §3 publish-options: one item per room, kept, never pushed on presence, owner only. */
const NATIVE_OPTIONS: PublishOptions = {
  'pubsub#persist_items': 'true',
  'pubsub#max_items': 'max',
  'pubsub#send_last_published_item': 'never',
  'pubsub#access_model': 'whitelist',
};
/** XEP-0048 §3.2 via XEP-0223: private, persistent storage; the whole list in item 'current'. */
const LEGACY_OPTIONS: PublishOptions = { 'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' };
const LEGACY_ITEM = 'current';

export interface NativeState {
  /** Parsed bookmarks by room JID. */
  bookmarks: Map<string, Bookmark>;
  /** Item ids whose payload is not a bookmark: never touched. */
  foreign: Set<string>;
}

export class BookmarkSync {
  constructor(private readonly pep: PepApi) {}

  async native(owner: Jid): Promise<NativeState> {
    const bookmarks = new Map<string, Bookmark>();
    const foreign = new Set<string>();
    // Oldest first, so the legacy list follows the order the rooms were bookmarked in.
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
   * them) plus the legacy node's other entries (<url/> bookmarks, which XEP-0402 dropped).
   */
  async legacyView(owner: Jid, state?: NativeState, node?: Element | null): Promise<LegacyList> {
    const { bookmarks } = state ?? (await this.native(owner));
    const current = node === undefined ? await this.legacyNode(owner) : node;
    const legacy = fromLegacy(current ? [current] : []);
    const order = legacy.conferences.map((b) => b.jid).filter((jid) => bookmarks.has(jid));
    const rest = [...bookmarks.keys()].filter((jid) => !order.includes(jid));
    return { conferences: [...order, ...rest].map((jid) => bookmarks.get(jid)!), others: legacy.others };
  }

  /**
   * Make the XEP-0402 items say what `list` says: publish new and changed rooms, retract the missing ones
   * (only changed items notify, XEP-0402 "Publishing via the old specification"). With `publishLegacy`,
   * the storage:bookmarks node gets the list too (a private XML set: legacy PEP clients see it).
   */
  async applyLegacy(owner: Jid, list: LegacyList, publishLegacy: boolean): Promise<void> {
    const { bookmarks, foreign } = await this.native(owner);
    const wanted = new Set(list.conferences.map((b) => b.jid));
    for (const b of list.conferences) {
      const had = bookmarks.get(b.jid);
      if (had && bookmarkKey(had) === bookmarkKey(b)) continue;
      await this.publish(owner, NS_NATIVE, b.jid, toNative(b), NATIVE_OPTIONS);
    }
    for (const jid of bookmarks.keys()) if (!wanted.has(jid) && !foreign.has(jid)) await this.pep.retract(owner, NS_NATIVE, jid);
    if (publishLegacy) await this.syncLegacyNode(owner, list);
  }

  /** Publish `list` (default: the XEP-0402 view) to the storage:bookmarks node unless it already says the same. */
  async syncLegacyNode(owner: Jid, list?: LegacyList): Promise<void> {
    const node = await this.legacyNode(owner);
    const want = list ?? (await this.legacyView(owner, undefined, node));
    const have = fromLegacy(node ? [node] : []);
    if (listKey(have) === listKey(want)) return;
    await this.publish(owner, NS_LEGACY, LEGACY_ITEM, toStorage(want), LEGACY_OPTIONS);
  }

  /**
   * Publish with the profile's options; a node the account configured otherwise (precondition-not-met)
   * keeps its configuration and takes the item as it is.
   */
  private async publish(owner: Jid, node: string, id: string, payload: Element, options: PublishOptions): Promise<void> {
    try {
      await this.pep.publish(owner, node, { id, payload }, options);
    } catch (err) {
      // XEP-0060 §7.1.5: <conflict/> with <precondition-not-met xmlns='...pubsub#errors'/>.
      if (!(err instanceof StanzaError && err.condition === 'conflict' && err.appElement?.name === 'precondition-not-met')) throw err;
      await this.pep.publish(owner, node, { id, payload });
    }
  }
}
