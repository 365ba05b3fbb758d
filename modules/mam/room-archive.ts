// XEP-0313 §5 archives of XEP-0045 rooms (MAM on the room JID): the room_archive service the muc module
// uses. Rows, quota (room_max_messages), queries, paging and expiry are the user archives' own, keyed by
// the room JID; results go to the requester from the room.
import { cloneElement, Jid, type Element, type ModuleContext, type RoomArchiveApi } from '../../src/sdk.js';
import { answerQuery, queryForm } from './query.js';
import type { RoomDomains } from './room-domains.js';
import type { ArchiveWriter } from './writer.js';

const NS_SID = 'urn:xmpp:sid:0';

export function roomArchive(ctx: ModuleContext<{ max_results: number }>, writer: ArchiveWriter, domains: RoomDomains): RoomArchiveApi {
  /** A room is room@service on a MUC domain: never a virtual host, whose keys are its accounts'. */
  const checked = (room: Jid): Jid => {
    if (!room.local || room.resource || ctx.isLocal(room.domain)) throw new Error(`${room.toString()} is not a room JID (room@service on a MUC domain)`);
    return room;
  };
  return {
    async append(room, message, occupant) {
      checked(room);
      if (message.name !== 'message') throw new Error('only messages are archived');
      const copy = cloneElement(message);
      delete copy.attrs.to; // which occupant this copy went to is no part of the room's history
      // XEP-0359 §3: an id claiming to be by the room is the room's to set (it stamps the one returned here).
      for (const c of copy.getChildren('stanza-id', NS_SID)) if (c.attrs.by === room.toString()) copy.remove(c);
      const from = Jid.tryParse(copy.attrs.from);
      const peer = from && from.resource && from.bare().equals(room) ? from.toString() : room.toString();
      const original = copy.toString();
      await domains.ensure(room.domain);
      return writer.append(room, (id, stamp) => ({ id, stamp, with: room.toString(), peer, occupant: occupant.bareString(), xml: original }));
    },
    async query(room, requester, query) {
      // Routed one by one and awaited: every result is handed on before the room answers the IQ.
      return answerQuery(ctx, checked(room), requester, query, (el: Element) => ctx.route(el, room, requester));
    },
    form: () => queryForm(),
    async remove(room) {
      await writer.remove(checked(room));
    },
  };
}
