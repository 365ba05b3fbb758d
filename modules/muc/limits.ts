// Bounds on what anyone who can reach the MUC service can make it hold: rooms per owner and per service,
// rooms joined per user, sessions per occupant, sizes of names and texts, items per muc#admin set. Limits on
// entering answer service-unavailable (XEP-0045 §7.2.10), refused creation not-allowed (§10.1.1).
import { opt, StanzaError, type Element, type Jid, type ModuleContext } from '../../src/sdk.js';
import type { Room } from './room.js';

const count = (def: number) => opt.number(def, { min: 0, integer: true });

/** The muc module's limit options (0: no limit, where the example config says so). */
export const LIMIT_OPTIONS = {
  /** Rooms (persistent and temporary) one account may own by creating more; admins are exempt. */
  max_rooms_per_user: count(100),
  /** Rooms the service holds; nobody creates one more (the CLI's muc.create still may). */
  max_rooms_per_service: count(10_000),
  /** Rooms one user (bare JID, local or remote) may be in at once (ejabberd's max_user_conferences). */
  max_rooms_joined: count(100),
  /** Sessions (full JIDs) of one user under its nick in one room (multi-session join). */
  max_sessions_per_occupant: opt.number(5, { min: 1, max: 1000, integer: true }),
  /** Bytes of a new room's name (the localpart, at most 1023 by RFC 7622 §3.3.1). */
  max_room_name_length: opt.number(256, { min: 1, max: 1023, integer: true }),
  /** Bytes of a nick (the resourcepart, at most 1023 by RFC 7622 §3.4.1). */
  max_nick_length: opt.number(128, { min: 1, max: 1023, integer: true }),
  /** Bytes of a room subject. */
  max_subject_length: opt.number(1024, { min: 1, max: 65_536, integer: true }),
  /** Bytes of each value of a submitted configuration form (room name, description, password...). */
  max_config_text_length: opt.number(1024, { min: 1, max: 65_536, integer: true }),
  /** Characters of a message kept in the discussion history (a larger one is broadcast, not kept). */
  max_history_message_size: opt.number(16_384, { min: 256, max: 1_048_576, integer: true }),
  /** Items in one muc#admin query. */
  max_admin_items: opt.number(100, { min: 1, max: 10_000, integer: true }),
  /** Affiliations (members, admins, owners, outcasts, registered nicks) one room keeps (0: no limit). */
  max_affiliations: count(10_000),
  /** Seconds a reserved room may stay locked, unconfigured, before it is destroyed (0: forever). */
  lock_timeout: count(300),
};

export interface MucLimitOptions {
  max_rooms_per_user: number;
  max_rooms_per_service: number;
  max_rooms_joined: number;
  max_sessions_per_occupant: number;
  max_room_name_length: number;
  max_nick_length: number;
  max_subject_length: number;
  max_config_text_length: number;
  max_history_message_size: number;
  max_admin_items: number;
  max_affiliations: number;
  lock_timeout: number;
}

