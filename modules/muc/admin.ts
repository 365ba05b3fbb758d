// muc#admin (XEP-0045 §8 moderator and §9 admin use cases): roles (kick 307, voice, moderator) and
// affiliations (ban 301, member, admin, owner lists), with the permissions of §5 and the removals of
// §9.2 (321 in a members-only room). A set is checked whole before anything changes.
import { Jid, StanzaError, xml, type Element } from '../../src/sdk.js';
import { NS_MUC_ADMIN } from './ns.js';
import { broadcastPresence, removeOccupant } from './occupants.js';
import { AFFILIATIONS, RANK, ROLES, type Affiliation, type Occupant, type Role, type Room } from './room.js';
import type { IqCall, MucService } from './service.js';
import { STATUS } from './status-codes.js';

export async function adminQuery(svc: MucService, room: Room, call: IqCall): Promise<Element | null> {
  const actorAff = room.affiliation(call.from.bareString());
  const actor = room.bySession.get(call.from.toString()) ?? room.byBare.get(call.from.bareString());
  const items = call.payload.getChildren('item');
  if (!items.length) throw new StanzaError('bad-request', 'the query needs an <item/>');
  if (call.type === 'get') return list(room, items[0]!, actorAff, actor);
  const changes = items.map((i) => plan(room, i, actorAff, actor));
  checkOwnersLeft(room, changes);
  for (const c of changes) await apply(svc, room, c, actor);
  if (changes.some((c) => c.kind === 'affiliation') && room.config.persistent) await svc.persist(room);
  return null;
}

function list(room: Room, item: Element, aff: Affiliation, actor: Occupant | undefined): Element {
  const q = xml('query', { xmlns: NS_MUC_ADMIN });
  const wantAff = item.attrs.affiliation as Affiliation | undefined;
  const wantRole = item.attrs.role as Role | undefined;
  if (wantAff !== undefined) {
    if (!AFFILIATIONS.includes(wantAff) || wantAff === 'none') throw new StanzaError('bad-request', `no list for affiliation "${wantAff}"`);
    // §5.2: owners and admins read the lists; the member list also goes to the roles getmemberlist names.
    const may = RANK[aff] >= RANK.admin || (wantAff === 'member' && actor !== undefined && room.config.getMemberList.includes(actor.role));
    if (!may) throw new StanzaError('forbidden', `you may not see the ${wantAff} list`);
    for (const [jid, a] of room.affiliations) {
      if (a.affiliation !== wantAff) continue;
      const it = q.c('item', { affiliation: wantAff, jid });
      const nick = room.byBare.get(jid)?.nick ?? a.nick;
      if (nick) it.attrs.nick = nick;
      if (a.reason) it.c('reason').t(a.reason);
    }
    return q;
  }
  if (wantRole === 'moderator' || wantRole === 'participant' || wantRole === 'visitor') {
    // §8.5, §9.8: moderators see the voice list; the moderator list is for admins and owners.
    const may = wantRole === 'moderator' ? RANK[aff] >= RANK.admin : actor?.role === 'moderator';
    if (!may) throw new StanzaError('forbidden', `you may not see the ${wantRole} list`);
    for (const o of room.occupants.values()) {
      if (o.role !== wantRole) continue;
      q.c('item', { role: o.role, nick: o.nick, affiliation: room.affiliation(o.bare.bareString()), jid: o.sessions.keys().next().value ?? o.bare.toString() });
    }
    return q;
  }
  throw new StanzaError('bad-request', 'ask for an affiliation or a role list');
}

type Change =
  | { kind: 'role'; target: Occupant; role: Role; reason?: string }
  | { kind: 'affiliation'; jid: string; affiliation: Affiliation; reason?: string };

