// XEP-0313 §5 for this service's rooms (MAM on the room JID), through the mam module's room_archive service:
// each groupchat message with a body or subject is archived before fan-out and every copy carries its
// XEP-0359 <stanza-id by='room'/>; urn:xmpp:mam:2 IQs to the room are answered; disco features; removal.
import { xml, StanzaError, ROOM_ARCHIVE_SERVICE, type Element, type Jid, type RoomArchiveApi } from '../../src/sdk.js';
import { RANK, type Room } from './room.js';
import type { IqCall, MucService } from './service.js';

export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_SID = 'urn:xmpp:sid:0';

/**
 * The archive while the room is archived: persistent with its mam setting on (new rooms take the option
 * archive_default), as Prosody archives persistent rooms only; and the mam module running on this host.
 */
function archiveOf(svc: MucService, room: Room): RoomArchiveApi | undefined {
  return room.config.persistent && room.config.mam ? svc.ctx.service(ROOM_ARCHIVE_SERVICE) : undefined;
}

/**
 * XEP-0313 §5 access, Prosody's rule "who may enter may read": occupants and members (and above) always,
 * outcasts never, anyone else only in a public, open room without a password.
 */
function mayRead(room: Room, from: Jid): boolean {
  const bare = from.bareString();
  const aff = room.affiliation(bare);
  if (aff === 'outcast') return false;
  if (room.byBare.has(bare) || RANK[aff] >= RANK.member) return true;
  return room.config.public && !room.config.membersOnly && !room.config.passwordProtected;
}

/** get: the query form; set: the query (results from the room to the requester, then the fin as the answer). */
async function archiveIq(svc: MucService, room: Room, call: IqCall): Promise<Element> {
  const archive = archiveOf(svc, room);
  if (!archive) throw new StanzaError('service-unavailable', 'this room is not archived');
  if (!mayRead(room, call.from)) throw new StanzaError('forbidden', 'only those who may enter this room may read its archive');
  if (call.payload.name !== 'query') throw new StanzaError('feature-not-implemented', 'a room has no archiving preferences');
  return call.type === 'get' ? archive.form() : archive.query(room.jid, call.from, call.payload);
}

/** Plug the room archive into the service: message listener, IQ namespace, disco features. */
export function roomArchive(svc: MucService): void {
  svc.listeners.add(async (room, stanza, sender) => {
    const by = room.jid.toString();
    // XEP-0359 §3: a stanza-id claiming to be by the room is not the sender's to set; never passed on.
    for (const c of stanza.getChildren('stanza-id', NS_SID)) if (c.attrs.by === by) stanza.remove(c);
    if (!stanza.getChild('body') && !stanza.getChild('subject')) return;
    const archive = archiveOf(svc, room);
    if (!archive) return;
    const id = await archive.append(room.jid, stanza, sender.jid.bare());
    stanza.cnode(xml('stanza-id', { xmlns: NS_SID, by, id }));
  });
  svc.roomIq.set(NS_MAM, (room, call) => archiveIq(svc, room, call));
  svc.roomFeatures.add((room) => (archiveOf(svc, room) ? [NS_MAM, NS_SID] : []));
}

/** The room is gone (destroyed, or a temporary room emptied): so is its archive. */
export function removeRoomArchive(svc: MucService, room: Room): Promise<void> {
  const archive = svc.ctx.service(ROOM_ARCHIVE_SERVICE);
  if (!archive) return Promise.resolve();
  return archive.remove(room.jid).catch((err) => svc.ctx.log.error('could not remove a room archive', { err, room: room.jid.toString() }));
}