/** What the checks read of the service (MucService): kept narrow so this file does not import it. */
interface Service {
  readonly ctx: ModuleContext<MucLimitOptions>;
  readonly rooms: Map<string, Room>;
  refused?: { inc(labels: { host: string; limit: string }): void };
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function refuse(svc: Service, limit: keyof MucLimitOptions, err: StanzaError): never {
  svc.refused?.inc({ host: svc.ctx.host, limit });
  throw err;
}

/** Counts refusals by limit (xmppd_muc_refusals_total{host,limit}). */
export function refusalCounter(ctx: ModuleContext<MucLimitOptions>): NonNullable<Service['refused']> {
  return ctx.counter({ name: 'xmppd_muc_refusals_total', help: 'Stanzas the MUC service refused for a limit, by option name', labelNames: ['host', 'limit'] });
}

/** §10.1.1: may `from` create the room `name` now? Throws the refusal. */
export function checkCreate(svc: Service, name: string, from: Jid): void {
  const o = svc.ctx.options;
  if (bytes(name) > o.max_room_name_length) {
    refuse(svc, 'max_room_name_length', new StanzaError('not-acceptable', `room names are at most ${o.max_room_name_length} bytes on this service`));
  }
  if (o.max_rooms_per_service && svc.rooms.size >= o.max_rooms_per_service) {
    refuse(svc, 'max_rooms_per_service', new StanzaError('not-allowed', `this service holds its limit of ${o.max_rooms_per_service} rooms`));
  }
  if (o.max_rooms_per_user && !svc.ctx.inAcl('admin', { jid: from })) {
    const bare = from.bareString();
    let owned = 0;
    for (const r of svc.rooms.values()) {
      if (r.affiliations.get(bare)?.affiliation === 'owner' && ++owned >= o.max_rooms_per_user) {
        refuse(svc, 'max_rooms_per_user', new StanzaError('not-allowed', `you own ${owned} rooms, the most one user may own on this service`));
      }
    }
  }
}

/**
 * A nick must fit (RFC 7622 allows 1023 bytes; people read it, so the service allows less): jid-malformed for
 * the resource of a room JID (§7.2.1), not-acceptable for a nick registered with a form (§7.10).
 */
export function checkNick(svc: Service, nick: string, condition: 'jid-malformed' | 'not-acceptable' = 'jid-malformed'): void {
  const max = svc.ctx.options.max_nick_length;
  if (bytes(nick) > max) refuse(svc, 'max_nick_length', new StanzaError(condition, `nicknames are at most ${max} bytes in this service`));
}

/** A room keeps a bounded number of affiliations: `added` new JIDs would join its list (registration, muc#admin, invitations). */
export function checkNewAffiliations(svc: Service, room: Room, added: number): void {
  const max = svc.ctx.options.max_affiliations;
  if (max && added > 0 && room.affiliations.size + added > max) {
    refuse(svc, 'max_affiliations', new StanzaError('resource-constraint', `this room keeps at most ${max} affiliations`));
  }
}

/**
 * Entering `room` (§7.2.10): a new occupant counts against the rooms its user is in; a further session of an
 * occupant against the sessions one nick may have (a remote server cannot flood a room from many resources).
 */
export function checkEnter(svc: Service, room: Room, bare: string, occupantSessions: number | undefined): void {
  const o = svc.ctx.options;
  if (occupantSessions !== undefined) {
    if (occupantSessions >= o.max_sessions_per_occupant) {
      refuse(svc, 'max_sessions_per_occupant', new StanzaError('service-unavailable', `you are in this room from ${occupantSessions} sessions, the most allowed`));
    }
    return;
  }
  const joined = joinedRooms(svc, room).get(bare) ?? 0;
  if (o.max_rooms_joined && joined >= o.max_rooms_joined) {
    refuse(svc, 'max_rooms_joined', new StanzaError('service-unavailable', `you are in ${joined} rooms of this service, the most allowed`));
  }
}

/** Rooms each user is in, per service: kept by the rooms themselves (Room.onOccupancy), so a join costs O(1). */
const joinedByService = new WeakMap<Service, Map<string, number>>();

/**
 * The service's counts, with `room` counted from now on. Every entry passes checkEnter before Room.add, so a
 * room is tracked before its first occupant; rooms come and go (temporary, destroyed, loaded) without a hook.
 */
function joinedRooms(svc: Service, room: Room): Map<string, number> {
  let counts = joinedByService.get(svc);
  if (!counts) joinedByService.set(svc, (counts = new Map()));
  if (!room.onOccupancy) {
    const c = counts;
    room.onOccupancy = (bare, delta) => {
      const n = (c.get(bare) ?? 0) + delta;
      if (n > 0) c.set(bare, n);
      else c.delete(bare);
    };
  }
  return counts;
}

/** §8.1: a subject must fit. */
export function checkSubject(svc: Service, text: string): void {
  const max = svc.ctx.options.max_subject_length;
  if (bytes(text) > max) refuse(svc, 'max_subject_length', new StanzaError('not-acceptable', `room subjects are at most ${max} bytes`));
}

/** One muc#admin query changes or lists a bounded number of items, each reason (kept with an affiliation) bounded too. */
export function checkAdminItems(svc: Service, items: Element[]): void {
  const o = svc.ctx.options;
  if (items.length > o.max_admin_items) refuse(svc, 'max_admin_items', new StanzaError('policy-violation', `a muc#admin query holds at most ${o.max_admin_items} items`));
  for (const i of items) {
    const reason = i.getChildText('reason');
    if (reason && bytes(reason) > o.max_config_text_length) {
      refuse(svc, 'max_config_text_length', new StanzaError('not-acceptable', `reasons are at most ${o.max_config_text_length} bytes`));
    }
  }
}
