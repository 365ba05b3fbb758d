// XEP-0198 Stream Management (urn:xmpp:sm:3): acknowledgements both ways (§4), <r/> after `ack_after`
// unacknowledged stanzas and every `request_interval` seconds while some wait, resumption (§5) within
// a timeout the client may lower (max), and for a session not resumed in time, its unacknowledged
// messages handed to the offline store (hand-back.ts). The c2s core keeps a detached session alive.
import { randomBytes } from 'node:crypto';
import { defineModule, opt, xml, StreamError, Jid, parseXml, type Element, type Session, type UnboundStream } from '../../src/sdk.js';
import { AckQueue, NS_SM, parseH } from './ack-queue.js';
import { handBack } from './hand-back.js';

export { NS_SM } from './ack-queue.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

interface SmState {
  acks: AckQueue;
  /** Resumption id (only for a resumable stream). */
  id: string | null;
  /** Seconds a detached session waits to be resumed. */
  timeout: number;
  timer: NodeJS.Timeout | null;
  release: () => void;
}

/** The session mark carrying a resumption id (seen by every cluster node). */
const smMark = (id: string) => `${NS_SM}#${id}`;

/** What the node holding a detached session hands to the node the client resumes on. */
interface HandedOver {
  jid: string; presence: string | null; priority: number; marks: string[]; handled: number; unacked: string[]; timeout: number;
}

function failed(condition: string, h?: number): Element {
  return xml('failed', { xmlns: NS_SM, ...(h === undefined ? {} : { h: String(h) }) }, xml(condition, { xmlns: NS_STANZAS }));
}

