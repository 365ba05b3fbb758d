// XEP-0191 §3.3/§3.4 presence side effects: on block, unavailable presence to the JID; on unblock, the
// user's current presence (and a probe, so the user sees the contact again) — only where RFC 6121
// subscriptions allow it, read from the roster service.
import { Jid, xml, ROSTER_SERVICE, type Element, type ModuleContext, type RosterApi, type RosterItem, type Session } from '../../src/sdk.js';
import { isBlocked, presenceTarget, type BlockList } from './match.js';

type Send = (el: Element, from: Jid, to: Jid) => void;

export class PresenceEffects {
  constructor(private readonly ctx: ModuleContext<any>, private readonly send: Send) {}

  /**
   * §3.3: "MUST send unavailable presence information to the JID (but only if the JID is allowed to
   * receive presence notifications from the user)", i.e. contacts with a 'from' or 'both' subscription.
   * Without the roster module no subscription exists (RFC 6121 §4.4.2: presence goes to subscribers
   * only), so nothing is sent: an unsolicited presence would tell a blocked stranger the account exists.
   * Targets already covered by the old list heard this when they were blocked.
   */
  async blocked(owner: Jid, added: Jid[], before: BlockList): Promise<void> {
    const available = this.available(owner);
    const roster = this.ctx.service(ROSTER_SERVICE);
    if (!roster || !added.length || !available.length) return;
    for (const { target } of await this.affected(roster, owner, added)) {
      if (!target.sees || isBlocked(before, target.jid)) continue;
      for (const s of available) {
        this.send(xml('presence', { type: 'unavailable', from: s.jid.toString(), to: target.jid.toString() }), s.jid, target.jid);
      }
    }
  }

  /**
   * §3.4: "MUST send the user's current presence information to the JID" (same subscription rule), from
   * each available resource. The contact's presence was dropped while blocked, so when the user is
   * subscribed to it ('to'/'both') a probe from the bare JID (RFC 6121 §4.3) fetches it again. Targets
   * still covered by what remains on the list (e.g. a blocked domain) are left alone.
   */
  async unblocked(owner: Jid, removed: Jid[], after: BlockList): Promise<void> {
    const available = this.available(owner);
    const roster = this.ctx.service(ROSTER_SERVICE);
    if (!roster || !removed.length || !available.length) return;
    const probed = new Set<string>();
    for (const { target, item } of await this.affected(roster, owner, removed)) {
      if (isBlocked(after, target.jid)) continue;
      if (target.sees) {
        for (const s of available) this.send(copyPresence(s.presence!, s.jid, target.jid), s.jid, target.jid);
      }
      const contact = target.jid.bare();
      if ((item.subscription === 'to' || item.subscription === 'both') && !probed.has(contact.toString()) && this.probesHandled(contact)) {
        probed.add(contact.toString());
        this.send(xml('presence', { type: 'probe', from: owner.bareString(), to: contact.toString() }), owner.bare(), contact);
      }
    }
  }

  private available(owner: Jid): Session[] {
    return this.ctx.sessionsOf(owner.bare()).filter((s) => s.presence !== null);
  }

  /** A probe to a local account only makes sense when a module answers probes (else the client gets it raw). */
  private probesHandled(contact: Jid): boolean {
    return !this.ctx.isLocal(contact.domain) || this.ctx.hasHandlers('presence_in', contact.domain);
  }

  /** Roster contacts covered by `items`, with the address each change concerns (deduplicated). */
  private async affected(roster: RosterApi, owner: Jid, items: Jid[]): Promise<Array<{ target: { jid: Jid; sees: boolean }; item: RosterItem }>> {
    const out = new Map<string, { target: { jid: Jid; sees: boolean }; item: RosterItem }>();
    for (const ri of await roster.items(owner.bare())) {
      const contact = Jid.tryParse(ri.jid);
      if (!contact) continue;
      const sees = ri.subscription === 'from' || ri.subscription === 'both';
      for (const it of items) {
        const jid = presenceTarget(it, contact.bare());
        if (jid && !out.has(jid.toString())) out.set(jid.toString(), { target: { jid, sees }, item: ri });
      }
    }
    return [...out.values()];
  }
}

/** The session's last broadcast presence, re-addressed (a fresh tree: elements keep parent links). */
function copyPresence(p: Element, from: Jid, to: Jid): Element {
  const el = copy(p);
  el.attrs.from = from.toString();
  el.attrs.to = to.toString();
  return el;
}

function copy(el: Element): Element {
  const out = xml(el.name, { ...el.attrs });
  for (const c of el.children) out.cnode(typeof c === 'string' ? c : copy(c));
  return out;
}