/** Check one item of a set against §5's permissions; throws the error the whole set fails with. */
function plan(room: Room, item: Element, actorAff: Affiliation, actor: Occupant | undefined): Change {
  const reason = item.getChildText('reason') ?? undefined;
  const role = item.attrs.role as Role | undefined;
  const affiliation = item.attrs.affiliation as Affiliation | undefined;
  if (role !== undefined && affiliation === undefined) {
    if (!ROLES.includes(role)) throw new StanzaError('bad-request', `"${role}" is not a role`);
    const nick = item.attrs.nick as string | undefined;
    if (!nick) throw new StanzaError('bad-request', 'a role change names the occupant by nick');
    const target = room.occupants.get(nick);
    if (!target) throw new StanzaError('item-not-found', `nobody is called ${nick} in this room`);
    if (actor?.role !== 'moderator' && RANK[actorAff] < RANK.admin) throw new StanzaError('forbidden', 'only moderators change roles');
    const targetAff = room.affiliation(target.bare.bareString());
    // §8.2/§8.4/§9.7: nobody changes the role of an admin or owner, nor of an affiliation above their own.
    if (RANK[targetAff] >= RANK.admin || RANK[targetAff] > RANK[actorAff]) {
      throw new StanzaError('not-allowed', `you may not change the role of an occupant who is ${targetAff}`);
    }
    // §9.6-§9.7: granting or revoking moderator is for admins and owners.
    if ((role === 'moderator' || target.role === 'moderator') && RANK[actorAff] < RANK.admin) {
      throw new StanzaError('forbidden', 'only admins and owners grant or revoke moderator status');
    }
    return { kind: 'role', target, role, ...(reason && { reason }) };
  }
  if (affiliation !== undefined && role === undefined) {
    if (!AFFILIATIONS.includes(affiliation)) throw new StanzaError('bad-request', `"${affiliation}" is not an affiliation`);
    let jid: string;
    if (item.attrs.jid) {
      const j = Jid.tryParse(item.attrs.jid as string);
      if (!j) throw new StanzaError('jid-malformed', 'the item jid is not a JID');
      jid = j.bareString();
    } else if (item.attrs.nick) {
      const o = room.occupants.get(item.attrs.nick as string);
      if (!o) throw new StanzaError('item-not-found', `nobody is called ${item.attrs.nick} in this room`);
      jid = o.bare.bareString();
    } else throw new StanzaError('bad-request', 'an affiliation change names a jid');
    const cur = room.affiliation(jid);
    if (RANK[actorAff] < RANK.admin) throw new StanzaError('forbidden', 'only admins and owners change affiliations');
    // §5.2: admins manage members and outcasts; admin and owner lists are the owners'.
    if (actorAff === 'admin' && (RANK[cur] >= RANK.admin || RANK[affiliation] >= RANK.admin)) {
      throw new StanzaError(RANK[affiliation] >= RANK.admin ? 'forbidden' : 'not-allowed', 'only owners change admin and owner affiliations');
    }
    return { kind: 'affiliation', jid, affiliation, ...(reason && { reason }) };
  }
  throw new StanzaError('bad-request', 'an item changes either a role or an affiliation');
}

/** §10.9/§10.6: a room never loses its last owner (conflict). */
function checkOwnersLeft(room: Room, changes: Change[]): void {
  const owners = new Set(room.owners());
  for (const c of changes) {
    if (c.kind !== 'affiliation') continue;
    if (c.affiliation === 'owner') owners.add(c.jid);
    else owners.delete(c.jid);
  }
  if (room.owners().length && !owners.size) throw new StanzaError('conflict', 'the room needs an owner');
}

async function apply(svc: MucService, room: Room, c: Change, actor: Occupant | undefined): Promise<void> {
  const item = { ...(actor && { actor: actor.nick }), ...(c.reason && { reason: c.reason }) };
  if (c.kind === 'role') {
    if (!room.occupants.has(c.target.nick)) return; // kicked by an earlier item of the same set
    if (c.role === 'none') return removeOccupant(svc, room, c.target, STATUS.KICKED, item);
    if (c.target.role === c.role) return;
    c.target.role = c.role;
    return broadcastPresence(svc, room, c.target, { item });
  }
  const before = room.affiliation(c.jid);
  if (c.affiliation === 'none') room.affiliations.delete(c.jid);
  else {
    // A registered nick (§7.10) stays with the user's affiliation, not with a ban.
    const nick = c.affiliation !== 'outcast' ? room.affiliations.get(c.jid)?.nick : undefined;
    room.affiliations.set(c.jid, { affiliation: c.affiliation, ...(c.reason && { reason: c.reason }), ...(nick && { nick }) });
  }
  const o = room.byBare.get(c.jid);
  if (!o || before === c.affiliation) return;
  if (c.affiliation === 'outcast') return removeOccupant(svc, room, o, STATUS.BANNED, item);
  if (room.config.membersOnly && c.affiliation === 'none') return removeOccupant(svc, room, o, STATUS.AFFILIATION_CHANGE, item);
  // The role follows the new affiliation (§9.3-§10.7): the default role of the new affiliation, except that
  // a moderator stays one only while admin or owner.
  o.role = room.defaultRole(c.affiliation);
  await broadcastPresence(svc, room, o, { item });
}
