// XEP-0352 Client State Indication (urn:xmpp:csi:0): the <csi/> stream feature; a client says <inactive/>
// (screen off, app in the background) and <active/> (§4.2); while it is inactive the server holds what can wait.
//
// The rule (urgency.ts, after Prosody's mod_csi_simple and ejabberd's mod_client_state):
// - held, coalesced: available and unavailable presence; only the latest per sender full JID is kept;
// - held: messages without anything a user must see now: chat states, receipts, markers, reactions, PEP
//   events (headlines), empty messages, and carbon copies of such;
// - urgent: messages with a body or subject; encrypted payloads (OMEMO, OpenPGP, EME); XEP-0353 call
//   messages (propose, retract...); MUC invitations; errors; carbon copies of urgent messages; payloads in
//   the namespaces of the `urgent_payloads` option; subscription presence and presence errors; every IQ
//   (never held: the other side would time out).
// An urgent stanza first lets out everything held, in order, then goes itself; so does <active/>, a hold
// that grows past `queue_size`, and the module's stop. When the session ends while inactive, held presence
// is obsolete and dropped; held messages take the path of a message to an account with no session
// (offline_message: the offline store keeps what XEP-0160 keeps, e.g. receipts; standalone chat states and
// headlines, which no server stores, are dropped; so are carbon copies, made only to keep connected clients in
// step). Held messages carry no body, so the archive (which keeps messages with a body) never sees them twice.
import { defineModule, opt, xml, Jid, type Element, type Session } from '../../src/sdk.js';
import { SessionHold } from './session-hold.js';

export const NS_CSI = 'urn:xmpp:csi:0';
const NS_CARBONS = 'urn:xmpp:carbons:2';

/** A XEP-0280 copy: its original went to another client or to the contact; nothing to keep for later. */
const isCarbonCopy = (el: Element) => el.getChild('received', NS_CARBONS) !== undefined || el.getChild('sent', NS_CARBONS) !== undefined;

/** The 'csi' service: whether a session's client said it is inactive. */
export interface CsiApi { isInactive(session: Session): boolean }

export default defineModule({
  name: 'csi',
  description: 'Holds presence updates and non-urgent stanzas for clients that say they are inactive (XEP-0352)',
  xeps: ['XEP-0352'],
  features: [], // a stream feature, not a disco one (XEP-0352 §4.1)
  options: {
    /** Stanzas held per inactive session; one more lets them all out. */
    queue_size: opt.number(100, { min: 1, max: 10000, integer: true }),
    /** Extra payload namespaces that make a message urgent (delivered at once, with what was held). */
    urgent_payloads: opt.strings([]),
  },
  start(ctx) {
    const queueSize = ctx.options.queue_size;
    const urgentPayloads: ReadonlySet<string> = new Set(ctx.options.urgent_payloads);
    /** This host's inactive sessions, by session id. */
    const inactive = new Map<string, SessionHold>();
    // Other modules ask whether a session said it is inactive (push notifies inactive sessions, XEP-0357).
    ctx.provide<CsiApi>('csi', { isInactive: (session) => inactive.has(session.id) });

    const stanzas = ctx.counter({ name: 'xmppd_csi_stanzas_total', help: 'Stanzas held for inactive clients (XEP-0352), flushed, coalesced, or handled at session end (offline, dropped)', labelNames: ['host', 'event'] });
    const gauge = ctx.gauge({ name: 'xmppd_csi_inactive_sessions', help: 'Sessions whose client said it is inactive (XEP-0352)', labelNames: ['host'] });
    const host = ctx.host;
    gauge.set({ host }, 0);
    ctx.onStop(() => gauge.remove({ host }));
    const events = {
      held: (n: number) => stanzas.inc({ host, event: 'held' }, n),
      flushed: (n: number) => stanzas.inc({ host, event: 'flushed' }, n),
      coalesced: (n: number) => stanzas.inc({ host, event: 'coalesced' }, n),
    };

    const setInactive = (session: Session) => {
      if (inactive.has(session.id)) return; // repeated <inactive/>: nothing changes
      inactive.set(session.id, new SessionHold(session, queueSize, urgentPayloads, events));
      gauge.set({ host }, inactive.size);
    };
    const setActive = (session: Session) => {
      const hold = inactive.get(session.id);
      if (!hold) return;
      inactive.delete(session.id);
      gauge.set({ host }, inactive.size);
      hold.release();
    };

    // XEP-0352 §5.2: a resumed stream starts active (the client says again if it is not); what was held
    // goes out after the stanzas resumption sent again.
    ctx.hook('session_resumed', ({ session }) => setActive(session));

    // XEP-0386 Bind2: a client may start inactive (<inactive/> inside <bind/>); nothing goes in <bound/>.
    ctx.hook('bind2_features', (vars) => [...vars, NS_CSI]);
    ctx.hook('bind2_inline', (answers, { session, element }) => {
      if (element.attrs.xmlns !== NS_CSI) return undefined;
      if (element.name === 'inactive') setInactive(session);
      return answers;
    });

    ctx.hook('c2s_stream_features', (features, { stage }) =>
      stage === 'post-auth' ? [...features, xml('csi', { xmlns: NS_CSI })] : undefined);

    // Only <active/> and <inactive/> in our namespace: anything else stays unhandled, and the stream ends
    // with unsupported-stanza-type as for any element the server does not know.
    ctx.hook('c2s_nonza', (handled, { session, element }) => {
      if (handled || element.attrs.xmlns !== NS_CSI) return undefined;
      if (element.name === 'inactive') setInactive(session);
      else if (element.name === 'active') setActive(session);
      else return undefined;
      return true;
    });

    // The stream no longer writes by now: held presence is obsolete, held messages go the offline way.
    // Late (priority 10): what was written before the hold took these (stream management's unacknowledged
    // stanzas) reaches the offline store first, so the account gets them back in the order they came.
    ctx.hook('session_closed', async ({ session }) => {
      const hold = inactive.get(session.id);
      if (!hold) return;
      inactive.delete(session.id);
      gauge.set({ host }, inactive.size);
      const held = hold.detach();
      let kept = 0;
      for (const el of held) {
        const ok = el.name === 'message' && !isCarbonCopy(el) && (await toOffline(el, session));
        if (ok) kept++;
        stanzas.inc({ host, event: ok ? 'offline' : 'dropped' });
      }
      if (held.length) ctx.log.debug('inactive session ended', { jid: session.jid.toString(), held: held.length, offline: kept });
    }, 10);

    /** Hand a held message to the offline path, as the router does for an account with no session. */
    const toOffline = async (el: Element, session: Session): Promise<boolean> => {
      if (!ctx.hasHandlers('offline_message')) return false;
      const from = Jid.tryParse(el.attrs.from);
      if (!from) return false;
      const r = await ctx.runFilter('offline_message', { handled: false }, { stanza: el, from, to: session.jid.bare() });
      return typeof r === 'object' && r.handled;
    };

    // An unload or reload must not strand what is held: write it all and leave the chains.
    ctx.onStop(() => {
      for (const hold of inactive.values()) hold.release();
      inactive.clear();
    });
  },
});
