// Presence broadcast (RFC 6121 §4): initial and subsequent presence to subscribers and the user's own
// resources, probes and their answers (§4.3), unavailable presence (§4.5), directed presence (§4.6).
import { xml, Jid, NS, cloneElement as clone, elementFromJson, type Element, type ModuleContext, type Session, ROSTER_SERVICE, type RosterApi } from '../../src/sdk.js';
import { hasFrom, hasTo } from './subscription.js';

/** How many users' last unavailable presence is kept for probe answers (oldest forgotten first). */
const LAST_UNAVAILABLE_MAX = 10_000;

export class Broadcaster {
  /** Full JIDs a session sent available directed presence to (§4.6.3: they hear when it goes away). */
  private readonly directed = new WeakMap<Session, Map<string, Jid>>();
  /** The last unavailable presence of users with no available resource, for probe answers (§4.3.2). */
  private readonly lastUnavailable = new Map<string, Element>();
  /** Stanzas this module re-routes for plain delivery: presence_in lets them through untouched. */
  readonly passThrough = new WeakSet<Element>();

  constructor(private readonly ctx: ModuleContext<any>) {}

  roster(): RosterApi | undefined {
    return this.ctx.service(ROSTER_SERVICE);
  }

  /** Route a stanza; local deliveries are awaited so their effects are in place when we go on. */
  async route(el: Element, from: Jid, to: Jid): Promise<void> {
    el.attrs.from = from.toString();
    el.attrs.to = to.toString();
    const done = this.ctx.route(el, from, to);
    // A remote delivery may wait for a server-to-server connection: that is not worth holding up for.
    if (this.ctx.isLocal(to.domain)) await done;
  }

  /** Route for plain delivery to a local user, past this module's presence_in handler. */
  deliver(el: Element, from: Jid, to: Jid): Promise<void> {
    this.passThrough.add(el);
    return this.route(el, from, to);
  }

  available(owner: Jid): Session[] {
    return this.ctx.sessionsOf(owner).filter((s) => s.presence !== null);
  }

  /** The current presence of every available resource of `owner`, to `to`. */
  async sendAvailable(owner: Jid, to: Jid): Promise<void> {
    await Promise.all(this.available(owner).map((s) => this.route(clone(s.presence!), s.jid, to)));
  }

  async sendUnavailable(owner: Jid, to: Jid): Promise<void> {
    await Promise.all(this.available(owner).map((s) => this.route(xml('presence', { type: 'unavailable' }), s.jid, to)));
  }

  private async contacts(owner: Jid, which: (i: { subscription: 'none' | 'to' | 'from' | 'both' }) => boolean): Promise<Jid[]> {
    const items = (await this.roster()?.items(owner)) ?? [];
    return items.filter(which).map((i) => Jid.tryParse(i.jid)).filter((j): j is Jid => j !== null);
  }

  /**
   * Available broadcast presence (§4.2.2 initial, §4.4.2 subsequent): to every contact with a
   * subscription from the user, and to all of the user's available resources, the sender included.
   */
  async broadcastAvailable(session: Session, el: Element): Promise<void> {
    const owner = session.jid.bare();
    const targets = await this.contacts(owner, (i) => hasFrom(i.subscription));
    for (const s of this.ctx.sessionsOf(owner)) if (s === session || s.presence !== null) targets.push(s.jid);
    await Promise.all(targets.map((t) => this.route(clone(el), session.jid, t)));
  }

  /**
   * First available presence (§4.2.2, §4.2.3): the new resource hears the user's other resources, probes
   * go from the bare JID to the contacts whose presence the user has, and pending inbound requests are
   * shown again (§3.1.3).
   */
  async onAvailable(session: Session): Promise<void> {
    const owner = session.jid.bare();
    this.lastUnavailable.delete(owner.bareString());
    for (const s of this.available(owner)) {
      if (s !== session) await this.deliver(clone(s.presence!), s.jid, session.jid);
    }
    const items = (await this.roster()?.items(owner, { includeHidden: true })) ?? [];
    const probed = items.filter((i) => !i.hidden && hasTo(i.subscription)).map((i) => Jid.tryParse(i.jid)).filter((j): j is Jid => j !== null);
    await Promise.all(probed.map((c) => this.route(xml('presence', { type: 'probe' }), owner, c)));
    for (const i of items) {
      const contact = Jid.tryParse(i.jid);
      if (!contact || !i.pendingIn) continue;
      const request = i.pendingStanza ? elementFromJson(i.pendingStanza) : xml('presence', { type: 'subscribe' });
      await this.deliver(request, contact, session.jid);
    }
  }

