// RFC 6121 §3 presence subscriptions (the Appendix A state machine, pre-approval §3.4), §4 presence
// broadcast, probes, directed and unavailable presence, §8.5.1 presence for unknown users. Roster items
// are written through the roster module's service.
import { defineModule, xml, Jid, StanzaError, DROP, errorReply, cloneElement, elementToJson, type Element, type Session } from '../../src/sdk.js';
import { Broadcaster } from './broadcast.js';
import { SUBSCRIPTION_TYPES, hasFrom, hasTo, inbound, outbound, type InboundPlan, type OutboundPlan, type SubscriptionType } from './subscription.js';

const NS_PRE_APPROVAL = 'urn:xmpp:features:pre-approval'; // RFC 6121 §3.4.1
const PRESENCE_TYPES: ReadonlySet<string> = new Set(['unavailable', 'probe', 'error', ...SUBSCRIPTION_TYPES]);

export default defineModule({
  name: 'presence',
  description: 'Presence subscriptions and broadcast (RFC 6121 §3, §4)',
  xeps: ['RFC 6121'],
  requires: ['roster'],
  options: {},
  start(ctx) {
    const b = new Broadcaster(ctx);

    /** The user sends subscribe/subscribed/unsubscribe/unsubscribed (§3, Appendix A.2). */
    const subscriptionOut = async (el: Element, session: Session, to: Jid, type: SubscriptionType): Promise<void> => {
      const owner = session.jid.bare();
      const contact = to.bare(); // §3.1.2: a full JID is treated as the bare JID
      const roster = b.roster();
      if (!roster || contact.equals(owner)) return; // the server shares presence among own resources anyway
      let plan: OutboundPlan = { item: undefined, route: false };
      try {
        await roster.update(owner, contact, (cur) => (plan = outbound(type, cur, contact.bareString())).item);
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        session.send(errorReply(el, err, contact.toString()));
        return;
      }
      if (plan.route) {
        // Stamped with the user's bare JID (§3.1.2, §3.2.2, §3.3.2).
        const out = cloneElement(el);
        await b.route(out, owner, contact);
      }
      if (plan.sendPresence) await b.sendAvailable(owner, contact);
      if (plan.sendUnavailable) await b.sendUnavailable(owner, contact);
    };

    /** A contact's subscription stanza for a local user (§3, Appendix A.3). */
    const subscriptionIn = async (el: Element, from: Jid, to: Jid, type: SubscriptionType): Promise<Element | typeof DROP> => {
      const owner = to.bare();
      const contact = from.bare();
      if (contact.equals(owner)) return DROP;
      // §8.5.1: no such user: a subscription request is answered 'unsubscribed', the rest ignored.
      if (!(await ctx.accounts.exists(owner))) {
        if (type === 'subscribe') await b.route(xml('presence', { type: 'unsubscribed' }), owner, contact);
        return DROP;
      }
      const roster = b.roster();
      if (!roster) return el;
      el.attrs.from = contact.toString(); // delivered from the contact's bare JID (§3.1.3)
      let plan: InboundPlan = { item: undefined, deliver: false };
      try {
        const stored = elementToJson(el);
        await roster.update(owner, contact, (cur) => (plan = inbound(type, cur, contact.bareString(), stored)).item);
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        if (type === 'subscribe') await b.route(errorReply(el, err, owner.toString()), owner, contact);
        return DROP;
      }
      if (plan.autoReply) await b.route(xml('presence', { type: 'subscribed' }), owner, contact);
      if (plan.sendPresence) await b.sendAvailable(owner, contact);
      if (plan.sendUnavailable) await b.sendUnavailable(owner, contact);
      if (!plan.deliver) return DROP;
      if (to.isBare()) return el; // the router delivers it to every available resource
      await b.deliver(el, contact, owner); // addressed to one resource, but meant for the account
      return DROP;
    };

    ctx.hook('c2s_presence_out', async (el, { session, to }) => {
      const type = el.attrs.type as string | undefined;
      if (type !== undefined && !PRESENCE_TYPES.has(type)) {
        session.send(errorReply(el, new StanzaError('bad-request', `"${type}" is not a presence type`), el.attrs.to ?? session.jid.bareString()));
        return DROP;
      }
      if (to === null) {
        if (type === undefined) {
          await b.broadcastAvailable(session, el);
          return undefined; // the c2s records it and fires user_available the first time
        }
        if (type === 'unavailable') {
          // An available session's unavailable is broadcast from user_unavailable; a session that was
          // never available only owes it to the targets of its directed presence.
          if (session.presence === null) await b.flushDirected(session, el);
          return undefined;
        }
        return DROP; // subscription, probe or error presence without a 'to' means nothing
      }
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
        await subscriptionOut(el, session, to, type as SubscriptionType);
        return DROP;
      }
      if (type === undefined || type === 'unavailable') b.trackDirected(session, to, type === undefined);
      return undefined; // directed presence, probes and errors are routed by the c2s
    });

    ctx.hook('presence_in', async (el, { from, to }) => {
      if (b.passThrough.has(el)) return undefined;
      const type = el.attrs.type as string | undefined;
      if (type === undefined || type === 'unavailable' || type === 'error') return undefined; // plain delivery (§4.4.3, §4.8)
      if (type === 'probe') {
        // Answered by the server, never shown to the user (§4.3.2); unknown users get 'unsubscribed' (§8.5.1).
        if (await ctx.accounts.exists(to.bare())) await b.answerProbe(from, to);
        else await b.route(xml('presence', { type: 'unsubscribed' }), to.bare(), from.bare());
        return DROP;
      }
      if (SUBSCRIPTION_TYPES.has(type)) return subscriptionIn(el, from, to, type as SubscriptionType);
      return DROP; // an unknown type is not delivered
    });

    ctx.hook('user_available', ({ session }) => b.onAvailable(session));

    ctx.hook('user_unavailable', ({ session, stanza }) => b.onUnavailable(session, stanza));

    // A session that ends without ever being available still owes its directed presence an unavailable.
    // A session resumed on another cluster node (movedTo) has not ended: its directed presence stands.
    ctx.hook('session_closed', ({ session, movedTo }) => (movedTo === undefined ? b.flushDirected(session) : undefined));

    // Account removal (§3.2, §3.3 on the user's behalf): contacts stop seeing the user and the user's
    // subscriptions to them end, before the roster is deleted.
    ctx.hook('user_removing', async ({ jid }) => {
      const owner = jid.bare();
      const items = (await b.roster()?.items(owner, { includeHidden: true })) ?? [];
      for (const i of items) {
        const contact = Jid.tryParse(i.jid);
        if (!contact) continue;
        if (hasFrom(i.subscription)) await b.sendUnavailable(owner, contact);
        if (hasTo(i.subscription) || i.ask) await b.route(xml('presence', { type: 'unsubscribe' }), owner, contact);
        if (hasFrom(i.subscription) || i.pendingIn) await b.route(xml('presence', { type: 'unsubscribed' }), owner, contact);
      }
      for (const s of ctx.sessionsOf(owner)) await b.flushDirected(s);
    });

    // RFC 6121 §3.4.1: the server supports subscription pre-approval.
    ctx.hook('c2s_stream_features', (features, { stage }) =>
      stage === 'post-auth' ? [...features, xml('sub', { xmlns: NS_PRE_APPROVAL })] : undefined);
  },
});
