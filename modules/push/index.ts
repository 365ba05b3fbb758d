// XEP-0357 Push Notifications (urn:xmpp:push:0): a client enables (§5) and disables (§6) its app server's
// XMPP Push Service per account; when a message arrives while no client of the account can see it (none
// connected, or every one that got it inactive per XEP-0352 or detached awaiting XEP-0198 resumption), the
// server publishes a notification from the account's bare JID to each registration (§7), coalesced per account.
import { defineModule, opt, Jid, StanzaError, OFFLINE_SERVICE, elementToJson, type Element, type IqRequest, type Session } from '../../src/sdk.js';
import { Registrations, TABLE, userPrefix } from './registrations.js';
import { NS_DATA, NS_PUSH, PUBLISH_OPTIONS, errorOf, publishRequest, warrantsNotification, type Summary } from './publish.js';
import { Coalescer } from './coalescer.js';
import { pushPortable } from './portable.js';

export { NS_PUSH } from './publish.js';

/** The contracts of the csi and stream_management modules' services, when they run on the host. */
interface CsiApi { isInactive(session: Session): boolean }
interface SmApi { isDetached(session: Session): boolean }

/** How long an app server has to answer a publish before it counts as failed (the registration stays). */
const PUBLISH_TIMEOUT_MS = 30_000;

