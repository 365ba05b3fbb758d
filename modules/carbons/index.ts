// XEP-0280 Message Carbons (urn:xmpp:carbons:2): per-session enable/disable (§4, §5), <received/> copies of
// inbound messages to the recipient's enabled resources that did not get the original (§7), <sent/> copies
// of outbound ones to the sender's other enabled resources (§8), <private/> (§9) and XEP-0334 <no-copy/> honoured.
import { defineModule, xml, cloneElement, DROP, StanzaError, type Element, type IqRequest, type Jid, type Session } from '../../src/sdk.js';
import { NS_CARBONS, NS_FORWARD, eligible } from './eligible.js';

export { NS_CARBONS } from './eligible.js';

const NS_SID = 'urn:xmpp:sid:0';
/** What carbons reads from the archive (the mam module's service), if one runs on the host. */
interface ArchiveIds { sentId(message: Element): string | undefined }

export default defineModule({
  name: 'carbons',
  description: 'Copies one-to-one messages to all of an account\'s carbons-enabled clients (XEP-0280)',
  xeps: ['XEP-0280', 'XEP-0297', 'XEP-0334'],
  features: [NS_CARBONS],
  options: {},
  start(ctx) {
    /** Ids of this host's sessions that enabled carbons (cleaned when a session closes). */
    const enabled = new Set<string>();
    const copies = ctx.counter({ name: 'xmppd_carbons_copies_total', help: 'Message carbons delivered (XEP-0280), by direction', labelNames: ['host', 'direction'] });
    const sessions = ctx.gauge({ name: 'xmppd_carbons_enabled_sessions', help: 'Sessions with message carbons enabled', labelNames: ['host'] });
    sessions.set({ host: ctx.host }, 0);
    ctx.onStop(() => sessions.remove({ host: ctx.host }));
    // In a cluster, another node's sessions enable carbons there: they carry the mark, so no shortcut here.
    const clustered = ctx.clusterNode !== null;
    const none = () => enabled.size === 0 && !clustered;
    const isEnabled = (s: Session) => (s.remote === undefined ? enabled.has(s.id) : s.marks.has(NS_CARBONS));
    /** Messages whose <private/> was stripped on the way in (message_accepted): still not to be copied. */
    const privateIn = new WeakSet<Element>();

    const toggle = async (req: IqRequest) => {
      if (req.type !== 'set') throw new StanzaError('bad-request', 'carbons are enabled or disabled with an IQ set');
      const on = req.payload.name === 'enable' ? true : req.payload.name === 'disable' ? false : null;
      if (on === null) throw new StanzaError('bad-request', 'expected <enable/> or <disable/>');
      // §4.1/§5.1: only a client of this server, for itself (not another account's sessions).
      const s = req.session;
      if (!s || s.host !== ctx.host || !req.from.bare().equals(s.jid.bare()) || (req.to.local !== '' && !req.to.bare().equals(s.jid.bare()))) {
        throw new StanzaError('not-allowed', 'carbons are set by a client of this server for its own session');
      }
      // §10.1: repeated enable/disable requests simply succeed.
      if (on && !enabled.has(s.id)) enabled.add(s.id);
      else if (!on && enabled.has(s.id)) enabled.delete(s.id);
      else return null;
      sessions.set({ host: ctx.host }, enabled.size);
      if (clustered) await s.mark(NS_CARBONS, on);
      return null;
    };
    // Clients send it without a 'to' (the account); some address the server: both reach the same session.
    ctx.iq('account', NS_CARBONS, toggle);
    ctx.iq('host', NS_CARBONS, toggle);

    // XEP-0280 §4 inline in a Bind2 login (XEP-0386 §5): <enable/> in <bind/> enables carbons for the new session.
    ctx.hook('bind2_features', (vars) => [...vars, NS_CARBONS]);
    ctx.hook('bind2_inline', (answers, { session, element }) => {
      if (element.attrs.xmlns !== NS_CARBONS || element.name !== 'enable') return;
      if (!enabled.has(session.id)) {
        enabled.add(session.id);
        sessions.set({ host: ctx.host }, enabled.size);
        if (clustered) void session.mark(NS_CARBONS, true);
      }
      return answers; // XEP-0386: carbons has no answer element inside <bound/>
    });

    // A session handed over by another cluster node (XEP-0198 resumption here) keeps its carbons state.
    ctx.hook('session_resumed', ({ session }) => {
      if (session.marks.has(NS_CARBONS) && !enabled.has(session.id)) {
        enabled.add(session.id);
        sessions.set({ host: ctx.host }, enabled.size);
      }
    });

    ctx.hook('session_closed', ({ session }) => {
      if (enabled.delete(session.id)) sessions.set({ host: ctx.host }, enabled.size);
    });

    /** Write a copy to a session through user_receive_packet, as the router delivers (other modules see it). */
    const deliver = async (session: Session, copy: Element, owner: Jid): Promise<void> => {
      let el = copy;
      // A session of another node: that node runs user_receive_packet on the real session.
      if (session.remote === undefined && ctx.hasHandlers('user_receive_packet')) {
        const r = await ctx.runFilter('user_receive_packet', el, { session, from: owner, to: session.jid });
        if (r === DROP) return;
        el = r;
      }
      session.send(el);
    };

    /** The §7/§8 wrapper: from the account's bare JID to one resource, same type, original inside <forwarded/>. */
    const wrap = (kind: 'sent' | 'received', original: Element, owner: Jid, to: Session): Element => {
      const inner = cloneElement(original);
      inner.attrs.xmlns = 'jabber:client'; // XEP-0297: the forwarded stanza keeps its namespace
      return xml('message', { from: owner.toString(), to: to.jid.toString(), type: original.attrs.type ?? 'normal' },
        xml(kind, { xmlns: NS_CARBONS }, xml('forwarded', { xmlns: NS_FORWARD }, inner)));
    };

    /** Copy `original` to the account's enabled sessions except `skip`. */
    const copyTo = async (kind: 'sent' | 'received', original: Element, owner: Jid, skip: (s: Session) => boolean): Promise<void> => {
      if (none()) return;
      for (const s of ctx.sessionsOf(owner)) {
        if (!isEnabled(s) || skip(s)) continue;
        await deliver(s, wrap(kind, original, owner, s), owner);
        copies.inc({ host: ctx.host, direction: kind });
      }
    };

    // §8 Sending: a copy to each other enabled resource of the sender, once the router has accepted the
    // message (late in filter_packet: a message blocking drops is not copied, and the archive has stamped
    // its id, which the copy carries as XEP-0313 asks). A message to the sender's own account is copied on
    // the receiving side only (as <received/>), so no resource gets it twice.
    ctx.hook('filter_packet', async (el, { from, to, session }) => {
      if (none() || el.name !== 'message' || !session || session.host !== ctx.host || !session.jid.equals(from)) return undefined;
      if (to.bare().equals(from.bare()) || !eligible(el)) return undefined;
      const owner = from.bare();
      const archived = ctx.service<ArchiveIds>('mam')?.sentId(el);
      let original = el;
      if (archived !== undefined) {
        original = cloneElement(el); // the recipient must not get the sender's archive id
        original.cnode(xml('stanza-id', { xmlns: NS_SID, by: owner.toString(), id: archived }));
      }
      await copyTo('sent', original, owner, (s) => s === session);
      return undefined;
    }, 10);

    // §9 private: the receiving server removes <private/> before delivering (the original and the offline
    // copy), and remembers the message is not to be copied. Last, so the element marked is the one delivered.
    ctx.hook('message_accepted', (el) => {
      const p = el.getChild('private', NS_CARBONS);
      if (!p) return undefined;
      el.remove(p);
      privateIn.add(el);
      return el;
    }, 1);

    // §7 Receiving: after RFC 6121 delivery, a copy to each enabled resource that did not get the original.
    // Nothing when the message was stored offline (no session got it): the offline copy and the archive
    // give it to every client once, so no client gets it twice.
    ctx.hook('message_delivered', async ({ stanza, from, to, sessions: got }) => {
      if (none() || privateIn.has(stanza) || !eligible(stanza)) return;
      await copyTo('received', stanza, to.bare(), (s) => got.includes(s) || s.jid.equals(from));
    });
  },
});
