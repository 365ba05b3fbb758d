// XEP-0160 offline messages: chat/normal messages for an account with no available non-negative resource
// are stored (with a XEP-0203 <delay/>) and delivered on its next non-negative available presence.
// RFC 6121 §8.5.2.2.1; XEP-0334 <no-store/>/<store/> hints; quota answered with resource-constraint.
import { defineModule, opt, xml, NS, DROP, Jid, StanzaError, errorReply, OFFLINE_SERVICE, type Element, type Session } from '../../src/sdk.js';
import type { OfflineApi } from './api.js';
import { storageDecision } from './policy.js';
import { OfflineQueue, parseStanza, userPrefix } from './queue.js';
import { offlineCommands } from './commands.js';
import { offlinePortable } from './portable.js';

const TABLE = 'offline_messages';
const METRIC = 'xmppd_offline_messages_total';

export default defineModule({
  name: 'offline',
  description: 'Stores messages for offline users and delivers them at their next login (XEP-0160)',
  xeps: ['XEP-0160', 'XEP-0203'],
  features: ['msgoffline'], // XEP-0160 §4
  options: {
    /** Messages kept per account; further ones are refused with resource-constraint. */
    max_messages: opt.number(1000, { min: 0, integer: true }),
  },
  portable: offlinePortable,
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [{ type: 'delRange', table: TABLE, prefix: userPrefix(user) }],
  start(ctx) {
    const queue = new OfflineQueue(ctx, TABLE);
    // One metric shared by the instances of every host, labelled by host.
    const events = ctx.counter({ name: METRIC, help: 'Offline messages stored, delivered and refused (queue full)', labelNames: ['host', 'event'] });

    /** A session that may receive offline messages: still bound and available with priority >= 0. */
    const eligible = (s: Session) => s.presence !== null && s.priority >= 0 && ctx.sessionsOf(s.jid.bare()).includes(s);

    /**
     * Send the stored messages, in order, to one session (XEP-0160 §2: the resource that sent the
     * non-negative presence), then delete exactly those in one transaction: a message is removed only
     * after it was written to the session, so a crash in between repeats it rather than losing it.
     */
    const deliver = (session: Session): Promise<void> =>
      queue.serial(session.jid, async () => {
        if (!eligible(session)) return;
        const rows = await queue.list(session.jid);
        const done: string[] = [];
        for (const row of rows) {
          if (!eligible(session)) break;
          let el: Element;
          try {
            el = parseStanza(row.value.xml);
          } catch (err) {
            ctx.log.error('dropping an unreadable offline message', { err, key: row.key });
            done.push(row.key);
            continue;
          }
          // Same path as live delivery (router): user_receive_packet may rewrite or drop it (blocking...).
          if (ctx.hasHandlers('user_receive_packet', session.host)) {
            const from = Jid.tryParse(el.attrs.from) ?? Jid.parse(ctx.host);
            const to = Jid.tryParse(el.attrs.to) ?? session.jid.bare();
            const r = await ctx.runFilter('user_receive_packet', el, { session, from, to }, session.host);
            if (r === DROP) {
              done.push(row.key);
              continue;
            }
            el = r;
            if (!eligible(session)) break;
          }
          session.send(el);
          done.push(row.key);
        }
        await queue.remove(done);
        if (done.length) events.inc({ host: ctx.host, event: 'delivered' }, done.length);
      });

    ctx.hook('offline_message', async (value, { stanza, from, to, accepted }) => {
      if (value.handled) return undefined; // someone else took it (forwarding, push...)
      const decision = storageDecision(stanza);
      if (decision === 'refuse') return undefined; // the router answers service-unavailable
      if (decision === 'discard') return { handled: true, stored: false };
      const bare = to.bare();
      const build = async () => {
        let copy = parseStanza(stanza.toString()); // the router may still use the original (bounces)
        // There is room, so the message is taken on: message_accepted may stamp what the recipient will
        // get (the archive's stanza-id). A refused message never reaches it, so its bounce carries nothing.
        // Not twice for a message already taken on (XEP-0198 unacknowledged): the archive has it once.
        if (!accepted && ctx.hasHandlers('message_accepted')) {
          const r = await ctx.runFilter('message_accepted', copy, { from, to, via: 'offline' });
          if (r !== DROP) copy = r;
        }
        const stamp = new Date().toISOString(); // XEP-0082 DateTime in UTC
        copy.cnode(xml('delay', { xmlns: NS.DELAY, from: ctx.host, stamp }, 'Offline Storage'));
        return { xml: copy.toString(), stamp, from: from.toString() };
      };
      // From the address the sender used (RFC 6120 §8.3.1), which may be a full JID that was gone.
      const addressed = Jid.tryParse(stanza.attrs.to) ?? to;
      let r;
      try {
        r = await queue.append(bare, build, ctx.options.max_messages);
      } catch (err) {
        // Not stored (storage failure): tell the sender so, not service-unavailable as if offline storage did not exist.
        ctx.log.error('could not store an offline message', { err, to: bare.toString() });
        const e = err instanceof StanzaError ? err : new StanzaError('internal-server-error', 'the message could not be stored for the offline recipient');
        const reply = errorReply(stanza, e, addressed.toString());
        reply.attrs.to = from.toString();
        ctx.send(reply, addressed, from);
        return { handled: true, stored: false };
      }
      if (r === 'full') {
        // The hook can only say handled or not (not handled = service-unavailable), so the
        // resource-constraint error (XEP-0160 §2 "queue is full"; what ejabberd sends) is sent here and
        // the message is reported handled.
        events.inc({ host: ctx.host, event: 'refused' });
        const reply = errorReply(stanza, new StanzaError('resource-constraint', 'the offline message queue of the recipient is full'), addressed.toString());
        reply.attrs.to = from.toString();
        ctx.send(reply, addressed, from);
        return { handled: true, stored: false };
      }
      events.inc({ host: ctx.host, event: 'stored' });
      // The router chose offline before a resource came online but the message landed after that
      // resource's delivery ran: hand it over now instead of waiting for the next login.
      const late = ctx.sessionsOf(bare).filter(eligible).sort((a, b) => b.priority - a.priority)[0];
      if (late) void deliver(late).catch((err) => ctx.log.error('offline delivery failed', { err }));
      return { handled: true, stored: true };
    });

    // In a cluster a message may be stored by another node that did not see this node's new session yet,
    // while this node's delivery at login ran before the stored row reached it: the row's arrival here hands
    // it to a session of this node that is waiting for it (the stored message never waits for the next login).
    if (ctx.clusterNode !== null) {
      const hostPrefix = `${ctx.host}/`;
      ctx.watch(TABLE, (ev) => {
        if (ev.value === undefined) return;
        const nul = ev.key.indexOf('\u0000');
        const bare = nul > 0 ? Jid.tryParse(`${ev.key.slice(hostPrefix.length, nul)}@${ctx.host}`) : null;
        if (!bare) return;
        const here = ctx.sessionsOf(bare).filter((s) => s.remote === undefined && eligible(s)).sort((a, b) => b.priority - a.priority)[0];
        if (here) void deliver(here).catch((err) => ctx.log.error('offline delivery failed', { err }));
      }, { prefix: hostPrefix });
    }

    // XEP-0160 §2: initial presence with a non-negative priority triggers delivery.
    ctx.hook('user_available', async ({ session }) => {
      if (session.priority >= 0) await deliver(session);
    });

    // A session that was available with a negative priority and now sends a non-negative one gets them
    // too (user_available only fires on the first available presence).
    ctx.hook('user_presence_updated', async ({ session, wasAvailable, oldPriority }) => {
      if (wasAvailable && oldPriority < 0 && eligible(session)) await deliver(session);
    });

    const api: OfflineApi = { count: (jid) => queue.count(jid.bare()) };
    ctx.provide(OFFLINE_SERVICE, api);
    offlineCommands(ctx, api);
  },
});
