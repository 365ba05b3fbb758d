// Messages in a room (XEP-0045 §7.4 groupchat, §7.5 private messages, §8.1 subject, §7.8 invitations):
// the room's message path is groupchat() below: checks, listeners (the room archive), history, fan-out.
import { cloneElement, Jid, JidError, StanzaError, xml, type Element } from '../../src/sdk.js';
import { fanout, stamp } from './fanout.js';
import type { HistoryRequest } from './history.js';
import { NS_DELAY, NS_MUC_USER } from './ns.js';
import { occupantIdElement, stripOccupantId } from './occupant-id.js';
import { dropSession } from './occupants.js';
import { requestForm, voiceRequest } from './voice-request.js';
import { RANK, type Occupant, type Room } from './room.js';
import type { MucService } from './service.js';

export async function onMessage(svc: MucService, el: Element, from: Jid, to: Jid): Promise<void> {
  const type = el.attrs.type ?? 'normal';
  const room = svc.visibleRoom(to.local, from);
  if (type === 'error') {
    // An occupant's client bounced a room message: the occupant is gone (333).
    const occ = room?.bySession.get(from.toString());
    if (room && occ) await dropSession(svc, room, occ, from.toString());
    return;
  }
  if (!room) throw new StanzaError('item-not-found', 'no such room');
  if (to.resource) return privateMessage(svc, room, el, from, to.resource, type);
  if (type === 'groupchat') return groupchat(svc, room, el, from);
  const x = el.getChild('x', NS_MUC_USER);
  if (x?.getChild('invite')) return invite(svc, room, x, from);
  if (x?.getChild('decline')) return decline(svc, room, x, from);
  const request = requestForm(el);
  if (request) return voiceRequest(svc, room, request, from);
  throw new StanzaError('bad-request', 'send groupchat messages to the room, or invitations');
}

/** The occupant a stanza comes from: the joined session, or another session of a joined user. */
function sender(room: Room, from: Jid): Occupant | undefined {
  return room.bySession.get(from.toString()) ?? room.byBare.get(from.bareString());
}

/** A copy of a client's message as the room sends it: from the occupant's room JID, its own occupant-id. */
function asRoomStanza(room: Room, el: Element, occ: Occupant): Element {
  const out = cloneElement(el);
  delete out.attrs.to;
  out.attrs.from = `${room.jid.bareString()}/${occ.nick}`;
  stripOccupantId(out);
  out.cnode(occupantIdElement(occ.id));
  return out;
}

/**
 * §7.4: a message to all occupants (the sender gets the reflected copy), or a subject change (§8.1). The
 * room archive plugs in through MucService.listeners, called with the stanza before history and fan-out.
 */
export async function groupchat(svc: MucService, room: Room, el: Element, from: Jid): Promise<void> {
  const occ = sender(room, from);
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send messages to the room');
  if (room.config.moderated && occ.role === 'visitor') throw new StanzaError('forbidden', 'visitors have no voice in this moderated room');
  const subject = el.getChild('subject');
  const hasBody = Boolean(el.getChild('body'));
  if (subject && !hasBody) {
    const may = occ.role === 'moderator' || (room.config.changeSubject && occ.role === 'participant');
    if (!may) throw new StanzaError('forbidden', 'you may not change the subject of this room');
  }
  const stanza = asRoomStanza(room, el, occ);
  stanza.attrs.type = 'groupchat';
  if (subject && !hasBody) {
    room.subject = { text: subject.getText(), nick: occ.nick };
    if (room.config.persistent) await svc.persist(room);
  }
  await svc.messageListeners(room, stanza, { nick: occ.nick, jid: from });
  if (hasBody) room.history.add(stanza);
  svc.messagesCounter?.inc({ host: svc.ctx.host });
  await fanout(svc.route, stanza, room.jid.withResource(occ.nick), sessionsOf(room));
}

function* sessionsOf(room: Room): Iterable<Jid> {
  for (const o of room.occupants.values()) yield* o.sessions.values();
}

