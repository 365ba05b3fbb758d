// A minimal room service for the room-archive tests (loaded through module_paths): it serves rooms.<host>,
// archives each groupchat message sent to a room through ctx.service(ROOM_ARCHIVE_SERVICE) and echoes it to
// the sender with the room's XEP-0359 <stanza-id/>, answers XEP-0313 IQs to a room (a room named "closed"
// refuses: forbidden), and removes a room's archive on <destroy xmlns='urn:example:room-probe'/>.
import { defineModule, xml, Jid, StanzaError, ROOM_ARCHIVE_SERVICE, errorReply, iqResult, type Element } from '../../../src/sdk.js';

export default defineModule({
  name: 'room-probe',
  start(ctx) {
    const archive = () => {
      const api = ctx.service(ROOM_ARCHIVE_SERVICE);
      if (!api) throw new StanzaError('service-unavailable', 'no room archive on this host');
      return api;
    };
    async function answer(el: Element, from: Jid, room: Jid): Promise<Element | null> {
      if (el.name === 'message' && el.attrs.type === 'groupchat' && !room.resource) {
        const nick = from.local;
        const broadcast = xml('message', { from: `${room.toString()}/${nick}`, type: 'groupchat', id: el.attrs.id }, ...el.getChildren('body'));
        const id = await archive().append(room, broadcast, from.bare());
        broadcast.attrs.to = from.toString();
        broadcast.cnode(xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', by: room.toString(), id }));
        return broadcast;
      }
      if (el.name !== 'iq' || (el.attrs.type !== 'get' && el.attrs.type !== 'set')) return null;
      const payload = el.getChild('query', 'urn:xmpp:mam:2') ?? el.getChild('destroy', 'urn:example:room-probe');
      if (!payload) throw new StanzaError('service-unavailable');
      if (room.local === 'closed') throw new StanzaError('forbidden', 'only members may read this room\'s archive');
      if (payload.name === 'destroy') {
        await archive().remove(room);
        return iqResult(el, null, room.toString());
      }
      const result = el.attrs.type === 'get' ? archive().form() : await archive().query(room, from, payload);
      return iqResult(el, result, room.toString());
    }
    ctx.serveDomain(`rooms.${ctx.host}`, async (el, from, to) => {
      el.attrs.from = from.toString();
      let reply: Element | null;
      try {
        reply = await answer(el, from, to);
      } catch (err) {
        if (el.attrs.type === 'error' || el.attrs.type === 'result') return;
        reply = errorReply(el, err instanceof StanzaError ? err : new StanzaError('internal-server-error'), to.toString());
      }
      if (reply) await ctx.route(reply, to, from);
    });
  },
});
