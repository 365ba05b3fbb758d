// IQs to an occupant's room JID: XEP-0410 self-ping (answered by the service for the occupant itself,
// not-acceptable for anyone not joined under that nick), and other IQs between occupants relayed through the
// room, as ejabberd and Prosody do: the requester's real JID stays hidden, a vcard-temp get goes to the
// target's bare JID (its server answers), anything else to the target's client; answers come back by id.
import { randomBytes } from 'node:crypto';
import { cloneElement, StanzaError, type Element, type Jid } from '../../src/sdk.js';
import { NS_PING } from './ns.js';
import type { MucService } from './service.js';

const RELAY_TIMEOUT_MS = 60_000;
interface Pending { id: string | undefined; requester: Jid; target: string; at: number }

export class IqRelay {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly svc: MucService) {
    svc.ctx.setInterval(() => this.sweep(), RELAY_TIMEOUT_MS / 2);
  }

  private sweep(): void {
    const old = Date.now() - RELAY_TIMEOUT_MS;
    for (const [k, p] of this.pending) if (p.at < old) this.pending.delete(k);
  }

  async onIq(el: Element, from: Jid, to: Jid): Promise<void> {
    const svc = this.svc;
    const type = el.attrs.type;
    if (type === 'result' || type === 'error') return this.answer(el, from, to);
    await svc.iq(el, from, to, async (call) => {
      const room = svc.visibleRoom(to.local, from);
      if (call.payload.name === 'ping' && call.payload.attrs.xmlns === NS_PING && call.type === 'get') {
        // XEP-0410 §3: the client is still joined under that nick: the service answers itself.
        const occ = room?.bySession.get(from.toString());
        if (occ && occ.nick === to.resource) return null;
        throw new StanzaError('not-acceptable', 'you are not joined to this room under that nick');
      }
      if (!room) throw new StanzaError('item-not-found', 'no such room');
      const sender = room.bySession.get(from.toString()) ?? room.byBare.get(from.bareString());
      if (!sender) throw new StanzaError('not-acceptable', 'only occupants send IQs to occupants');
      const target = room.occupants.get(to.resource);
      if (!target) throw new StanzaError('item-not-found', `nobody is called ${to.resource} in this room`);
      const vcard = call.payload.attrs.xmlns === 'vcard-temp';
      if (vcard && call.type === 'set') throw new StanzaError('not-allowed', "nobody sets another occupant's vCard");
      const dest = vcard ? target.bare : target.sessions.values().next().value!;
      const id = `muc-${randomBytes(9).toString('base64url')}`;
      this.pending.set(id, { id: el.attrs.id, requester: from, target: dest.toString(), at: Date.now() });
      const out = cloneElement(el);
      out.attrs = { ...out.attrs, id, from: room.jid.withResource(sender.nick).toString(), to: dest.toString() };
      // Not awaited: the target's server may answer (vcard-temp) within this very route, and its answer needs
      // the room this stanza holds.
      void svc.ctx.route(out, room.jid.withResource(sender.nick), dest);
      return undefined; // answered when the target answers
    });
  }

  /** An answer to a relayed IQ: back to the requester, from the target's room JID. */
  private async answer(el: Element, from: Jid, to: Jid): Promise<void> {
    const id = el.attrs.id as string | undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || p.target !== from.toString()) return;
    this.pending.delete(id!);
    const room = this.svc.rooms.get(to.local);
    const target = room && [...room.occupants.values()].find((o) => o.bare.bareString() === from.bareString());
    const origin = target ? room.jid.withResource(target.nick) : to;
    const out = cloneElement(el);
    out.attrs = { ...out.attrs, from: origin.toString(), to: p.requester.toString() };
    if (p.id === undefined) delete out.attrs.id;
    else out.attrs.id = p.id;
    await this.svc.route(out, origin, p.requester);
  }
}
