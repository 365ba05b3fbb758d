// XEP-0313 Message Archive Management (urn:xmpp:mam:2) for user archives: chat/normal messages with a
// body are archived for the local sender and, once delivered or stored, the local recipient (§5), queried
// with forms and XEP-0059 paging (§4); the recipient's copy carries its archive id as a XEP-0359 <stanza-id/>.
// Room archives (§5, MAM on a MUC room's JID) are the room_archive service the muc module uses.
import { defineModule, opt, xml, StanzaError, ROOM_ARCHIVE_SERVICE, type Element, type Jid } from '../../src/sdk.js';
import { MAM_SERVICE, type MamApi } from './api.js';
import { parseDuration, durationOpt } from './duration.js';
import { ArchiveExpiry } from './expiry.js';
import { NS_MAM, queryForm, runQuery } from './query.js';
import { PrefsStore, prefsIq } from './prefs.js';
import { ArchiveWriter } from './writer.js';
import { mamCommands } from './commands.js';
import { roomArchive } from './room-archive.js';
import { RoomDomains } from './room-domains.js';

const NS_SID = 'urn:xmpp:sid:0';
const ARCHIVED_TYPES = new Set(['chat', 'normal']);
/** The first expiry pass after start (then every expire_interval). */
const FIRST_SWEEP_MS = 60_000;
/** setInterval's longest delay (2^31 - 1 ms), in whole seconds. */
const MAX_INTERVAL_S = 2_147_483;

const archivable = (el: Element): boolean => el.name === 'message' && ARCHIVED_TYPES.has(el.attrs.type ?? 'normal') && !!el.getChild('body');

/** XEP-0359 §3: a <stanza-id/> claiming to be by `owner`'s archive is not the client's to set. */
function stripClaims(el: Element, owner: Jid): void {
  const by = owner.toString();
  for (const c of el.getChildren('stanza-id', NS_SID)) if (c.attrs.by === by) el.remove(c);
}

export default defineModule({
  name: 'mam',
  description: 'Archives users\' one-to-one messages and answers archive queries (XEP-0313)',
  xeps: ['XEP-0313', 'XEP-0359', 'XEP-0059', 'XEP-0297'],
  accountFeatures: [NS_MAM, NS_SID], // §6: the account advertises it
  // Also on the server, as ejabberd does: clients such as Profanity 0.13 look for it only there; a query
  // sent to the server searches the requester's own archive.
  features: [NS_MAM],
  options: {
    /** Hard cap on the messages of one page (a larger or absent <max/> gets this many). */
    max_results: opt.number(250, { min: 1, integer: true }),
    /** Which messages are archived for an account that has not set its own preferences (<prefs/>). */
    default_policy: opt.oneOf(['always', 'never', 'roster'] as const, 'always'),
    /** Messages kept per account; archiving one more removes the oldest (as Prosody truncates). */
    max_messages: opt.number(10_000, { min: 1, integer: true }),
    /** Messages kept per MUC room (rooms the muc module archives); one more removes the oldest. */
    room_max_messages: opt.number(10_000, { min: 1, integer: true }),
    /** Messages older than this are removed by a periodic sweep ("never" keeps them until the quota). */
    expire_after: durationOpt('365d', { min: 1, never: true }),
    /** How often the expiry sweep runs. */
    expire_interval: durationOpt('1h', { min: 1, max: MAX_INTERVAL_S }),
  },
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [...ArchiveWriter.removeOps(user), ...PrefsStore.removeOps(user)],
  async start(ctx) {
    const writer = new ArchiveWriter(ctx, () => ctx.options.max_messages);
    const roomDomains = new RoomDomains(ctx);
    await roomDomains.load();
    ctx.provide(ROOM_ARCHIVE_SERVICE, roomArchive(ctx, new ArchiveWriter(ctx, () => ctx.options.room_max_messages), roomDomains));
    mamCommands(ctx);
    const prefs = new PrefsStore(ctx, () => ctx.options.default_policy);
    /** Outgoing messages archived for their sender -> the sender's archive id (read by carbons' <sent/> copies). */
    const sentIds = new WeakMap<Element, string>();

    /**
     * A local account of this host (the bare JID), or null. Not a hook-scoping check: filter_packet runs on
     * this host for messages to its accounts too, whose sender (of another host) is not ours to archive.
     */
    const localAccount = async (j: Jid): Promise<Jid | null> =>
      j.local && j.domain === ctx.host && (await ctx.accounts.exists(j.bare())) ? j.bare() : null;

    // The sender's copy, as sent, at the router (after blocking, before delivery), durable before the
    // message goes on; kept even when the message bounces later. A note to self is archived once, as
    // received (below).
    ctx.hook('filter_packet', async (el, { from, to }) => {
      if (!archivable(el)) return undefined;
      const sender = await localAccount(from);
      if (!sender || sender.equals(to.bare())) return undefined;
      stripClaims(el, sender);
      if (!(await prefs.archives(sender, to))) return undefined;
      const original = el.toString();
      sentIds.set(el, await writer.append(sender, (id, stamp) => ({ id, stamp, with: to.bareString(), peer: to.toString(), xml: original })));
      return undefined;
    });

    // The recipient's copy, only for a message the server has taken on (written to a session, or about to
    // be stored offline): a message bounced (unknown account, offline queue full...) leaves no row and its
    // error carries no id. The id stamped on what the recipient gets is the archived row's id.
    ctx.hook('message_accepted', async (el, { from, to }) => {
      if (!to.local) return undefined;
      const recipient = to.bare();
      stripClaims(el, recipient);
      if (!archivable(el) || !(await prefs.archives(recipient, from))) return el;
      const original = el.toString();
      const id = await writer.append(recipient, (rid, stamp) => ({ id: rid, stamp, with: from.bareString(), peer: from.toString(), xml: original }));
      el.cnode(xml('stanza-id', { xmlns: NS_SID, by: recipient.toString(), id }));
      return el;
    });

    ctx.iq('account', NS_MAM, (req) => (req.payload.name === 'prefs' ? prefsIq(prefs, req) : req.type === 'get' ? queryForm() : runQuery(ctx, req)));
    ctx.iq('host', NS_MAM, (req) => {
      if (!req.from.local || req.from.domain !== ctx.host) throw new StanzaError('forbidden', 'only this server’s users have an archive here');
      if (req.payload.name === 'prefs') throw new StanzaError('service-unavailable', 'archiving preferences belong to your account: send them to your bare JID');
      return req.type === 'get' ? queryForm() : runQuery(ctx, req, req.from.bare());
    });

    const expireAfter = parseDuration(ctx.options.expire_after);
    const expiry = expireAfter ? new ArchiveExpiry(ctx, writer, expireAfter * 1000, () => [ctx.host, ...roomDomains.list()]) : null;
    if (expiry) {
      const sweep = () => void expiry.run().catch((err) => ctx.log.error('archive expiry failed', { err }));
      const every = parseDuration(ctx.options.expire_interval)! * 1000;
      ctx.setInterval(sweep, every);
      ctx.setTimeout(sweep, Math.min(every, FIRST_SWEEP_MS)); // a server restarted more often than `every` still sweeps
      ctx.onStop(() => expiry.stop()); // disposed before the interval (newest first): no pass outlives stop
    }
    const api: MamApi = { expireNow: () => expiry?.run() ?? Promise.resolve(0), sentId: (el) => sentIds.get(el) };
    ctx.provide(MAM_SERVICE, api);
  },
});

export type { ArchivedMessage } from './archive.js';
export { MAM_SERVICE, type MamApi } from './api.js';
