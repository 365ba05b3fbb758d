// XEP-0191 §3.3 enforcement "both ways" on every routed stanza (filter_packet): what a blocked JID sends
// to the user, and what the user sends to a blocked JID (not-acceptable + <blocked/>).
import { DROP, StanzaError, errorReply, xml, type Element, type Jid, type ModuleContext, type Session } from '../../src/sdk.js';
import { EMPTY, isBlocked, type BlockList } from './match.js';
import type { BlockLists } from './store.js';

export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';

type Verdict = typeof DROP | undefined;

export class Enforcer {
  /** Stanzas this module routes itself (its error replies, presence on block/unblock): never refused by it. */
  private readonly ours = new WeakSet<Element>();

  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly lists: BlockLists,
    private readonly bounceMessages: boolean,
  ) {}

  /** Route a stanza past this module's own filter. */
  send(el: Element, from: Jid, to: Jid): void {
    this.ours.add(el);
    this.ctx.send(el, from, to);
  }

  /** The user's own server (its domain JID) is never blocked: it must stay reachable. */
  private isOwnServer(j: Jid): boolean {
    return j.local === '' && j.domain === this.ctx.host;
  }

  /** filter_packet. The common case — no local account on either side, or empty lists — is a Map lookup. */
  readonly filter = (el: Element, c: { from: Jid; to: Jid }): Verdict | Promise<Verdict> => {
    const { from, to } = c;
    // Whose list applies: filter_packet runs on this host for stanzas to its accounts and for stanzas
    // from them (to remote domains or another local host), so each side is checked for being ours.
    const host = this.ctx.host;
    const outbound = from.local !== '' && from.domain === host; // sent by an account of this host
    const inbound = to.local !== '' && to.domain === host; // addressed to an account of this host
    if (!outbound && !inbound) return undefined;
    // One account's resources always reach each other (XEP-0191 §5 note).
    if ((outbound && inbound && from.local === to.local) || this.ours.has(el)) return undefined;
    const out = outbound && !this.isOwnServer(to) ? this.lists.peek(from) : EMPTY;
    const inn = inbound && !this.isOwnServer(from) ? this.lists.peek(to) : EMPTY;
    if (out === EMPTY && inn === EMPTY) return undefined;
    if (out !== undefined && inn !== undefined) return this.decide(el, from, to, out, inn);
    return Promise.all([out ?? this.lists.get(from), inn ?? this.lists.get(to)]).then(([o, i]) => this.decide(el, from, to, o, i));
  };

  /**
   * c2s_presence_out: directed presence the client itself sent to a blocked JID is refused with the
   * §3.3 error. Subscription management (subscribe, unsubscribed ...) goes on to the roster module so the
   * user's roster stays right; filter_packet then drops it quietly on its way out.
   */
  readonly presenceOut = (el: Element, c: { session: Session; to: Jid | null }): Verdict | Promise<Verdict> => {
    const { session, to } = c;
    const type = el.attrs.type as string | undefined;
    if (to === null || (type !== undefined && type !== 'unavailable')) return undefined;
    const owner = session.jid;
    if (to.bareString() === owner.bareString() || this.isOwnServer(to)) return undefined;
    const refuse = (list: BlockList): Verdict => {
      if (!isBlocked(list, to)) return undefined;
      this.bounce(el, owner, to, blockedError());
      return DROP;
    };
    const list = this.lists.peek(owner);
    if (list === EMPTY) return undefined;
    return list !== undefined ? refuse(list) : Promise.resolve(this.lists.get(owner)).then(refuse);
  };

  private decide(el: Element, from: Jid, to: Jid, out: BlockList, inn: BlockList): Verdict {
    if (out.size > 0 && isBlocked(out, to)) {
      // §3.3: the user's server "MUST NOT route the stanza to the JID but instead MUST return a
      // not-acceptable error" with <blocked/>. Errors and IQ results are never answered (RFC 6120 §8.3.1).
      // Presence reaching this point was routed by the server on the user's behalf (broadcast to
      // subscribers, probes): it is dropped quietly, as the client's own directed presence was answered
      // in c2s_presence_out.
      if (el.name !== 'presence' && mayAnswer(el)) this.bounce(el, from, to, blockedError());
      return DROP;
    }
    if (inn.size > 0 && isBlocked(inn, from)) {
      // §3.3, inbound from a blocked JID: presence (notifications, subscriptions, probes) — no answer,
      // no error; message — SHOULD return service-unavailable; IQ get/set — MUST return an error
      // (service-unavailable), other IQs MUST be dropped silently. The user appears offline.
      const type = el.attrs.type as string | undefined;
      if (el.name === 'message' ? this.bounceMessages && type !== 'error' : el.name === 'iq' && (type === 'get' || type === 'set')) {
        this.bounce(el, from, to, new StanzaError('service-unavailable'));
      }
      return DROP;
    }
    return undefined;
  }

  /** Answer `el` (from → to) with an error from the address it was sent to. */
  private bounce(el: Element, from: Jid, to: Jid, error: StanzaError): void {
    const reply = errorReply(el, error, to.toString());
    reply.attrs.to = from.toString();
    this.send(reply, to, from);
  }
}

/** §3.3 example: <not-acceptable/> with the <blocked/> application condition, type cancel. */
function blockedError(): StanzaError {
  return new StanzaError('not-acceptable', undefined, 'cancel', xml('blocked', { xmlns: NS_BLOCKING_ERRORS }));
}

function mayAnswer(el: Element): boolean {
  const type = el.attrs.type;
  return type !== 'error' && !(el.name === 'iq' && type === 'result');
}
