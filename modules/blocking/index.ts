// XEP-0191 Blocking Command: the block list (§3.2-§3.5) stored per account, pushes to interested
// resources, presence on block/unblock, and enforcement both ways (§3.3) with §6 JID matching.
import { defineModule, opt, type Session } from '../../src/sdk.js';
import { BLOCKING_SERVICE } from './api.js';
import { Enforcer } from './enforce.js';
import { NS_BLOCKING, blockingIq } from './iq.js';
import { isBlocked } from './match.js';
import { PresenceEffects } from './presence.js';
import { BlockLists, TABLE, userPrefix } from './store.js';

export { NS_BLOCKING } from './iq.js';
export { NS_BLOCKING_ERRORS } from './enforce.js';

export default defineModule({
  name: 'blocking',
  description: 'XEP-0191 Blocking Command: per-account block lists enforced on every routed stanza',
  xeps: ['XEP-0191'],
  optional: ['roster'],
  features: [NS_BLOCKING],
  options: {
    /** §3.3: messages from a blocked JID SHOULD get service-unavailable; false drops them silently. */
    bounce_messages: opt.boolean(true),
    /** Most JIDs one account may block (a larger <block/> gets policy-violation). */
    max_items: opt.number(1000, { min: 1, integer: true }),
    /** Block lists of accounts without a session kept in memory (accounts with one always are). */
    cache_size: opt.number(10000, { min: 0, integer: true }),
  },
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [{ type: 'delRange', table: TABLE, prefix: userPrefix(user) }],
  start(ctx) {
    const lists = new BlockLists(ctx, ctx.options.cache_size);
    const enforcer = new Enforcer(ctx, lists, ctx.options.bounce_messages);
    const presence = new PresenceEffects(ctx, (el, from, to) => enforcer.send(el, from, to));
    const interested = new WeakSet<Session>();

    ctx.iq('account', NS_BLOCKING, blockingIq({ ctx, lists, enforcer, presence, interested, maxItems: ctx.options.max_items }));
    // Early, so blocked stanzas cost nothing further and other filters see this module's replies unchanged.
    ctx.hook('filter_packet', enforcer.filter, 90);
    ctx.hook('c2s_presence_out', enforcer.presenceOut, 90);
    ctx.hook('session_opened', ({ session }) => {
      lists.pin(session.jid);
      // Load now so the session's first stanzas find the list in memory.
      void Promise.resolve(lists.get(session.jid)).catch((err: unknown) => ctx.log.warn('blocking: could not load a block list', { err }));
    });
    ctx.hook('session_closed', ({ session }) => {
      interested.delete(session);
      lists.unpin(session.jid);
    });

    ctx.provide(BLOCKING_SERVICE, {
      isBlocked: async (owner, peer) =>
        !owner.bare().equals(peer.bare()) && !(peer.local === '' && peer.domain === ctx.host) && isBlocked(await lists.get(owner), peer),
      list: async (owner) => [...(await lists.get(owner))].sort(),
    });
  },
});
