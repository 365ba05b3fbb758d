// XEP-0049 Private XML Storage (jabber:iq:private): an account stores XML fragments on its server, one
// slot per namespace, readable and writable only by the account itself (XEP-0049 §2.3, §4). A module may
// keep one namespace itself through privateSlotService(ns) (bookmarks: storage:bookmarks lives in PEP).
import { defineModule, opt, xml, StanzaError, type Element, type IqRequest, type Jid, type Op, elementFromJson, elementToJson, type ElementJson, privateSlotService } from '../../src/sdk.js';

import { privatePortable } from './portable.js';

const NS_PRIVATE = 'jabber:iq:private';
const TABLE = 'private_storage';
/** One row per (account, namespace): the elements stored in that namespace, in order. */
interface PrivateRow { els: ElementJson[] }

/** One account's rows are one prefix range (\u0000 cannot occur in a JID or ends the localpart). */
const prefixOf = (bare: Jid) => `${bare.domain}/${bare.local}\u0000`;

/**
 * XEP-0049 §2.3: namespaces beginning with 'jabber:' or 'http://jabber.org/', and 'vcard-temp', are
 * reserved; refusing them (not-acceptable) is optional there and done here, so private storage cannot
 * shadow or imitate protocol data (jabber:iq:private itself included).
 */
const reserved = (ns: string) => ns.startsWith('jabber:') || ns.startsWith('http://jabber.org/') || ns === 'vcard-temp';

/** The namespace a child element is qualified by, declared on it or inherited (then jabber:iq:private). */
function namespaceOf(el: Element): string {
  const ns = el.getNS();
  if (!ns || reserved(ns)) throw new StanzaError('not-acceptable', `${ns ? `"${ns}" is a reserved namespace` : 'the element has no namespace'}; store data in a namespace of its own`);
  return ns;
}

/** The element detached from the query, with its namespace declared on itself. */
function detached(el: Element, ns: string): ElementJson {
  const j = elementToJson(el);
  const colon = el.name.indexOf(':');
  if (colon < 0) j.a.xmlns = ns;
  else j.a[`xmlns:${el.name.slice(0, colon)}`] = ns;
  return j;
}

export default defineModule({
  name: 'private',
  description: 'Private XML storage (jabber:iq:private)',
  xeps: ['XEP-0049'],
  // Not mandated by XEP-0049, but clients look for it before storing bookmarks (XEP-0048) there.
  features: [NS_PRIVATE],
  accountFeatures: [NS_PRIVATE],
  options: {
    /** Largest fragment accepted per namespace, in bytes of serialized XML. */
    max_size: opt.number(65_536, { min: 256, integer: true }),
  },
  portable: privatePortable,
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [{ type: 'delRange', table: TABLE, prefix: prefixOf(user) }],
  start(ctx) {
    const table = ctx.table<PrivateRow>(TABLE);

    ctx.iq('account', NS_PRIVATE, async (req: IqRequest) => {
      if (req.payload.name !== 'query') throw new StanzaError('bad-request', 'the payload must be <query xmlns="jabber:iq:private"/>');
      const owner = req.to.bare();
      // XEP-0049 §2.3: another user's data is forbidden (preferred over service-unavailable).
      if (!req.from.bare().equals(owner)) throw new StanzaError('forbidden', 'private data belongs to its account only');
      const children = req.payload.getChildElements();
      // XEP-0049 §2.3: at least one child with a proper namespace, else the server MUST answer not-acceptable.
      if (children.length === 0) throw new StanzaError('not-acceptable', 'the query needs a child element in the namespace to get or set');
      const byNs = new Map<string, Element[]>();
      for (const el of children) {
        const ns = namespaceOf(el);
        byNs.set(ns, [...(byNs.get(ns) ?? []), el]);
      }

      if (req.type === 'get') {
        // A client MUST NOT query more than one namespace in a single get (XEP-0049 §2.3).
        if (byNs.size !== 1) throw new StanzaError('bad-request', 'query one namespace per request');
        const [ns, requested] = [...byNs][0]!;
        const key = prefixOf(owner) + ns;
        const row = await table.get(key);
        let els = row ? row.value.els.map((j) => elementFromJson(j)) : null;
        // A module keeping this namespace answers instead; it takes over what the table still held.
        const slot = ctx.service(privateSlotService(ns));
        const kept = slot ? await slot.get(owner, els) : null;
        if (kept) {
          if (row) await ctx.store.transact([{ type: 'del', table: TABLE, key }]);
          els = kept.length ? kept : null;
        }
        const q = xml('query', { xmlns: NS_PRIVATE });
        // Nothing stored: the empty requested element comes back (XEP-0049 §2.3 example 2 flow).
        if (!els) for (const el of requested) q.cnode(xml(el.name.slice(el.name.indexOf(':') + 1), { xmlns: ns }));
        else for (const el of els) q.cnode(el);
        return q;
      }

      // A set MAY carry several elements of one namespace (XEP-0049 §2.3): they replace that namespace's
      // slot together. Several namespaces are stored side by side, all in one transaction.
      for (const [ns, els] of byNs) {
        const size = els.reduce((n, el) => n + Buffer.byteLength(el.toString(), 'utf8'), 0);
        // XEP-0049 sets no limit; a size cap is local service policy (RFC 6120 §8.3.3.12).
        if (size > ctx.options.max_size) {
          throw new StanzaError('policy-violation', `the data for "${ns}" is ${size} bytes; this server accepts up to ${ctx.options.max_size}`);
        }
      }
      const ops: Op[] = [];
      for (const [ns, els] of byNs) {
        const key = prefixOf(owner) + ns;
        // A namespace a module keeps itself goes to it first: its refusal refuses the whole set.
        const slot = ctx.service(privateSlotService(ns));
        if (slot && (await slot.set(owner, els.map((el) => elementFromJson(detached(el, ns)))))) ops.push({ type: 'del', table: TABLE, key });
        else ops.push({ type: 'put', table: TABLE, key, value: { els: els.map((el) => detached(el, ns)) } as never });
      }
      await ctx.store.transact(ops);
      return null;
    });
  },
});
