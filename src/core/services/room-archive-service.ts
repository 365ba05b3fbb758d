// The contract of the 'room_archive' service: XEP-0313 archives of XEP-0045 rooms (MAM on the room JID),
// fulfilled by the mam module per host (as ejabberd's mod_mam archives rooms), used by the muc module,
// which decides what is archived (the room's mam setting) and who may query (its membership rules).
import type { Element } from '@xmpp/xml';
import type { Jid } from '../jid.js';
import { serviceKey } from './service-key.js';

export interface RoomArchiveApi {
  /**
   * Archive a groupchat message as the room broadcasts it (from room@service/nick, with its body/subject).
   * `occupant` is the sender's real bare JID (kept for moderators and non-anonymous rooms, never shown
   * otherwise). Resolves with the archive id once durable: the room stamps it as <stanza-id by='room'/>.
   */
  append(room: Jid, message: Element, occupant: Jid): Promise<string>;
  /**
   * Answer a XEP-0313 query (the <query xmlns='urn:xmpp:mam:2'/> of an IQ set to the room) for `requester`
   * (already allowed by the room): result messages go to the requester from the room JID, then resolves
   * with the <fin/> element. Rejects with a StanzaError for a bad query (bad form, item-not-found paging).
   */
  query(room: Jid, requester: Jid, query: Element): Promise<Element>;
  /** The XEP-0313 query form (answer to an IQ get). */
  form(): Element;
  /** Remove a room's archive (the room was destroyed). */
  remove(room: Jid): Promise<void>;
}

/** `ctx.service(ROOM_ARCHIVE_SERVICE)` is a RoomArchiveApi while the mam module runs on the host. */
export const ROOM_ARCHIVE_SERVICE = serviceKey<RoomArchiveApi>('room_archive');
