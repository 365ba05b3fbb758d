// Private XML storage's share of XEP-0227: a jabber:iq:private <query/> holding every stored element, each
// namespace's slot replaced on import (XEP-0049: one slot per namespace) up to the host's private.max_size.
import { elementFromJson, elementToJson, standalone, xml, type Element, type ElementJson, type Jid, type PortableSection } from '../../src/sdk.js';

const NS_PRIVATE = 'jabber:iq:private';
const TABLE = 'private_storage'; // as index.ts: key `${domain}/${local}\0${namespace}`
interface PrivateRow { els: ElementJson[] }

const prefixOf = (bare: Jid) => `${bare.domain}/${bare.local}\u0000`;

export const privatePortable: PortableSection<{ max_size: number }> = {
  elements: [`{${NS_PRIVATE}}query`],

  async export(data, user) {
    const rows = await data.table<PrivateRow>(TABLE).range({ prefix: prefixOf(user) });
    const els = rows.flatMap((r) => r.value.els.map((j) => elementFromJson(j)));
    return { elements: els.length ? [xml('query', { xmlns: NS_PRIVATE }, ...els)] : [], counts: { privateElements: els.length } };
  },

  async import(data, user, elements) {
    const jid = user.bareString();
    const warnings: string[] = [];
    const byNs = new Map<string, Element[]>();
    for (const q of elements) {
      for (const el of q.getChildElements()) {
        const ns = el.getNS();
        if (!ns || ns === NS_PRIVATE) {
          warnings.push(`${jid}: private data <${el.name}> has no namespace of its own; ignored`);
          continue;
        }
        byNs.set(ns, [...(byNs.get(ns) ?? []), standalone(el)]);
      }
    }
    const max = data.options.max_size;
    let over = 0;
    for (const [ns, els] of byNs) {
      const size = els.reduce((n, el) => n + Buffer.byteLength(el.toString(), 'utf8'), 0);
      if (size > max) {
        warnings.push(`${jid}: private data for "${ns}" is ${size} bytes, over private.max_size (${max}); not imported`);
        over++;
        byNs.delete(ns);
      }
    }
    if (byNs.size) {
      await data.store.transact([...byNs].map(([ns, els]) => ({
        type: 'put' as const, table: TABLE, key: prefixOf(user) + ns, value: { els: els.map(elementToJson) } as never,
      })));
    }
    return { counts: { privateNamespaces: byNs.size }, overLimit: { privateNamespaces: over }, warnings };
  },
};
