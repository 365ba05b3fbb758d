// RFC 6121 §2 roster management: get, set and remove on the account, pushes to interested resources
// (§2.1.6), XEP-0237 / §2.6 roster versioning; provides the 'roster' service (api.ts) through which the
// presence module drives the subscription states of RFC 6121 §3.
import { randomBytes } from 'node:crypto';
import { defineModule, opt, xml, Jid, StanzaError, ROSTER_SERVICE, type Element, type Session } from '../../src/sdk.js';
import type { RosterApi, RosterChange, RosterItem } from './api.js';
import { RosterStore } from './store.js';
import { rosterCommands } from './commands.js';
import { rosterPortable } from './portable.js';
import { NS_ROSTER, NS_ROSTERVER, itemElement, parseRosterSet, queryElement, removedElement } from './xml.js';

const hasTo = (i: RosterItem) => i.subscription === 'to' || i.subscription === 'both';
const hasFrom = (i: RosterItem) => i.subscription === 'from' || i.subscription === 'both';

export default defineModule({
  name: 'roster',
  description: 'Contact lists (RFC 6121 §2) with roster versioning (XEP-0237)',
  xeps: ['RFC 6121', 'XEP-0237'],
  features: [NS_ROSTER],
  options: {
    /** Items a roster may hold; a set beyond it is refused with resource-constraint. */
    max_items: opt.number(1000, { min: 1, integer: true }),
    /** Longest item name, in characters (longer: not-acceptable, RFC 6121 §2.3.3). */
    max_name_length: opt.number(1023, { min: 1, integer: true }),
    /** Longest group name, in characters (longer: not-acceptable, RFC 6121 §2.3.3). */
    max_group_length: opt.number(1023, { min: 1, integer: true }),
    /** Offer roster versioning (RFC 6121 §2.6). */
    versioning: opt.boolean(true),
  },
  portable: rosterPortable,
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => RosterStore.removeOps(user),
  start(ctx) {
    const o = ctx.options;
    const store = new RosterStore(ctx, () => o.max_items);
    /** Resources that asked for the roster in this session (RFC 6121 §2.2 "interested resources"). */
    const interested = new WeakSet<Session>();
    // Started at runtime (load or reload) with clients already bound: which of them asked for the roster
    // is unknown, and a client missing pushes keeps a stale roster, so all of them count as interested.
    for (const s of ctx.hostSessions()) interested.add(s);
    let stopped = false;
    ctx.onStop(() => void (stopped = true));

    /** Route a stanza; local deliveries are awaited so their effects are in place when we go on. */
    const route = async (el: Element, from: Jid, to: Jid): Promise<void> => {
      el.attrs.from = from.toString();
      el.attrs.to = to.toString();
      const done = ctx.route(el, from, to);
      // A remote delivery may wait for a server-to-server connection: that is not worth holding up for.
      if (ctx.isLocal(to.domain)) await done;
    };

    /**
     * Push a change to the owner's interested resources (§2.1.6), only when what the client sees
     * changed. Pushes go out after the current IQ's result (setImmediate keeps them in order).
     */
    const push = (owner: Jid, change: RosterChange): void => {
      const { before, after } = change;
      const shown = (i: RosterItem | undefined) => (i && !i.hidden ? itemElement(i).toString() : undefined);
      const was = shown(before);
      const now = shown(after);
      if (was === now) return;
      const item = after && now !== undefined ? itemElement(after) : removedElement(before!.jid);
      const ver = o.versioning ? change.ver : undefined;
      setImmediate(() => {
        if (stopped) return;
        for (const s of ctx.sessionsOf(owner)) {
          if (!interested.has(s) && !(s.remote !== undefined && s.marks.has(NS_ROSTER))) continue;
          const iq = xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('hex')}` }, queryElement(ver, [item]));
          void route(iq, owner, s.jid);
        }
      });
    };

    const api: RosterApi = {
      get: (owner, contact) => store.get(owner.bare(), contact.bare()),
      items: (owner, opts) => store.list(owner.bare(), opts?.includeHidden ?? false),
      async isSubscribedTo(owner, contact) {
        const item = await store.get(owner.bare(), contact.bare());
        return !!item && hasFrom(item);
      },
      async update(owner, contact, fn) {
        const change = await store.update(owner.bare(), contact.bare(), fn);
        if (change.changed) push(owner.bare(), change);
        return change;
      },
    };
    ctx.provide(ROSTER_SERVICE, api);
    rosterCommands(ctx, api);

    /**
     * §2.5.2: removing an item also ends the subscriptions both ways: unsubscribe if the user had (or
     * asked for) the contact's presence, unsubscribed (with unavailable presence first) if the contact
     * had the user's, or to refuse a pending request.
     */
    const remove = async (owner: Jid, contact: Jid): Promise<void> => {
      const change = await store.update(owner, contact, (cur) => (cur && !cur.hidden ? null : undefined));
      if (!change.changed) throw new StanzaError('item-not-found', `${contact} is not in the roster`);
      const was = change.before!;
      if (hasTo(was) || was.ask) await route(xml('presence', { type: 'unsubscribe' }), owner, contact);
      if (hasFrom(was)) {
        for (const s of ctx.sessionsOf(owner)) if (s.presence) await route(xml('presence', { type: 'unavailable' }), s.jid, contact);
      }
      if (hasFrom(was) || was.pendingIn) await route(xml('presence', { type: 'unsubscribed' }), owner, contact);
      push(owner, change);
    };

    ctx.iq('account', NS_ROSTER, async (req) => {
      const owner = req.to.bare();
      // Only the account itself reads (§2.2) or changes (§2.3.3 forbidden) its roster.
      if (!req.from.bare().equals(owner)) throw new StanzaError(req.type === 'get' ? 'service-unavailable' : 'forbidden');
      if (req.type === 'get') {
        if (req.session) {
          interested.add(req.session);
          // In a cluster the other nodes push to it too: they see the session's mark.
          if (ctx.clusterNode !== null) await req.session.mark(NS_ROSTER, true);
        }
        const { ver, items } = await store.snapshot(owner);
        if (!o.versioning) return queryElement(undefined, items.map(itemElement));
        // §2.6.3: an unchanged roster is answered with an empty result; changes arrive as pushes.
        if (req.payload.attrs.ver !== undefined && req.payload.attrs.ver === ver) return null;
        return queryElement(ver, items.map(itemElement));
      }
      const set = parseRosterSet(req.payload, { maxNameLength: o.max_name_length, maxGroupLength: o.max_group_length });
      if (set.remove) {
        await remove(owner, set.contact);
        return null;
      }
      // §2.3/§2.4: name and groups are replaced; the subscription state is the presence module's.
      const change = await store.update(owner, set.contact, (cur) => ({
        ...(cur ?? { jid: set.contact.bareString(), groups: [], subscription: 'none', ask: false, approved: false, pendingIn: false }),
        name: set.name,
        groups: set.groups,
        hidden: false,
      }));
      if (change.changed) push(owner, change);
      return null;
    });

    if (o.versioning) {
      ctx.hook('c2s_stream_features', (features, { stage }) =>
        stage === 'post-auth' ? [...features, xml('ver', { xmlns: NS_ROSTERVER })] : undefined);
    }

    ctx.hook('session_closed', ({ session }) => void interested.delete(session));
    // A session handed over by another cluster node (XEP-0198 resumption here) stays interested.
    ctx.hook('session_resumed', ({ session }) => void (session.marks.has(NS_ROSTER) && interested.add(session)));
  },
});
