// Push registrations' share of XEP-0227: each one as the client's own XEP-0357 <enable/> (jid, node and the
// publish-options form), so an import restores exactly what the client enabled, up to push.max_registrations.
import { elementFromJson, elementToJson, Jid, xml, type PortableSection } from '../../src/sdk.js';
import { TABLE, keyOf, userPrefix, type Registration } from './registrations.js';

const NS_PUSH = 'urn:xmpp:push:0';

export const pushPortable: PortableSection<{ max_registrations: number }> = {
  elements: [`{${NS_PUSH}}enable`],

  async export(data, user) {
    const rows = await data.table<Registration>(TABLE).range({ prefix: userPrefix(user) });
    const elements = rows.map((r) => xml('enable', { xmlns: NS_PUSH, jid: r.value.jid, node: r.value.node }, ...(r.value.options ? [elementFromJson(r.value.options)] : [])));
    return { elements, counts: { pushRegistrations: rows.length } };
  },

  async import(data, user, elements) {
    const warnings: string[] = [];
    const max = data.options.max_registrations;
    const regs = new Map<string, Registration>();
    for (const el of elements) {
      const jid = Jid.tryParse(el.attrs.jid);
      const node = el.attrs.node as string | undefined;
      if (!jid || !node) {
        warnings.push(`${user.bareString()}: a push registration without a valid jid and node; ignored`);
        continue;
      }
      const form = el.getChild('x', 'jabber:x:data');
      regs.set(keyOf(user, jid.toString(), node), { jid: jid.toString(), node, options: form ? elementToJson(form) : null, at: Date.now() });
    }
    const kept = [...regs].slice(0, max);
    const over = regs.size - kept.length;
    if (over > 0) warnings.push(`${user.bareString()}: ${regs.size} push registrations, over push.max_registrations (${max}); ${over} not imported`);
    if (kept.length) await data.store.transact(kept.map(([key, value]) => ({ type: 'put' as const, table: TABLE, key, value: value as never })));
    return { counts: { pushRegistrations: kept.length }, overLimit: { pushRegistrations: over }, warnings };
  },
};
