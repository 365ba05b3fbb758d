// Persistent rooms (XEP-0045 §10.1.1) in the data layer: one row per room (configuration, subject, occupant-id
// secret) and one per affiliation, keyed by host and service so hosts never mix:
//   muc_rooms         `${host}/${service}\0${room}`
//   muc_affiliations  `${host}/${service}\0${room}\0${bare JID}`
import type { Jid, Op } from '../../src/sdk.js';
import type { AffiliationEntry, Room, RoomConfig, Subject } from './room.js';

export const ROOMS = 'muc_rooms';
export const AFFILIATIONS = 'muc_affiliations';

export interface RoomRow { config: RoomConfig; subject: Subject | null; secret: string; createdAt: number }
export interface StoredRoom { name: string; row: RoomRow; affiliations: Array<[string, AffiliationEntry]> }

interface Tables {
  table<V>(name: string): {
    range(o: { prefix?: string }): Promise<Array<{ key: string; value: V }>>;
    get(key: string): Promise<{ value: V } | undefined>;
  };
  readonly store: { transact(ops: Op[]): Promise<unknown> };
}

export class RoomStore {
  private readonly base: string;

  constructor(private readonly data: Tables, host: string, service: string) {
    this.base = `${host}/${service}\u0000`;
  }

  /** Prefix of every row of this service (a watch keeps to it). */
  get prefix(): string {
    return this.base;
  }

  /** The room and bare JID of an affiliation row's key of this service, or null. */
  affiliationOf(key: string): { room: string; jid: string } | null {
    if (!key.startsWith(this.base)) return null;
    const rest = key.slice(this.base.length);
    const cut = rest.indexOf('\u0000');
    return cut < 0 ? null : { room: rest.slice(0, cut), jid: rest.slice(cut + 1) };
  }

  private roomKey = (name: string) => this.base + name;
  private affPrefix = (name: string) => `${this.base}${name}\u0000`;

  /** Every stored room of this service with its affiliations. */
  async load(): Promise<StoredRoom[]> {
    const rooms = await this.data.table<RoomRow>(ROOMS).range({ prefix: this.base });
    const affs = await this.data.table<AffiliationEntry>(AFFILIATIONS).range({ prefix: this.base });
    const byRoom = new Map<string, Array<[string, AffiliationEntry]>>();
    for (const a of affs) {
      const rest = a.key.slice(this.base.length);
      const cut = rest.indexOf('\u0000');
      const room = rest.slice(0, cut);
      if (!byRoom.has(room)) byRoom.set(room, []);
      byRoom.get(room)!.push([rest.slice(cut + 1), a.value]);
    }
    return rooms.map((r) => {
      const name = r.key.slice(this.base.length);
      return { name, row: r.value, affiliations: byRoom.get(name) ?? [] };
    });
  }

  /** One stored room with its affiliations, or undefined (a cluster node loading the room it takes over). */
  async loadOne(name: string): Promise<StoredRoom | undefined> {
    const row = await this.data.table<RoomRow>(ROOMS).get(this.roomKey(name));
    if (!row) return undefined;
    const p = this.affPrefix(name);
    const affs = await this.data.table<AffiliationEntry>(AFFILIATIONS).range({ prefix: p });
    return { name, row: row.value, affiliations: affs.map((a) => [a.key.slice(p.length), a.value]) };
  }

  /** Write the whole room in one transaction (its affiliation rows replaced). */
  async save(room: Room): Promise<void> {
    const row: RoomRow = { config: room.config, subject: room.subject, secret: room.secret, createdAt: room.createdAt };
    const ops: Op[] = [
      { type: 'put', table: ROOMS, key: this.roomKey(room.name), value: row as never },
      { type: 'delRange', table: AFFILIATIONS, prefix: this.affPrefix(room.name) },
    ];
    for (const [jid, a] of room.affiliations) ops.push({ type: 'put', table: AFFILIATIONS, key: this.affPrefix(room.name) + jid, value: a as never });
    await this.data.store.transact(ops);
  }

  async remove(name: string): Promise<void> {
    await this.data.store.transact([
      { type: 'del', table: ROOMS, key: this.roomKey(name) },
      { type: 'delRange', table: AFFILIATIONS, prefix: this.affPrefix(name) },
    ]);
  }
}

/** An account's affiliations in every room of every host (removeUser): their rows to delete. */
export async function affiliationsOf(data: Tables, user: Jid): Promise<Op[]> {
  const suffix = `\u0000${user.bareString()}`;
  const rows = await data.table<AffiliationEntry>(AFFILIATIONS).range({});
  return rows.filter((r) => r.key.endsWith(suffix)).map((r) => ({ type: 'del' as const, table: AFFILIATIONS, key: r.key }));
}
