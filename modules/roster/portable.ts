// The roster's share of XEP-0227 (§3 of the XEP: a jabber:iq:roster <query/> per user): items per RFC 6121
// §2.1.2 (approved, ask), and inbound requests still pending as <presence type='subscribe'/> children of
// <user>, as Prosody writes them. Import goes through the roster service when the module runs (pushes, the
// version moves) and through its tables when the server is stopped; roster.max_items of the host applies.
import { Jid, elementFromJson, elementToJson, xml, type DataContext, type PortableSection, type RosterApi, type RosterItem, type RosterMutator } from '../../src/sdk.js';
import { RosterStore } from './store.js';
import { NS_ROSTER } from './xml.js';

const NS_CLIENT = 'jabber:client';
const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);

type Options = { max_items: number };

/** The running instance's service on the data's host, else the tables themselves. */
function access(data: DataContext<Options>): { list(owner: Jid): Promise<RosterItem[]>; update(owner: Jid, contact: Jid, fn: RosterMutator): Promise<unknown> } {
  const api = data.service<RosterApi>('roster');
  if (api) return { list: (o) => api.items(o, { includeHidden: true }), update: (o, c, fn) => api.update(o, c, fn) };
  const store = new RosterStore(data, () => data.options.max_items);
  return { list: (o) => store.list(o, true), update: (o, c, fn) => data.lock(o.bareString(), () => store.update(o, c, fn)) };
}

export const rosterPortable: PortableSection<Options> = {
  elements: [`{${NS_ROSTER}}query`, `{${NS_CLIENT}}presence`, '{}presence'],

  async export(data, owner) {
    const items = await access(data).list(owner);
    const visible = items.filter((i) => !i.hidden);
    const elements = [];
    if (visible.length) {
      const q = xml('query', { xmlns: NS_ROSTER });
      for (const i of visible) {
        const attrs: Record<string, string> = { jid: i.jid, subscription: i.subscription };
        if (i.name) attrs.name = i.name;
        if (i.ask) attrs.ask = 'subscribe';
        if (i.approved) attrs.approved = 'true';
        q.cnode(xml('item', attrs, ...i.groups.map((g) => xml('group', {}, g))));
      }
      elements.push(q);
    }
    for (const i of items.filter((x) => x.pendingIn)) {
      const p = i.pendingStanza ? elementFromJson(i.pendingStanza) : xml('presence', { type: 'subscribe' });
      p.attrs.xmlns = NS_CLIENT;
      p.attrs.from ??= i.jid;
      p.attrs.to ??= owner.bareString();
      p.attrs.type = 'subscribe';
      elements.push(p);
    }
    return { elements, counts: { rosterItems: visible.length } };
  },

  /** Items from the file replace ours for the same contact; contacts the file does not name stay. */
  async import(data, owner, elements) {
    const warnings: string[] = [];
    const want = new Map<string, RosterItem>();
    for (const q of elements.filter((e) => e.name === 'query')) {
      for (const it of q.getChildren('item')) {
        const contact = Jid.tryParse(it.attrs.jid)?.bare();
        if (!contact || contact.equals(owner)) {
          warnings.push(`${owner.bareString()}: roster item ${it.attrs.jid ?? '(no jid)'} ${contact ? 'is the account itself' : 'is not a valid JID'}; ignored`);
          continue;
        }
        const sub = String(it.attrs.subscription ?? 'none');
        if (sub === 'remove') continue;
        const item: RosterItem = {
          jid: contact.bareString(),
          subscription: (SUBSCRIPTIONS.has(sub) ? sub : 'none') as RosterItem['subscription'],
          ask: it.attrs.ask === 'subscribe',
          approved: it.attrs.approved === 'true' || it.attrs.approved === '1',
          pendingIn: false,
          groups: [...new Set(it.getChildren('group').map((g) => g.getText().trim()).filter(Boolean))],
        };
        if (it.attrs.name) item.name = String(it.attrs.name);
        want.set(item.jid, item);
      }
    }
    // Pending inbound requests (Prosody's convention): kept on the item, or as the hidden record of a
    // stranger's request (RFC 6121 Appendix A.1 "None + Pending In").
    const pending = new Map<string, RosterItem['pendingStanza']>();
    for (const p of elements.filter((e) => e.name === 'presence')) {
      if (p.attrs.type !== 'subscribe') continue;
      const from = Jid.tryParse(p.attrs.from)?.bare();
      if (!from || from.equals(owner)) continue;
      if (p.attrs.xmlns === NS_CLIENT) delete p.attrs.xmlns;
      p.attrs.to ??= owner.bareString();
      pending.set(from.bareString(), elementToJson(p));
    }
    if (!want.size && !pending.size) return { counts: { rosterItems: 0 }, warnings };
    const roster = access(data);
    // roster.max_items (this host's) bounds the items the user sees, and (separately) the hidden records of
    // strangers' requests, as the module does: contacts already there are updated, new ones up to the limit.
    const max = data.options.max_items;
    const current = await roster.list(owner);
    const have = new Set(current.map((i) => i.jid));
    let visible = current.filter((i) => !i.hidden).length;
    let hidden = current.length - visible;
    let over = 0;
    let imported = 0;
    for (const contact of new Set([...want.keys(), ...pending.keys()])) {
      const fromFile = want.get(contact);
      const stanza = pending.get(contact);
      if (!have.has(contact)) {
        if ((fromFile ? visible : hidden) >= max) {
          over++;
          continue;
        }
        if (fromFile) visible++;
        else hidden++;
      }
      const mutate = (cur: RosterItem | undefined): RosterItem => {
        const base: RosterItem = fromFile ? { ...fromFile } : cur ?? { jid: contact, subscription: 'none', ask: false, approved: false, pendingIn: false, groups: [], hidden: true };
        // A request the file does not mention is left as it is here.
        if (stanza) return { ...base, pendingIn: true, pendingStanza: stanza };
        if (cur?.pendingIn) return { ...base, pendingIn: true, ...(cur.pendingStanza && { pendingStanza: cur.pendingStanza }) };
        return base;
      };
      try {
        await roster.update(owner, Jid.parse(contact), mutate);
        if (fromFile) imported++;
      } catch (err) {
        warnings.push(`${owner.bareString()}: roster item ${contact} not imported: ${(err as Error).message}`);
      }
    }
    if (over) warnings.push(`${owner.bareString()}: ${over} roster items over roster.max_items (${max}); not imported`);
    return { counts: { rosterItems: imported }, overLimit: { rosterItems: over }, warnings };
  },
};
