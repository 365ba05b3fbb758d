// XEP-0402 PEP Native Bookmarks with the XEP-0048 views in step (XEP-0402 "Compatibility"): lists stored
// through XEP-0049 private XML or the storage:bookmarks PEP node become urn:xmpp:bookmarks:1 items, and
// those items are what both legacy views show. Needs the pep module (PEP_SERVICE); idle without it.
import { defineModule, PEP_SERVICE, privateSlotService, StanzaError, type Element, type Jid } from '../../src/sdk.js';
import { NS_LEGACY, NS_NATIVE, fromLegacy, toStorage, type LegacyList } from './convert.js';
import { BookmarkSync } from './sync.js';

export default defineModule({
  name: 'bookmarks',
  description: 'PEP native bookmarks (XEP-0402) kept in step with XEP-0048 private XML and PEP bookmarks',
  xeps: ['XEP-0402', 'XEP-0048'],
  // Start after both: the features below depend on PEP being there, and private storage consults this module.
  optional: ['pep', 'private'],
  start(ctx) {
    const pep = () => ctx.service(PEP_SERVICE);
    // XEP-0402 "Compatibility": #compat for XEP-0049 private XML, #compat-pep for the storage:bookmarks node.
    // Advertised only while PEP runs at start: without it nothing is converted (reload bookmarks after loading pep).
    if (pep()) {
      ctx.feature(`${NS_NATIVE}#compat`, 'account');
      ctx.feature(`${NS_NATIVE}#compat-pep`, 'account');
    }
    // One account's conversions run one at a time (private XML requests and the jobs below share the lock).
    const locked = <T>(owner: Jid, fn: () => Promise<T>) => ctx.lock(owner.bareString(), fn);

    // Jobs started by PEP notifications: never awaited by the notification (the publish that fired it may
    // be ours, running under the lock), and a job already waiting covers every change before it starts.
    const waiting = new Set<string>();
    const enqueue = (from: 'native' | 'legacy', owner: Jid) => {
      const key = `${from}\u0000${owner.bareString()}`;
      if (waiting.has(key)) return;
      waiting.add(key);
      void locked(owner, async () => {
        waiting.delete(key);
        const api = pep();
        if (!api) return;
        const sync = new BookmarkSync(api);
        if (from === 'native') return sync.syncLegacyNode(owner);
        // The node's current list, not the notified one: a later publish wins, whatever order the jobs run in.
        const node = await sync.legacyNode(owner);
        if (node) await sync.applyLegacy(owner, fromLegacy([node]), false);
      }).catch((err: unknown) => ctx.log.warn('bookmarks: converting a PEP change failed', { owner: owner.bareString(), node: from === 'native' ? NS_NATIVE : NS_LEGACY, err }));
    };
    ctx.hook('pep_item_published', ({ owner, node, payload }) => {
      if (node === NS_NATIVE) enqueue('native', owner);
      // Retracting the whole legacy list is not a way to delete bookmarks in XEP-0048: left alone.
      else if (node === NS_LEGACY && payload) enqueue('legacy', owner);
    });

    /** Take over a list private storage kept before this module ran: rooms it lacks join the XEP-0402 items. */
    const adopt = async (sync: BookmarkSync, owner: Jid, stored: Element[]): Promise<void> => {
      const state = await sync.native(owner);
      const view = await sync.legacyView(owner, state);
      const old = fromLegacy(stored.filter((el) => el.name === 'storage'));
      const seen = new Set(view.others.map(String));
      const merged: LegacyList = {
        conferences: [...view.conferences, ...old.conferences.filter((b) => !state.bookmarks.has(b.jid))],
        others: [...view.others, ...old.others.filter((el) => !seen.has(String(el)))],
      };
      await sync.applyLegacy(owner, merged, true);
    };

    // XEP-0049 private XML of storage:bookmarks: answered from, and written to, PEP.
    ctx.provide(privateSlotService(NS_LEGACY), {
      async get(owner, stored) {
        const api = pep();
        if (!api) return null;
        return locked(owner, async () => {
          const sync = new BookmarkSync(api);
          if (stored?.length) await adopt(sync, owner, stored);
          return [toStorage(await sync.legacyView(owner))];
        });
      },
      async set(owner, elements) {
        const api = pep();
        if (!api) return false;
        if (elements.some((el) => el.name !== 'storage')) throw new StanzaError('bad-request', "bookmarks are stored as <storage xmlns='storage:bookmarks'/> (XEP-0048)");
        await locked(owner, () => new BookmarkSync(api).applyLegacy(owner, fromLegacy(elements), true));
        return true;
      },
    });
  },
});