export default defineModule({
  name: 'stream_management',
  description: 'Acknowledgements and resumption of client streams (XEP-0198)',
  xeps: ['XEP-0198'],
  features: [],
  options: {
    /** Allow resumption (§5); off: acknowledgements only, a dropped stream ends its session. */
    resume: opt.boolean(true),
    /** Seconds a dropped session waits to be resumed when the client does not ask for less (max). */
    resume_timeout: opt.number(300, { min: 1, integer: true }),
    /** The most a client may ask for with <enable max='...'/>. */
    max_resume_timeout: opt.number(300, { min: 1, integer: true }),
    /** host[:port] clients should reconnect to for resumption (§5 location); empty: not sent. */
    location: opt.string(''),
    /** Ask for an acknowledgement (<r/>) once this many stanzas wait for one. */
    ack_after: opt.number(5, { min: 1, integer: true }),
    /** Seconds between <r/> while stanzas wait for an acknowledgement. */
    request_interval: opt.number(30, { min: 1, integer: true }),
    /** Unacknowledged stanzas past which the stream is closed (its messages go offline). */
    max_unacked: opt.number(5000, { min: 1, integer: true }),
  },
  start(ctx) {
    const o = ctx.options;
    const clustered = ctx.clusterNode !== null;
    const bySession = new Map<Session, SmState>();
    // Other modules ask whether a session waits for resumption (push notifies those, XEP-0357).
    ctx.provide('stream_management', { isDetached: (session: Session) => session.detached && bySession.has(session) });
    const byId = new Map<string, SmState>();
    const events = ctx.counter({ name: 'xmppd_sm_events_total', help: 'Stream management (XEP-0198): enabled, resumed, resume_failed, detached, expired, stored_offline, bounced, handed_over (to another cluster node)', labelNames: ['host', 'event'] });
    const detachedGauge = ctx.gauge({ name: 'xmppd_sm_detached_sessions', help: 'Sessions waiting to be resumed (XEP-0198)', labelNames: ['host'] });
    detachedGauge.set({ host: ctx.host }, 0);
    ctx.onStop(() => detachedGauge.remove({ host: ctx.host }));
    let detachedCount = 0;
    const setDetached = (delta: number) => detachedGauge.set({ host: ctx.host }, (detachedCount += delta));

    const forget = (st: SmState) => {
      bySession.delete(st.acks.session);
      if (st.id) byId.delete(st.id);
      if (st.timer) {
        clearTimeout(st.timer);
        st.timer = null;
        setDetached(-1);
      }
    };

    // §5: a resumable session whose transport is lost waits `timeout` seconds, then ends (session_closed).
    const onDetach = (st: SmState, reason: string) => {
      ctx.log.info('session detached, waiting to be resumed', { jid: st.acks.session.jid.toString(), reason, timeout: st.timeout, unacked: st.acks.unacked.length });
      events.inc({ host: ctx.host, event: 'detached' });
      setDetached(1);
      st.timer = setTimeout(() => {
        st.timer = null;
        setDetached(-1);
        events.inc({ host: ctx.host, event: 'expired' });
        ctx.log.info('session not resumed in time', { jid: st.acks.session.jid.toString(), unacked: st.acks.unacked.length });
        st.acks.session.close();
      }, st.timeout * 1000);
      st.timer.unref();
    };

    /** Counts what `session` sends and receives under `st` from now on; `st.release` undoes it. */
    const track = (session: Session, st: SmState): void => {
      bySession.set(session, st);
      const unfilter = session.addOutboundFilter(st.acks.filter, 10);
      session.setInboundCounter(st.acks.countInbound);
      st.release = () => {
        unfilter();
        session.setInboundCounter(null);
        session.setDetachable(null);
      };
    };

    /** §4 <enable/>: the answer (<enabled/> or <failed/>), for the caller to write or put in Bind2's <bound/>. */
    const enable = (session: Session, el: Element): Element => {
      if (bySession.has(session)) return failed('unexpected-request');
      const wantsResume = el.attrs.resume === 'true' || el.attrs.resume === '1';
      const asked = Number(el.attrs.max);
      const timeout = Number.isInteger(asked) && asked > 0 ? Math.min(asked, o.max_resume_timeout) : Math.min(o.resume_timeout, o.max_resume_timeout);
      const acks = new AckQueue(session, o.ack_after, o.max_unacked, () => session.close(new StreamError('policy-violation', `more than ${o.max_unacked} stanzas wait for an acknowledgement`)));
      const st: SmState = { acks, id: null, timeout, timer: null, release: () => {} };
      const attrs: Record<string, string> = { xmlns: NS_SM };
      if (wantsResume && o.resume) {
        st.id = randomBytes(18).toString('base64url');
        byId.set(st.id, st);
        // In a cluster the id is a mark of the session: a node the client resumes on finds the node that holds it.
        if (clustered) void session.mark(smMark(st.id), true);
        session.setDetachable((reason) => onDetach(st, reason));
        Object.assign(attrs, { id: st.id, resume: 'true', max: String(timeout) }, o.location ? { location: o.location } : {});
      }
      // The caller writes <enabled/> before anything else reaches the client: what comes after it is what h covers.
      track(session, st);
      events.inc({ host: ctx.host, event: 'enabled' });
      return xml('enabled', attrs);
    };

    ctx.hook('c2s_stream_features', (features, { stage }) => (stage === 'post-auth' ? [...features, xml('sm', { xmlns: NS_SM })] : undefined));

    ctx.hook('c2s_nonza', (handled, { session, element: el }) => {
      if (handled || el.attrs.xmlns !== NS_SM) return undefined;
      const st = bySession.get(session);
      switch (el.name) {
        case 'enable':
          session.writeNonza(enable(session, el));
          return true;
        case 'r':
          if (!st) return undefined; // §4: not enabled, so not ours (the stream ends with unsupported-stanza-type)
          session.writeNonza(xml('a', { xmlns: NS_SM, h: String(st.acks.handled) }));
          return true;
        case 'a': {
          if (!st) return undefined;
          const h = parseH(el.attrs.h);
          if (h === null) session.close(new StreamError('invalid-xml', "<a/> needs an 'h' between 0 and 4294967295"));
          else if (!st.acks.ack(h)) session.close(new StreamError('undefined-condition', `handled count ${h} is more than the server sent`));
          return true;
        }
        case 'resume':
          session.writeNonza(failed('unexpected-request')); // §5: resumption replaces binding, it does not follow it
          return true;
        default:
          return undefined;
      }
    });

    /**
     * §5 <resume/> on an authenticated stream: take the session over. The answer (<resumed/> or <failed/>)
     * is the caller's to write (a nonza, or inside SASL2's <success/>); then afterResume sends what it owes.
     */
    const resume = (stream: UnboundStream, el: Element): { answer: Element; resumed?: SmState } => {
      const st = el.attrs.previd ? byId.get(el.attrs.previd) : undefined;
      const h = parseH(el.attrs.h);
      if (!st || !st.acks.session.jid.bare().equals(stream.account)) {
        events.inc({ host: ctx.host, event: 'resume_failed' });
        return { answer: failed('item-not-found') };
      }
      if (h === null || st.acks.acknowledges(h) < 0) return { answer: failed(h === null ? 'bad-request' : 'undefined-condition', st.acks.handled) };
      if (!stream.takeOver(st.acks.session)) {
        events.inc({ host: ctx.host, event: 'resume_failed' });
        return { answer: failed('item-not-found') };
      }
      if (st.timer) {
        clearTimeout(st.timer);
        st.timer = null;
        setDetached(-1);
      }
      st.acks.ack(h);
      return { answer: xml('resumed', { xmlns: NS_SM, previd: st.id!, h: String(st.acks.handled) }), resumed: st };
    };

    /** After <resumed/> went out: the unacknowledged stanzas again, then what other modules held (CSI). */
    const afterResume = async (st: SmState): Promise<void> => {
      const session = st.acks.session;
      st.acks.resend();
      const handed = resent.get(st);
      if (handed) {
        resent.delete(st);
        for (const x of handed) session.send(x);
      }
      if (ctx.hasHandlers('session_resumed')) await ctx.runNotify('session_resumed', { session });
      events.inc({ host: ctx.host, event: 'resumed' });
      ctx.log.info('session resumed', { jid: session.jid.toString(), resent: st.acks.unacked.length });
    };

    // XEP-0198 inside SASL2 (XEP-0388 inline) and Bind2 (XEP-0386): resumption in <authenticate/>,
    // <enable/> in <bind/>; the answers go in <success/> and <bound/>.
    ctx.hook('sasl2_features', (inline) => [...inline, xml('sm', { xmlns: NS_SM })]);
    ctx.hook('sasl2_inline', (answers, { stream, element: el, outcome }) => {
      if (el.attrs.xmlns !== NS_SM || el.name !== 'resume' || outcome.resumed) return undefined;
      const r = resume(stream, el);
      if (r.resumed) {
        const st = r.resumed;
        outcome.resumed = st.acks.session.jid.toString();
        setImmediate(() => void afterResume(st)); // after <success/> is written
      }
      return [...answers, r.answer];
    });
    ctx.hook('bind2_features', (vars) => [...vars, NS_SM]);
    ctx.hook('bind2_inline', (answers, { session, element: el }) => {
      if (el.attrs.xmlns !== NS_SM || el.name !== 'enable') return undefined;
      return [...answers, enable(session, el)];
    });

    // §5 resumption: on an authenticated stream, in place of resource binding.
    ctx.hook('c2s_unbound_nonza', async (handled, { stream, element: el }) => {
      if (handled || el.attrs.xmlns !== NS_SM) return undefined;
      if (el.name !== 'resume') {
        if (el.name === 'enable') stream.writeNonza(failed('unexpected-request')); // §4: after binding
        return el.name === 'enable' || el.name === 'r' || el.name === 'a';
      }
      const r = byId.has(el.attrs.previd ?? '') || !clustered ? resume(stream, el) : await resumeFromNode(stream, el);
      stream.writeNonza(r.answer);
      if (r.resumed) await afterResume(r.resumed);
      return true;
    });

    // ---- resumption on another cluster node than the one that holds the detached session ----

    /** The node holding the session hands it over: its state, and it ends there without going unavailable. */
    ctx.clusterServe('handover', (payload, from) => {
      const p = payload as { previd: string; account: string; h: number };
      const st = byId.get(p.previd);
      if (!st || !st.acks.session.jid.bare().equals(Jid.parse(p.account))) return { error: 'item-not-found' };
      if (st.acks.acknowledges(p.h) < 0) return { error: 'undefined-condition', h: st.acks.handled };
      st.acks.ack(p.h);
      const s = st.acks.session;
      const out: HandedOver = {
        jid: s.jid.toString(), presence: s.presence ? s.presence.toString() : null, priority: s.priority, marks: [...s.marks],
        handled: st.acks.handled, unacked: st.acks.unacked.map((x) => x.toString()), timeout: st.timeout,
      };
      forget(st);
      st.release();
      s.handOver(from);
      events.inc({ host: ctx.host, event: 'handed_over' });
      ctx.log.info('session handed over to another node', { jid: out.jid, node: from, unacked: out.unacked.length });
      return out;
    });

    /** §5 <resume/> for a session another node holds (found by its mark): fetched from there, bound here. */
    const resumeFromNode = async (stream: UnboundStream, el: Element): Promise<{ answer: Element; resumed?: SmState }> => {
      const previd = el.attrs.previd ?? '';
      const h = parseH(el.attrs.h);
      const holder = ctx.sessionsOf(stream.account).find((s) => s.remote !== undefined && s.marks.has(smMark(previd)));
      if (!holder || h === null) {
        events.inc({ host: ctx.host, event: 'resume_failed' });
        return { answer: failed(h === null && holder ? 'bad-request' : 'item-not-found') };
      }
      let got: HandedOver | { error: string; h?: number };
      try {
        got = (await ctx.clusterRequest(holder.remote!, 'handover', { previd, account: stream.account.toString(), h })) as typeof got;
      } catch (err) {
        ctx.log.warn('resumption on another node failed', { node: holder.remote, err: (err as Error).message });
        got = { error: 'item-not-found' };
      }
      if ('error' in got) {
        events.inc({ host: ctx.host, event: 'resume_failed' });
        return { answer: failed(got.error, got.h) };
      }
      const session = stream.adopt({
        resource: Jid.parse(got.jid).resource, presence: got.presence === null ? null : parseXml(got.presence), priority: got.priority, marks: got.marks,
      });
      const pending = got.unacked.map((x) => parseXml(x));
      if (!session) {
        // Handed over but not bindable here: what it never acknowledged goes the offline way.
        await handBack(ctx, { jid: Jid.parse(got.jid) } as Session, pending);
        events.inc({ host: ctx.host, event: 'resume_failed' });
        return { answer: failed('item-not-found') };
      }
      const acks = new AckQueue(session, o.ack_after, o.max_unacked, () => session.close(new StreamError('policy-violation', `more than ${o.max_unacked} stanzas wait for an acknowledgement`)));
      acks.restore(got.handled, h);
      const st: SmState = { acks, id: previd, timeout: Math.min(got.timeout, o.max_resume_timeout), timer: null, release: () => {} };
      byId.set(previd, st);
      session.setDetachable((reason) => onDetach(st, reason));
      track(session, st);
      resent.set(st, pending);
      return { answer: xml('resumed', { xmlns: NS_SM, previd, h: String(got.handled) }), resumed: st };
    };
    /** Stanzas a handed-over session still owes the client, written after <resumed/>. */
    const resent = new WeakMap<SmState, Element[]>();

    // A session that ends (closed, not resumed in time): what it never acknowledged is not dropped.
    ctx.hook('session_closed', async ({ session }) => {
      const st = bySession.get(session);
      if (!st) return;
      forget(st);
      st.release();
      if (!st.acks.unacked.length) return;
      const { stored, bounced } = await handBack(ctx, session, st.acks.unacked);
      if (stored) events.inc({ host: ctx.host, event: 'stored_offline' }, stored);
      if (bounced) events.inc({ host: ctx.host, event: 'bounced' }, bounced);
    });

    // §4: <r/> on a timer while stanzas wait for an acknowledgement.
    ctx.setInterval(() => {
      for (const st of bySession.values()) if (st.acks.unacked.length && !st.acks.session.detached) st.acks.request();
    }, o.request_interval * 1000);

    // Unloaded: attached sessions go on without stream management; detached ones end now, their messages stored.
    ctx.onStop(async () => {
      for (const st of [...bySession.values()]) {
        const session = st.acks.session;
        const wasDetached = session.detached;
        forget(st);
        st.release();
        if (wasDetached) {
          session.close();
          if (st.acks.unacked.length) await handBack(ctx, session, st.acks.unacked);
        }
      }
    });
  },
});