/** §7.5: a private message to one occupant, through the room, marked with <x xmlns='muc#user'/>. */
async function privateMessage(svc: MucService, room: Room, el: Element, from: Jid, nick: string, type: string): Promise<void> {
  const occ = sender(room, from);
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may send private messages in this room');
  if (type === 'groupchat') throw new StanzaError('bad-request', 'a private message cannot be of type groupchat');
  const allowed = { anyone: true, participants: occ.role !== 'visitor', moderators: occ.role === 'moderator', none: false }[room.config.allowPm];
  if (!allowed) throw new StanzaError('forbidden', 'private messages are not allowed for you in this room');
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError('item-not-found', `nobody is called ${nick} in this room`);
  const out = asRoomStanza(room, el, occ);
  if (!out.getChild('x', NS_MUC_USER)) out.cnode(xml('x', { xmlns: NS_MUC_USER }));
  await fanout(svc.route, out, room.jid.withResource(occ.nick), target.sessions.values());
}

/** §7.8.2 mediated invitation: the room tells the invitee (and makes it a member of a members-only room). */
async function invite(svc: MucService, room: Room, x: Element, from: Jid): Promise<void> {
  const occ = sender(room, from);
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may invite to this room');
  const aff = room.affiliation(from.bareString());
  const privileged = RANK[aff] >= RANK.admin;
  if (!privileged && !room.config.allowInvites) throw new StanzaError('forbidden', 'occupants may not invite others to this room');
  const invites = x.getChildren('invite');
  const targets: Jid[] = [];
  for (const i of invites) {
    try {
      targets.push(Jid.parse(String(i.attrs.to ?? '')));
    } catch (err) {
      throw new StanzaError('jid-malformed', err instanceof JidError ? err.message : 'invalid invitee JID');
    }
  }
  let changed = false;
  for (const [n, inv] of invites.entries()) {
    const to = targets[n]!;
    if (room.config.membersOnly && room.affiliation(to.bareString()) === 'none') {
      room.affiliations.set(to.bareString(), { affiliation: 'member' });
      changed = true;
    }
    const reason = inv.getChildText('reason');
    const ux = xml('x', { xmlns: NS_MUC_USER });
    const i = ux.c('invite', { from: from.toString() });
    if (reason) i.c('reason').t(reason);
    if (room.config.passwordProtected) ux.c('password').t(room.config.password);
    const msg = xml('message', { from: room.jid.toString(), to: to.toString() }, ux,
      xml('body', {}, `${from.bareString()} invites you to the room ${room.jid.toString()}${reason ? `: ${reason}` : ''}`));
    await svc.route(msg, room.jid, to);
  }
  if (changed && room.config.persistent) await svc.persist(room);
}

/** §7.8.2: the invitee declines; the room passes it on to the inviter. */
async function decline(svc: MucService, room: Room, x: Element, from: Jid): Promise<void> {
  const d = x.getChild('decline')!;
  const to = Jid.tryParse(d.attrs.to as string | undefined);
  if (!to) throw new StanzaError('jid-malformed', 'decline needs the inviter in to');
  const ux = xml('x', { xmlns: NS_MUC_USER });
  const out = ux.c('decline', { from: from.bareString() });
  const reason = d.getChildText('reason');
  if (reason) out.c('reason').t(reason);
  await svc.route(xml('message', { from: room.jid.toString(), to: to.toString() }, ux), room.jid, to);
}

/** §7.2.14: the discussion history for a newcomer, each message delayed (XEP-0203) by the room. */
export async function sendHistory(svc: MucService, room: Room, to: Jid, req: HistoryRequest): Promise<void> {
  const entries = room.history.select(req);
  if (!entries.length) return;
  const roomJid = room.jid.toString();
  const target = to.toString();
  for (const e of entries) {
    const el = stamp(e.stanza, target);
    el.children.push(xml('delay', { xmlns: NS_DELAY, stamp: new Date(e.ts).toISOString(), from: roomJid }));
    await svc.route(el, Jid.parse(String(e.stanza.attrs.from)), to);
  }
}

/** §7.2.15: the subject goes last, always (empty when none was set), from the occupant who set it. */
export async function sendSubject(svc: MucService, room: Room, to: Jid): Promise<void> {
  const from = room.subject?.nick ? room.jid.withResource(room.subject.nick) : room.jid;
  const msg = xml('message', { type: 'groupchat', from: from.toString(), to: to.toString(), id: `subject-${room.createdAt}` }, xml('subject', {}, room.subject?.text ?? ''));
  await svc.route(msg, from, to);
}
