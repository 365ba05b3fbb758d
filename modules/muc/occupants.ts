// Occupant presence (XEP-0045 §7.2.3-§7.2.7, §15.6 status codes): the <x muc#user/> item each recipient
// sees (real JID only where §4.2 allows it), broadcast once per change with the self copy marked 110.
import { xml, type Element, type Jid } from '../../src/sdk.js';
import { NS_MUC, NS_MUC_USER, NS_OCCUPANT_ID } from './ns.js';
import { occupantIdElement } from './occupant-id.js';
import { stamp } from './fanout.js';
import { STATUS } from './status-codes.js';
import type { Occupant, Role, Room } from './room.js';
import type { MucService } from './service.js';

export interface ItemExtra {
  /** The nick an occupant changes to (303). */
  nick?: string;
  /** The moderator or admin behind a change (§8.2, §9.1). */
  actor?: string;
  reason?: string;
}

export interface PresenceChange {
  type?: 'unavailable';
  /** Status codes for every recipient. */
  codes?: number[];
  /** Extra status codes for the occupant itself (110 is added). */
  selfCodes?: number[];
  item?: ItemExtra;
  /** §10.9: the room is destroyed. */
  destroy?: Element;
  /** Override the role shown (role none for departures). */
  role?: Role;
}

/** Presence payload worth keeping (show, status, caps...): not the MUC elements nor a forged occupant id. */
export function presencePayload(el: Element): Element[] {
  return el.getChildElements().filter((c) => {
    const ns = c.attrs.xmlns;
    return !(c.name === 'x' && (ns === NS_MUC || ns === NS_MUC_USER)) && !(c.name === 'occupant-id' && ns === NS_OCCUPANT_ID) && c.name !== 'error';
  });
}

function mucX(room: Room, o: Occupant, change: PresenceChange, jid: string | null, codes: number[]): Element {
  const x = xml('x', { xmlns: NS_MUC_USER });
  const attrs: Record<string, string> = { affiliation: room.affiliation(o.bare.bareString()), role: change.role ?? o.role };
  if (jid) attrs.jid = jid;
  if (change.item?.nick) attrs.nick = change.item.nick;
  const item = x.c('item', attrs);
  if (change.item?.actor) item.c('actor', { nick: change.item.actor });
  if (change.item?.reason) item.c('reason').t(change.item.reason);
  if (change.destroy) x.cnode(change.destroy);
  for (const c of codes) x.c('status', { code: String(c) });
  return x;
}

/** The occupant's presence as a recipient sees it: with or without the real JID, or as the self copy. */
export function occupantPresence(room: Room, o: Occupant, change: PresenceChange, view: 'anonymous' | 'jid' | 'self', session?: Jid): Element {
  const attrs: Record<string, string> = { from: `${room.jid.bareString()}/${o.nick}` };
  if (change.type) attrs.type = change.type;
  const p = xml('presence', attrs);
  // Unavailable presence carries only the status the occupant gave when leaving (kept in payload).
  for (const c of o.payload) if (!change.type || c.name === 'status') p.children.push(c);
  const codes = [...(change.codes ?? [])];
  if (view === 'self') codes.push(STATUS.SELF, ...(change.selfCodes ?? []));
  const jid = view === 'anonymous' ? null : (session ?? o.sessions.values().next().value ?? o.bare).toString();
  p.cnode(mucX(room, o, change, jid, codes));
  p.cnode(occupantIdElement(o.id));
  return p;
}

/**
 * Broadcast a change of `o` to the room: every other occupant (if o's role is broadcast, §15.5.3
 * presencebroadcast) and o's own sessions (the self copy). `o` may already have left the room.
 */
export function broadcastPresence(svc: MucService, room: Room, o: Occupant, change: PresenceChange): Promise<void> {
  const from = room.jid.withResource(o.nick);
  const sends: Promise<void>[] = [];
  const role = change.role ?? o.role;
  // presencebroadcast (§15.5.3): others hear of an occupant whose role, before or after the change, is broadcast.
  const visible = room.config.presenceBroadcast.includes(role) || room.config.presenceBroadcast.includes(o.role);
  if (visible) {
    let anon: Element | undefined;
    let withJid: Element | undefined;
    for (const r of room.occupants.values()) {
      if (r === o) continue;
      const el = room.seesJids(r) ? (withJid ??= occupantPresence(room, o, change, 'jid')) : (anon ??= occupantPresence(room, o, change, 'anonymous'));
      for (const [s, to] of r.sessions) sends.push(svc.route(stamp(el, s), from, to));
    }
  }
  for (const [s, to] of o.sessions) sends.push(svc.route(stamp(occupantPresence(room, o, change, 'self', to), s), from, to));
  return Promise.all(sends).then(() => undefined);
}

/** Every occupant's current presence, for a newcomer (§7.2.3), in order; o's own entry excluded. */
export async function sendRoster(svc: MucService, room: Room, joiner: Occupant, to: Jid): Promise<void> {
  const view = room.seesJids(joiner) ? 'jid' : 'anonymous';
  for (const r of room.occupants.values()) {
    if (r === joiner || !room.config.presenceBroadcast.includes(r.role)) continue;
    const el = occupantPresence(room, r, {}, view);
    el.attrs.to = to.toString();
    await svc.route(el, room.jid.withResource(r.nick), to);
  }
}

/**
 * Take an occupant out of the room for a reason (kick 307, ban 301, 321, 322, 332, 333): every session
 * leaves at once, with role none, actor and reason, and the room vanishes if it is temporary and empty.
 */
export async function removeOccupant(svc: MucService, room: Room, o: Occupant, code: number, item: ItemExtra = {}): Promise<void> {
  room.remove(o);
  o.payload = [];
  await broadcastPresence(svc, room, o, { type: 'unavailable', role: 'none', codes: [code], item });
  svc.vanishIfEmpty(room);
}

/**
 * A session of an occupant failed (its client or server answered a room stanza with an error): with other
 * sessions left it just goes; the last one takes the occupant out with 333.
 */
export async function dropSession(svc: MucService, room: Room, o: Occupant, session: string): Promise<void> {
  if (o.sessions.size > 1) {
    o.sessions.delete(session);
    room.bySession.delete(session);
    return;
  }
  await removeOccupant(svc, room, o, STATUS.ERROR_KICK);
}
