// A room's state (XEP-0045 §4-§5): configuration, affiliations (persistent), occupants and their roles
// (in memory), subject, lock (§10.1.3) and the discussion history.
import type { Element, Jid } from '../../src/sdk.js';
import { History } from './history.js';

export type Affiliation = 'owner' | 'admin' | 'member' | 'none' | 'outcast';
export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'none', 'outcast'];
export const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];
/** §5.2: the order of affiliations (outcast below none). */
export const RANK: Record<Affiliation, number> = { outcast: -1, none: 0, member: 1, admin: 2, owner: 3 };

export type AllowPm = 'anyone' | 'participants' | 'moderators' | 'none';
export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  passwordProtected: boolean;
  password: string;
  moderated: boolean;
  /** Most occupants (0: no limit); admins and owners may always enter. */
  maxUsers: number;
  /** Who sees occupants' real JIDs: moderators only (semi-anonymous) or anyone (non-anonymous). */
  whois: 'moderators' | 'anyone';
  /** Whether participants (not only moderators) may change the subject. */
  changeSubject: boolean;
  allowInvites: boolean;
  allowPm: AllowPm;
  /** Public logging (status 170); the room archive reads this and `mam`. */
  logging: boolean;
  mam: boolean;
  /** Occupants without affiliation enter as participants (true) or visitors (false). */
  membersByDefault: boolean;
  /** Roles that may read the member list. */
  getMemberList: Role[];
  /** Roles whose presence is broadcast to the room. */
  presenceBroadcast: Role[];
}

export const defaultConfig = (overrides: Partial<RoomConfig> = {}): RoomConfig => ({
  name: '', description: '', persistent: false, public: true, membersOnly: false, passwordProtected: false, password: '',
  moderated: false, maxUsers: 0, whois: 'moderators', changeSubject: false, allowInvites: false, allowPm: 'anyone',
  logging: false, mam: false, membersByDefault: true, getMemberList: ['moderator', 'participant', 'visitor'],
  presenceBroadcast: ['moderator', 'participant', 'visitor'], ...overrides,
});

/** An affiliation, with the nick the user registered (§7.10), if any. */
export interface AffiliationEntry { affiliation: Exclude<Affiliation, 'none'>; reason?: string; nick?: string }

/** One occupant: a nick held by one bare JID, from one or more of its sessions (multi-session join). */
export interface Occupant {
  nick: string;
  bare: Jid;
  /** The full JIDs joined under this nick, by their string form. */
  sessions: Map<string, Jid>;
  role: Role;
  /** The payload of the occupant's latest presence (show, status, caps...), without MUC elements. */
  payload: Element[];
  /** XEP-0421 occupant id (stable per room and bare JID). */
  id: string;
}

export interface Subject { text: string; nick: string }

export class Room {
  readonly occupants = new Map<string, Occupant>();
  /** Occupants by full JID and by bare JID. */
  readonly bySession = new Map<string, Occupant>();
  readonly byBare = new Map<string, Occupant>();
  subject: Subject | null = null;
  /** §10.1.3: a reserved room stays locked until its owner submits the configuration. */
  locked = false;

  constructor(
    /** The room's bare JID. */
    readonly jid: Jid,
    public config: RoomConfig,
    readonly affiliations: Map<string, AffiliationEntry>,
    /** Secret of the XEP-0421 occupant ids (kept with a persistent room). */
    readonly secret: string,
    readonly history: History,
    readonly createdAt: number = Date.now(),
  ) {}

  get name(): string {
    return this.jid.local;
  }

  affiliation(bare: string): Affiliation {
    return this.affiliations.get(bare)?.affiliation ?? 'none';
  }

  /** §5.1: the role an occupant gets when entering. */
  defaultRole(aff: Affiliation): Role {
    if (aff === 'owner' || aff === 'admin') return 'moderator';
    if (aff === 'member') return 'participant';
    return this.config.moderated || !this.config.membersByDefault ? 'visitor' : 'participant';
  }

  owners(): string[] {
    return [...this.affiliations].filter(([, a]) => a.affiliation === 'owner').map(([j]) => j);
  }

  /** Whether `recipient` sees real JIDs (§4.2: non-anonymous rooms, or moderators in semi-anonymous ones). */
  seesJids(recipient: Occupant): boolean {
    return this.config.whois === 'anyone' || recipient.role === 'moderator';
  }

  isEmpty(): boolean {
    return this.occupants.size === 0;
  }

  add(o: Occupant, session: Jid): void {
    o.sessions.set(session.toString(), session);
    this.occupants.set(o.nick, o);
    this.bySession.set(session.toString(), o);
    this.byBare.set(o.bare.bareString(), o);
  }

  /** Remove one session of an occupant; the occupant goes with its last session. Returns whether it went. */
  removeSession(o: Occupant, session: string): boolean {
    o.sessions.delete(session);
    this.bySession.delete(session);
    if (o.sessions.size) return false;
    this.remove(o);
    return true;
  }

  remove(o: Occupant): void {
    for (const s of o.sessions.keys()) this.bySession.delete(s);
    if (this.occupants.get(o.nick) === o) this.occupants.delete(o.nick);
    if (this.byBare.get(o.bare.bareString()) === o) this.byBare.delete(o.bare.bareString());
  }

  rename(o: Occupant, nick: string): void {
    this.occupants.delete(o.nick);
    o.nick = nick;
    this.occupants.set(nick, o);
  }
}