  /**
   * A session went unavailable, by presence or by disconnecting (§4.5.2): unavailable to subscribers,
   * the user's other available resources and everyone it sent directed presence to (§4.6.3).
   */
  async onUnavailable(session: Session, stanza: Element | null): Promise<void> {
    const owner = session.jid.bare();
    const el = stanza ? clone(stanza) : xml('presence', { type: 'unavailable' });
    delete el.attrs.to;
    const targets = new Map<string, Jid>();
    const subscribers = await this.contacts(owner, (i) => hasFrom(i.subscription));
    for (const c of subscribers) targets.set(c.toString(), c);
    const others = this.available(owner).filter((s) => s !== session);
    for (const s of others) targets.set(s.jid.toString(), s.jid);
    for (const t of this.takeDirected(session)) {
      if (!targets.has(t.bareString())) targets.set(t.toString(), t);
    }
    if (!others.length) {
      const last = clone(el);
      last.attrs.from = session.jid.toString();
      last.cnode(xml('delay', { xmlns: NS.DELAY, from: this.ctx.host, stamp: new Date().toISOString() }));
      this.lastUnavailable.delete(owner.bareString());
      this.lastUnavailable.set(owner.bareString(), last);
      if (this.lastUnavailable.size > LAST_UNAVAILABLE_MAX) this.lastUnavailable.delete(this.lastUnavailable.keys().next().value!);
    }
    await Promise.all([...targets.values()].map((t) => this.route(clone(el), session.jid, t)));
  }

  /** Remember (or forget) a directed presence target of a session. */
  trackDirected(session: Session, to: Jid, available: boolean): void {
    if (to.bare().equals(session.jid.bare())) return;
    let m = this.directed.get(session);
    if (available) {
      if (!m) this.directed.set(session, (m = new Map()));
      m.set(to.toString(), to);
    } else {
      m?.delete(to.toString());
    }
  }

  /** Unavailable to the session's directed presence targets, forgetting them. */
  async flushDirected(session: Session, stanza?: Element): Promise<void> {
    for (const t of this.takeDirected(session)) {
      const el = stanza ? clone(stanza) : xml('presence', { type: 'unavailable' });
      await this.route(el, session.jid, t);
    }
  }

  private takeDirected(session: Session): Jid[] {
    const m = this.directed.get(session);
    this.directed.delete(session);
    return m ? [...m.values()] : [];
  }

  /**
   * A probe for a local user (§4.3.2). Only a contact with a subscription from the user learns
   * anything; the others get 'unsubscribed' so that their server can correct its state.
   */
  async answerProbe(from: Jid, to: Jid): Promise<void> {
    const owner = to.bare();
    const contact = from.bare();
    const item = await this.roster()?.get(owner, contact);
    if (!item || item.hidden || !hasFrom(item.subscription)) {
      await this.route(xml('presence', { type: 'unsubscribed' }), owner, contact);
      return;
    }
    if (to.resource) {
      const s = this.available(owner).find((x) => x.jid.equals(to));
      await this.route(s ? clone(s.presence!) : xml('presence', { type: 'unavailable' }), to, from);
      return;
    }
    const sessions = this.available(owner);
    if (sessions.length) {
      for (const s of sessions) await this.route(clone(s.presence!), s.jid, from);
      return;
    }
    const last = this.lastUnavailable.get(owner.bareString());
    const el = last ? clone(last) : xml('presence', { type: 'unavailable' });
    await this.route(el, last ? Jid.parse(last.attrs.from) : owner, from);
  }
}
