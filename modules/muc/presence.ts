// Presence to a room (XEP-0045 §7.2 entering, §7.6 nick change, §7.7 presence updates, §7.14 exit): the
// checks of §7.2.5-§7.2.10, creation (§10.1: instant or reserved, 201), roster, self-presence, history, subject.
import { StanzaError, type Element, type Jid } from '../../src/sdk.js';
import { historyRequest } from './history.js';
import { nickOwner } from './register.js';
import { sendHistory, sendSubject } from './messages.js';
import { NS_MUC } from './ns.js';
import { broadcastPresence, occupantPresence, presencePayload, dropSession, sendRoster } from './occupants.js';
import { RANK, type Occupant, type Room } from './room.js';
import type { MucService } from './service.js';
import { STATUS } from './status-codes.js';

export async function onPresence(svc: MucService, el: Element, from: Jid, to: Jid): Promise<void> {
  const type = el.attrs.type as string | undefined;
  const room = svc.rooms.get(to.local);
  const occ = room?.bySession.get(from.toString());
  if (type === 'error') {
    // The occupant's client or server refused our presence: it is gone (status 333, as ejabberd and Prosody).
    if (room && occ) await dropSession(svc, room, occ, from.toString());
    return;
  }
  if (type === 'unavailable') {
    if (room && occ) await leave(svc, room, occ, from, el);
    return;
  }
  if (type !== undefined) return; // probes and subscriptions to a room mean nothing
  // §7.2.1: entering needs a nickname (the resource of the room JID).
  if (!to.resource) throw new StanzaError('jid-malformed', 'add your nickname as the resource of the room JID');
  // Nicks are shown to people: one made of spaces only (RFC 7700 would reject it) is refused.
  if (!to.resource.trim()) throw new StanzaError('jid-malformed', 'a nickname needs more than spaces');
  if (room && occ) {
    if (occ.nick === to.resource) return update(svc, room, occ, el);
    return changeNick(svc, room, occ, to.resource, el);
  }
  return join(svc, room, el, from, to);
}

async function join(svc: MucService, existing: Room | undefined, el: Element, from: Jid, to: Jid): Promise<void> {
  const x = el.getChild('x', NS_MUC);
  const bare = from.bare();
  const bareKey = bare.bareString();
  let room = existing;
  let created = false;
  if (!room) {
    // §10.1.1: a user who may not create rooms gets not-allowed.
    if (!svc.mayCreate(from)) throw new StanzaError('not-allowed', 'you may not create rooms on this service');
    room = svc.createRoom(to.local, bare);
    // §10.1.2: a client that speaks MUC gets a locked (reserved) room to configure; an old groupchat
    // client (no <x/>) gets an instant room at once.
    room.locked = Boolean(x);
    created = true;
  }
  try {
    const aff = room.affiliation(bareKey);
    if (room.locked && aff !== 'owner') throw new StanzaError('item-not-found', 'the room is locked until its owner configures it');
    if (aff === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
    const same = room.byBare.get(bareKey);
    const holder = room.occupants.get(to.resource);
    if (same) {
      // Multi-session: another client of an occupant joins under the same nick (as ejabberd and Prosody).
      if (same.nick !== to.resource) throw new StanzaError('conflict', `you are in this room as ${same.nick}; join with that nick`);
    } else {
      if (room.config.membersOnly && RANK[aff] < RANK.member) throw new StanzaError('registration-required', 'this room is for members only');
      if (room.config.maxUsers && room.occupants.size >= room.config.maxUsers && RANK[aff] < RANK.admin) {
        throw new StanzaError('service-unavailable', 'the room is full');
      }
      if (holder) throw new StanzaError('conflict', 'that nickname is in use in this room');
      // §7.2.9: a nick registered by someone else is theirs.
      const owner = nickOwner(room, to.resource);
      if (owner && owner !== bareKey) throw new StanzaError('conflict', 'that nickname is registered by another user');
    }
    if (room.config.passwordProtected && aff !== 'owner' && x?.getChildText('password') !== room.config.password) {
      throw new StanzaError('not-authorized', 'the room needs a password');
    }
    if (same) return await addSession(svc, room, same, from, el);
    const occ: Occupant = {
      nick: to.resource, bare, sessions: new Map(), role: room.defaultRole(aff), payload: presencePayload(el), id: svc.occupantId(room, bare),
    };
    room.add(occ, from);
    await sendRoster(svc, room, occ, from);
    const selfCodes: number[] = [];
    if (room.config.whois === 'anyone') selfCodes.push(STATUS.NON_ANONYMOUS);
    if (room.config.logging) selfCodes.push(STATUS.LOGGING);
    if (created) selfCodes.push(STATUS.CREATED);
    await broadcastPresence(svc, room, occ, { selfCodes });
    if (!created) await sendHistory(svc, room, from, historyRequest(x));
    await sendSubject(svc, room, from);
  } catch (err) {
    if (created) svc.vanishIfEmpty(room);
    throw err;
  }
}

/** A further session of an occupant enters under its nick: it alone gets the room's state. */
async function addSession(svc: MucService, room: Room, occ: Occupant, from: Jid, el: Element): Promise<void> {
  occ.sessions.set(from.toString(), from);
  room.bySession.set(from.toString(), occ);
  await sendRoster(svc, room, occ, from);
  const self = occupantPresence(room, occ, { selfCodes: room.config.whois === 'anyone' ? [STATUS.NON_ANONYMOUS] : [] }, 'self', from);
  self.attrs.to = from.toString();
  await svc.route(self, room.jid.withResource(occ.nick), from);
  await sendHistory(svc, room, from, historyRequest(el.getChild('x', NS_MUC)));
  await sendSubject(svc, room, from);
}

/** §7.7: a presence update of an occupant goes to everyone. */
async function update(svc: MucService, room: Room, occ: Occupant, el: Element): Promise<void> {
  occ.payload = presencePayload(el);
  await broadcastPresence(svc, room, occ, {});
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new nick. */
async function changeNick(svc: MucService, room: Room, occ: Occupant, nick: string, el: Element): Promise<void> {
  const holder = room.occupants.get(nick);
  if (holder) throw new StanzaError('conflict', 'that nickname is in use in this room');
  const owner = nickOwner(room, nick);
  if (owner && owner !== occ.bare.bareString()) throw new StanzaError('conflict', 'that nickname is registered by another user');
  const payload = presencePayload(el);
  await broadcastPresence(svc, room, occ, { type: 'unavailable', codes: [STATUS.NICK_CHANGED], item: { nick } });
  room.rename(occ, nick);
  occ.payload = payload;
  await broadcastPresence(svc, room, occ, {});
}

/** §7.14: a session leaves; the occupant leaves with its last session, and a temporary room with the last occupant. */
async function leave(svc: MucService, room: Room, occ: Occupant, from: Jid, el: Element): Promise<void> {
  occ.payload = presencePayload(el);
  if (occ.sessions.size > 1) {
    occ.sessions.delete(from.toString());
    room.bySession.delete(from.toString());
    const self = occupantPresence(room, occ, { type: 'unavailable', role: 'none' }, 'self', from);
    self.attrs.to = from.toString();
    await svc.route(self, room.jid.withResource(occ.nick), from);
    return;
  }
  room.remove(occ);
  await broadcastPresence(svc, room, occ, { type: 'unavailable', role: 'none' });
  svc.vanishIfEmpty(room);
}