export default defineModule({
  name: 'push',
  description: 'Publishes push notifications to the app servers of clients that enabled them (XEP-0357)',
  xeps: ['XEP-0357'],
  optional: ['offline', 'csi', 'stream_management'],
  accountFeatures: [NS_PUSH], // §4.1: on the account's bare JID
  options: {
    /** Put the text of the last message in notifications (§9: it then passes through third parties). */
    include_body: opt.boolean(false),
    /** Seconds between two notifications to one account; messages in between are summed into one. */
    min_interval: opt.number(10, { min: 0, integer: true }),
    /** Registrations (app server JID + node) an account may hold. */
    max_registrations: opt.number(10, { min: 1, integer: true }),
  },
  portable: pushPortable,
  async start(ctx) {
    const regs = new Registrations(ctx);
    await regs.load();
    const notifications = ctx.counter({ name: 'xmppd_push_notifications_total', help: 'Push notifications published to app servers (XEP-0357), by result (sent: acknowledged; failed: error or no answer)', labelNames: ['host', 'result'] });
    const disabled = ctx.counter({ name: 'xmppd_push_registrations_disabled_total', help: 'Push registrations removed because the app server answered a notification with an error', labelNames: ['host'] });

    // ---- §5/§6 enable and disable ----------------------------------------------------------------------
    ctx.iq('account', NS_PUSH, async (req: IqRequest) => {
      const owner = req.to.bare();
      if (!req.session || req.session.host !== ctx.host || !req.from.bare().equals(owner)) {
        throw new StanzaError('forbidden', 'push notifications are enabled by a client of the account itself');
      }
      if (req.type !== 'set') throw new StanzaError('bad-request', 'push notifications are enabled or disabled with an IQ set');
      const p = req.payload;
      if (p.name !== 'enable' && p.name !== 'disable') throw new StanzaError('bad-request', 'expected <enable/> or <disable/>');
      const service = Jid.tryParse(p.attrs.jid);
      if (!service) throw new StanzaError('bad-request', 'the jid attribute must be the JID of the app server\'s push service');
      const jid = service.toString();
      const node = p.attrs.node as string | undefined;
      if (p.name === 'disable') {
        await regs.disable(owner, jid, node === undefined || node === '' ? undefined : node);
        return null; // disabling what is not enabled succeeds too
      }
      if (!node) throw new StanzaError('bad-request', 'enable needs the node the app server provisioned');
      const options = publishOptions(p);
      return ctx.lock(userPrefix(owner), async () => {
        const existing = await regs.list(owner);
        // §5: enabling the same jid + node again replaces its publish options.
        if (!existing.some((r) => r.value.jid === jid && r.value.node === node) && existing.length >= ctx.options.max_registrations) {
          throw new StanzaError('policy-violation', `at most ${ctx.options.max_registrations} push registrations per account`);
        }
        await regs.enable(owner, { jid, node, options: options ? elementToJson(options) : null, at: Date.now() });
        ctx.log.info('push enabled', { account: owner.toString(), service: jid });
        return null;
      });
    });

    // ---- §7 publishing --------------------------------------------------------------------------------
    const publish = async (owner: Jid, summary: Summary): Promise<void> => {
      for (const row of await regs.list(owner)) {
        const reg = row.value;
        const log = { account: owner.toString(), service: reg.jid, node: reg.node };
        let answer: Element;
        try {
          answer = await ctx.request(publishRequest(reg, summary), Jid.parse(reg.jid), PUBLISH_TIMEOUT_MS, owner);
        } catch (err) {
          notifications.inc({ host: ctx.host, result: 'failed' });
          ctx.log.warn('push notification not answered; the registration stays', { ...log, err });
          continue;
        }
        const error = errorOf(answer);
        if (!error) {
          notifications.inc({ host: ctx.host, result: 'sent' });
          if (ctx.log.isDebug()) ctx.log.debug('push notification sent', { ...log, count: summary.count });
          continue;
        }
        notifications.inc({ host: ctx.host, result: 'failed' });
        if (error.transient) {
          ctx.log.warn('push notification failed for now; the registration stays', { ...log, condition: error.condition });
        } else if (await regs.disableIfUnchanged(row.key, reg.at)) {
          // §7.1: the app server refused it: this jid + node is disabled until the client enables it again.
          disabled.inc({ host: ctx.host });
          ctx.log.info('push registration disabled: the app server answered a notification with an error', { ...log, condition: error.condition });
        }
      }
    };
    const coalescer = new Coalescer(ctx, () => ctx.options.min_interval * 1000, (owner, summary) => {
      publish(owner, summary).catch((err) => ctx.log.error('push notification failed', { err, account: owner.toString() }));
    });

    const summaryOf = (stanza: Element, from: Jid) => ({
      sender: from.toString(),
      body: ctx.options.include_body ? stanza.getChildText('body') : null,
    });

    // (a) Nobody connected: the message was taken for the offline store (after the offline module decided).
    ctx.hook('offline_message', async (value, { stanza, from, to }) => {
      const owner = to.bare();
      // Only a message kept for the account: not one the store discarded (<no-store/>) or refused (queue full).
      if (!value.handled || value.stored === false || !regs.has(owner) || !warrantsNotification(stanza)) return undefined;
      // The stored messages are the unread ones (and survive a restart); without the offline module, a tally.
      const stored = await ctx.service(OFFLINE_SERVICE)?.count(owner).catch(() => undefined);
      coalescer.add(owner, summaryOf(stanza, from), stored);
      return undefined;
    }, 10);

    // (b) Delivered, but only to sessions that cannot show it: inactive (XEP-0352) or detached (XEP-0198).
    ctx.hook('message_delivered', ({ stanza, from, to, sessions }) => {
      const owner = to.bare();
      if (!regs.has(owner)) return;
      const csi = ctx.service<CsiApi>('csi');
      const sm = ctx.service<SmApi>('stream_management');
      const away = (s: Session) => (sm?.isDetached(s) ?? false) || (csi?.isInactive(s) ?? false);
      if (sessions.some((s) => !away(s))) return coalescer.reset(owner); // a client shows it: nothing unread
      if (warrantsNotification(stanza)) coalescer.add(owner, summaryOf(stanza, from));
    });

    // A client came online (it gets the offline messages): the unread tally starts again.
    ctx.hook('user_available', ({ session }) => coalescer.reset(session.jid.bare()));

    // ---- account removal --------------------------------------------------------------------------------
    ctx.hook('remove_user_data', (ops, { jid }) => [...ops, { type: 'delRange', table: TABLE, prefix: userPrefix(jid) }]);
    ctx.hook('user_removed', ({ jid }) => coalescer.reset(jid.bare()));
  },
});

/** The enable's publish-options form (§5), if any; another kind of form is refused. */
function publishOptions(enable: Element): Element | null {
  const forms = enable.getChildren('x', NS_DATA);
  if (forms.length === 0) return null;
  if (forms.length > 1) throw new StanzaError('bad-request', 'at most one publish-options form');
  const form = forms[0]!;
  const type = form.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value');
  if (type !== undefined && type !== null && type !== PUBLISH_OPTIONS) {
    throw new StanzaError('bad-request', `the form must have FORM_TYPE ${PUBLISH_OPTIONS}`);
  }
  return form;
}
