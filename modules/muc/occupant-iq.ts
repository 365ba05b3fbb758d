// IQs to an occupant's room JID: XEP-0410 self-ping (answered by the service for the occupant itself, not-acceptable
// for anyone not joined under that nick); other IQs to occupants are not relayed (service-unavailable).
import { StanzaError, type Element, type Jid } from '../../src/sdk.js';
import { NS_PING } from './ns.js';
import type { MucService } from './service.js';

export async function onOccupantIq(svc: MucService, el: Element, from: Jid, to: Jid): Promise<void> {
  await svc.iq(el, from, to, (call) => {
    const room = svc.visibleRoom(to.local, from);
    if (call.payload.name === 'ping' && call.payload.attrs.xmlns === NS_PING && call.type === 'get') {
      // XEP-0410 §3: the client is still joined under that nick: the service answers itself.
      const occ = room?.bySession.get(from.toString());
      if (occ && occ.nick === to.resource) return null;
      throw new StanzaError('not-acceptable', 'you are not joined to this room under that nick');
    }
    if (!room) throw new StanzaError('item-not-found', 'no such room');
    if (!room.occupants.has(to.resource)) throw new StanzaError('item-not-found', `nobody is called ${to.resource} in this room`);
    throw new StanzaError('service-unavailable', 'IQs to occupants are not relayed');
  });
}
