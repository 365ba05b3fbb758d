// XEP-0012 Last Activity (jabber:iq:last): the server's uptime (§5), and for an account the seconds since
// its last available session ended, with that unavailable presence's status (§3), shown only to the
// account itself and to contacts subscribed to its presence (§3, §4, §8).
import { performance } from 'node:perf_hooks';
import { defineModule, xml, errorReply, DROP, StanzaError, ROSTER_SERVICE, type IqRequest, type Jid } from '../../src/sdk.js';

const NS_LAST = 'jabber:iq:last';
const TABLE = 'last_activity';
/** When the account's last available session ended (ms since the epoch) and its status text. */
interface LastRow { at: number; status: string }

const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;

export default defineModule({
  name: 'last',
  description: 'Last activity of accounts and server uptime (jabber:iq:last)',
  xeps: ['XEP-0012'],
  optional: ['roster'],
  features: [NS_LAST], // XEP-0012 §6
  accountFeatures: [NS_LAST],
  options: {},
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [{ type: 'del', table: TABLE, key: keyOf(user) }],
  start(ctx) {
    const table = ctx.table<LastRow>(TABLE);

    /**
     * Who may learn an account's availability (§8: that would be a presence leak otherwise): the account
     * itself, and whoever the account's roster says is subscribed to its presence (RFC 6121 §2: 'from'
     * or 'both'). Without the roster module nobody else is.
     */
    const mayView = async (owner: Jid, requester: Jid): Promise<boolean> => {
      if (requester.bare().equals(owner)) return true;
      const roster = ctx.service(ROSTER_SERVICE);
      return roster ? roster.isSubscribedTo(owner, requester.bare()) : false;
    };

    // §5: to the server's domain, how long it has been running.
    ctx.iq('host', NS_LAST, (req) => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'last activity is read-only');
      const seconds = Math.max(0, Math.floor((Date.now() - ctx.serverStartedAt) / 1000));
      return xml('query', { xmlns: NS_LAST, seconds: String(seconds) });
    });

    // §3: to an account's bare JID, answered by the server on the account's behalf.
    ctx.iq('account', NS_LAST, async (req: IqRequest) => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'last activity is read-only');
      const owner = req.to.bare();
      if (!(await mayView(owner, req.from))) throw new StanzaError('forbidden');
      // "At least one connected or available resource" means 0. Only available ones count here: a
      // session that never sent presence is invisible to contacts, and must stay so.
      if (ctx.sessionsOf(owner).some((s) => s.presence !== null)) return xml('query', { xmlns: NS_LAST, seconds: '0' });
      const row = await table.get(keyOf(owner));
      // XEP-0012 does not say what to answer for an account never seen offline; the authorized
      // requester learns nothing new from item-not-found (RFC 6120 §8.3.3.7).
      if (!row) throw new StanzaError('item-not-found', 'no last activity recorded');
      const seconds = Math.max(0, Math.floor((Date.now() - row.value.at) / 1000));
      const q = xml('query', { xmlns: NS_LAST, seconds: String(seconds) });
      if (row.value.status) q.t(row.value.status);
      return q;
    });

    // §4: a query to a full JID goes to the client, but only for authorized requesters; others get
    // forbidden from the server, so that the answer (or service-unavailable) reveals nothing.
    // This runs on every routed stanza: everything but a last-activity IQ to a full JID of this host
    // leaves synchronously.
    // filter_packet also runs at the sender's host for a stanza between two local hosts: to must be ours.
    ctx.hook('filter_packet', (el, { from, to }) => {
      if (el.name !== 'iq' || !to.resource || !to.local || to.domain !== ctx.host) return;
      if ((el.attrs.type !== 'get' && el.attrs.type !== 'set') || !el.getChild('query', NS_LAST)) return;
      if (!from.local && from.domain === ctx.host) return; // the server itself asking
      return mayView(to.bare(), from).then((ok) => {
        if (ok) return;
        const reply = errorReply(el, new StanzaError('forbidden'), to.toString());
        reply.attrs.to = from.toString();
        ctx.send(reply, to, from);
        return DROP;
      });
    });

    // Record the moment the account's last available session goes away (unavailable presence or a
    // disconnect): with other resources still available, the account is still online.
    ctx.hook('user_unavailable', async ({ session, stanza }) => {
      const bare = session.jid.bare();
      if (ctx.sessionsOf(bare).some((s) => s !== session && s.presence !== null)) return;
      // A session of an account being deleted must not leave a row behind.
      if (!(await ctx.accounts.exists(bare))) return;
      const status = stanza?.getChildText('status') ?? '';
      await ctx.store.transact([{ type: 'put', table: TABLE, key: keyOf(bare), value: { at: Date.now(), status } }]);
    });
  },
});
