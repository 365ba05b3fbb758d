// The roster's admin commands (CLI `xmppd roster ...`, REST, ad-hoc): read and change an account's roster
// through the module's own service, so the owner's clients get RFC 6121 §2.1.6 pushes and the version moves.
import { CommandError, Jid, JidError, type ModuleContext, type RosterApi, type RosterItem } from '../../src/sdk.js';

const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);

function contactOf(s: unknown): Jid {
  try {
    return Jid.parse(String(s ?? '')).bare();
  } catch (err) {
    throw new CommandError(`contact "${s ?? ''}" is not a valid JID${err instanceof JidError ? `: ${err.message}` : ''}`);
  }
}

/** Groups as a list: an array, or a comma-separated string (CLI, ad-hoc forms). */
function groupsOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return [...new Set(list.map((g) => g.trim()).filter(Boolean))];
}

const shown = (i: RosterItem) => ({
  jid: i.jid, ...(i.name && { name: i.name }), groups: i.groups, subscription: i.subscription,
  ...(i.ask && { ask: 'subscribe' }), ...(i.approved && { approved: true }), ...(i.pendingIn && { pending_in: true }),
});

export function rosterCommands(ctx: ModuleContext<any>, api: RosterApi): void {
  ctx.command({
    name: 'roster.get', description: "List an account's roster", args: ['jid'],
    async run(_a, { jid }) {
      const items = await api.items(jid!, { includeHidden: true });
      return { jid: jid!.toString(), items: items.filter((i) => !i.hidden).map(shown), pending: items.filter((i) => i.hidden && i.pendingIn).map((i) => i.jid) };
    },
  });

  ctx.command({
    name: 'roster.add', description: 'Add or change a roster item (pushed to the owner\'s clients)', args: ['jid', 'contact', 'name?', 'groups?', 'subscription?'],
    async run(a, { jid }) {
      const owner = jid!;
      const contact = contactOf(a.contact);
      if (contact.equals(owner)) throw new CommandError('a roster cannot hold its own account');
      const sub = a.subscription === undefined || a.subscription === '' ? undefined : String(a.subscription);
      if (sub !== undefined && !SUBSCRIPTIONS.has(sub)) throw new CommandError(`subscription must be one of ${[...SUBSCRIPTIONS].join(', ')}`);
      const groups = groupsOf(a.groups);
      const name = a.name === undefined || a.name === '' ? undefined : String(a.name);
      let after: RosterItem | undefined;
      let existed = false;
      await api.update(owner, contact, (cur) => {
        existed = !!cur && !cur.hidden;
        const base: RosterItem = cur ?? { jid: contact.bareString(), groups: [], subscription: 'none', ask: false, approved: false, pendingIn: false };
        after = { ...base, hidden: false, ...(name !== undefined && { name }), ...(groups && { groups }), ...(sub && { subscription: sub as RosterItem['subscription'] }) };
        if (!after.hidden) delete after.hidden;
        return after;
      }).catch((err) => {
        throw new CommandError(`cannot add ${contact.toString()}: ${(err as Error).message}`, 'conflict');
      });
      return { [existed ? 'updated' : 'added']: contact.toString(), jid: owner.toString(), item: after ? shown(after) : undefined };
    },
  });

  ctx.command({
    name: 'roster.remove', description: 'Remove a roster item (pushed to the owner\'s clients)', args: ['jid', 'contact'],
    async run(a, { jid }) {
      const contact = contactOf(a.contact);
      const { changed } = await api.update(jid!, contact, (cur) => (cur && !cur.hidden ? null : undefined));
      if (!changed) throw new CommandError(`${contact.toString()} is not in the roster of ${jid!.toString()}`, 'not-found');
      return { removed: contact.toString(), jid: jid!.toString() };
    },
  });
}
