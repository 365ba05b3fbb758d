// XEP-0313 Message Archive Management (urn:xmpp:mam:2) for user archives: chat/normal messages with a
// body are archived for the local sender and the local recipient (§5), queried with forms and XEP-0059
// paging (§4); the recipient's copy carries its archive id as a XEP-0359 <stanza-id/>.
import { defineModule, opt, xml, type Jid, type Op } from '../../src/sdk.js';
import { IdClock, MAM_TABLE, userPrefix } from './archive.js';
import { NS_MAM, queryForm, runQuery } from './query.js';

const NS_SID = 'urn:xmpp:sid:0';
const ARCHIVED_TYPES = new Set(['chat', 'normal']);

export default defineModule({
  name: 'mam',
  description: 'Archives users\' one-to-one messages and answers archive queries (XEP-0313)',
  xeps: ['XEP-0313', 'XEP-0359', 'XEP-0059', 'XEP-0297'],
  accountFeatures: [NS_MAM, NS_SID], // §6: the account advertises it
  options: {
    /** Hard cap on the messages of one page (a larger or absent <max/> gets this many). */
    max_results: opt.number(250, { min: 1, integer: true }),
    /** Which messages are archived by default (§6.1 preferences are not implemented). */
    default_policy: opt.oneOf(['always', 'never'] as const, 'always'),
  },
  start(ctx) {
    const clock = new IdClock();
    const table = MAM_TABLE;

    /** A local account of this host (the bare JID), or null. */
    const localAccount = async (j: Jid): Promise<Jid | null> =>
      j.local && j.domain === ctx.host && (await ctx.core.accounts.exists(j.bare())) ? j.bare() : null;

    // Archived at the router, once per stanza (not per delivered resource): the sender's copy and, for a
    // local recipient, the recipient's copy, written before delivery so the stanza-id is queryable.
    ctx.hook('filter_packet', async (el, { from, to }) => {
      if (ctx.options.default_policy === 'never' || el.name !== 'message') return undefined;
      if (!ARCHIVED_TYPES.has(el.attrs.type ?? 'normal') || !el.getChild('body')) return undefined;
      const sender = await localAccount(from);
      const recipient = await localAccount(to);
      if (!sender && !recipient) return undefined;
      // XEP-0359 §3: a stanza-id claiming to be by the recipient's archive is not the client's to set.
      if (recipient) {
        for (const c of el.getChildren('stanza-id', NS_SID)) if (c.attrs.by === recipient.toString()) el.remove(c);
      }
      const original = el.toString();
      const ops: Op[] = [];
      const ids: string[] = [];
      const add = (owner: Jid, peer: Jid): string => {
        const { id, ms } = clock.next();
        // The row is an ArchivedMessage (archive.ts).
        ops.push({ type: 'put', table, key: userPrefix(owner) + id, value: { id, stamp: new Date(ms).toISOString(), with: peer.bareString(), peer: peer.toString(), xml: original } });
        ids.push(id);
        return id;
      };
      if (sender) add(sender, to);
      let sid: string | undefined;
      if (recipient && !(sender && sender.equals(recipient))) sid = add(recipient, from);
      else if (recipient) sid = ids[0]; // a note to self: one copy
      await ctx.store.transact(ops);
      if (recipient && sid) el.cnode(xml('stanza-id', { xmlns: NS_SID, by: recipient.toString(), id: sid }));
      return el;
    });

    ctx.iq('account', NS_MAM, (req) => (req.type === 'get' ? queryForm() : runQuery(ctx, req)));

    ctx.hook('remove_user_data', (ops, { jid }) => [...ops, { type: 'delRange', table, prefix: userPrefix(jid.bare()) }]);
  },
});

export type { ArchivedMessage } from './archive.js';
