// XEP-0402 PEP Native Bookmarks with the XEP-0048 views in step (XEP-0402 "Compatibility"): lists stored
// through XEP-0049 private XML or the storage:bookmarks PEP node become urn:xmpp:bookmarks:1 items, and
// those items are what both legacy views show. Needs the pep module (PEP_SERVICE); idle without it.
import { defineModule, PEP_SERVICE, privateSlotService, StanzaError, type Element, type Jid, type PepApi } from '../../src/sdk.js';
import { NS_LEGACY, NS_NATIVE, fromLegacy, toStorage, type LegacyList } from './convert.js';
import { BookmarkSync, OwnWrites } from './sync.js';

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
    const own = new OwnWrites();
    const syncWith = (api: PepApi) => new BookmarkSync(api, own, ctx.log);
    const job = (owner: Jid, node: string, fn: () => Promise<void>) => {
      // Never awaited by the notification: the publish that fired it may be running under the lock.
      void locked(owner, fn).catch((err: unknown) => ctx.log.warn('bookmarks: converting a PEP change failed', { owner: owner.bareString(), node, err }));
    };

    // A client's XEP-0402 change: the legacy node is rebuilt from the items (a rebuild still waiting covers it).
    const rebuilding = new Set<string>();
    ctx.hook('pep_item_published', async ({ owner, node, itemId, payload }) => {
      if ((node !== NS_NATIVE && node !== NS_LEGACY) || own.has(owner, node, itemId)) return;
      const api = pep();
      if (!api) return;
      if (node === NS_NATIVE) {
        const key = owner.bareString();
        if (rebuilding.has(key)) return;
        rebuilding.add(key);
        return job(owner, node, () => {
          rebuilding.delete(key);
          return syncWith(api).syncLegacyNode(owner);
        });
      }
      // A client replaced its XEP-0048 list over PEP (a retraction deletes no bookmarks in XEP-0048: ignored).
      if (!payload || payload.name !== 'storage' || payload.getNS() !== NS_LEGACY) return;
      // The rooms as they were when it did: its changes apply to those, and later XEP-0402 changes stand.
      const before = await syncWith(api).native(owner);
      const list = fromLegacy([payload]);
      job(owner, node, () => syncWith(api).applyLegacy(owner, list, before));
    });

    /** Take over a list private storage kept before this module ran: rooms it lacks join the XEP-0402 items. */
    const adopt = async (sync: BookmarkSync, owner: Jid, stored: Element[]): Promise<void> => {
      const state = await sync.native(owner);
      const view = await sync.legacyView(owner, { state });
      const old = fromLegacy(stored.filter((el) => el.name === 'storage'));
      const seen = new Set(view.others.map(String));
      const merged: LegacyList = {
        conferences: [...view.conferences, ...old.conferences.filter((b) => !state.bookmarks.has(b.jid))],
        others: [...view.others, ...old.others.filter((el) => !seen.has(String(el)))],
      };
      await sync.applyLegacy(owner, merged);
    };

    // XEP-0049 private XML of storage:bookmarks: answered from, and written to, PEP.
    ctx.provide(privateSlotService(NS_LEGACY), {
      async get(owner, stored) {
        const api = pep();
        if (!api) return null;
        return locked(owner, async () => {
          const sync = syncWith(api);
          if (stored?.length) await adopt(sync, owner, stored);
          return [toStorage(await sync.legacyView(owner))];
        });
      },
      async set(owner, elements) {
        const api = pep();
        if (!api) return false;
        if (elements.some((el) => el.name !== 'storage')) throw new StanzaError('bad-request', "bookmarks are stored as <storage xmlns='storage:bookmarks'/> (XEP-0048)");
        await locked(owner, () => syncWith(api).applyLegacy(owner, fromLegacy(elements)));
        return true;
      },
    });
  },
});
