// The MUC service's admin commands (CLI, REST, ad-hoc): list rooms, create, destroy, list occupants.
import { CommandError, Jid, type ModuleContext } from '../../src/sdk.js';
import { destroyRoom } from './owner.js';
import type { Room } from './room.js';
import type { MucOptions, MucService } from './service.js';

export function mucCommands(ctx: ModuleContext<MucOptions>, svc: MucService): void {
  /** A room argument: its name, or its JID on this service. */
  const roomName = (v: unknown): string => {
    const s = String(v ?? '');
    const j = Jid.tryParse(s.includes('@') ? s : `${s}@${svc.domain}`);
    if (!j || !j.local || j.resource) throw new CommandError(`"${s}" is not a room name or room JID`);
    if (j.domain !== svc.domain) throw new CommandError(`${j.domain} is not the MUC service of ${ctx.host} (${svc.domain}); pass host`);
    return j.local;
  };
  const existing = (name: string): Room => {
    const r = svc.rooms.get(name);
    if (!r) throw new CommandError(`no room ${name}@${svc.domain}`, 'not-found');
    return r;
  };
  const describe = (r: Room) => ({
    jid: r.jid.toString(), name: r.config.name, occupants: r.occupants.size, persistent: r.config.persistent,
    public: r.config.public, membersOnly: r.config.membersOnly, locked: r.locked,
  });

  // In a cluster: every persistent room, and the rooms this node holds (`here`: occupants are counted where a
  // room is held; muc.occupants and muc.destroy act on the rooms held by the node they run on).
  ctx.command({
    name: 'muc.rooms', description: 'List the rooms of a host\'s MUC service', args: ['host?'],
    run: async () => {
      const rooms = new Map<string, ReturnType<typeof describe> & { here?: boolean }>();
      if (svc.clustered) {
        // A cluster node holds some rooms only: the persistent ones of every node come from the tables.
        await ctx.store.barrier();
        for (const s of await svc.store.load()) {
          const c = s.row.config;
          rooms.set(s.name, { jid: `${s.name}@${svc.domain}`, name: c.name, occupants: 0, persistent: true, public: c.public, membersOnly: c.membersOnly, locked: false, here: false });
        }
      }
      for (const r of svc.rooms.values()) rooms.set(r.name, { ...describe(r), ...(svc.clustered && { here: true }) });
      return { service: svc.domain, rooms: [...rooms.keys()].sort((a, b) => a.localeCompare(b)).map((k) => rooms.get(k)!) };
    },
  });
  ctx.command({
    name: 'muc.create', description: 'Create a persistent room (owner: a JID to make its owner)', args: ['room', 'owner?', 'name?', 'host?'],
    run: async (a) => {
      const name = roomName(a.room);
      let owner: Jid | null = null;
      if (a.owner !== undefined && a.owner !== '') {
        owner = Jid.tryParse(String(a.owner));
        if (!owner || !owner.local) throw new CommandError(`owner "${a.owner}" is not a JID`);
      }
      return ctx.lock(`room:${name}`, async () => {
        if (svc.rooms.has(name)) throw new CommandError(`${name}@${svc.domain} exists`, 'conflict');
        const r = svc.createRoom(name, owner?.bare() ?? null, { persistent: true, ...(a.name ? { name: String(a.name) } : {}) });
        await svc.persist(r);
        return describe(r);
      });
    },
  });
  ctx.command({
    name: 'muc.destroy', description: 'Destroy a room: its occupants are told (XEP-0045 §10.9)', args: ['room', 'reason?', 'host?'],
    run: async (a) => {
      const name = roomName(a.room);
      return ctx.lock(`room:${name}`, async () => {
        const r = existing(name);
        await destroyRoom(svc, r, undefined, a.reason ? String(a.reason) : undefined);
        return { destroyed: r.jid.toString() };
      });
    },
  });
  ctx.command({
    name: 'muc.occupants', description: 'List the occupants of a room', args: ['room', 'host?'],
    run: async (a) => {
      const r = existing(roomName(a.room));
      return {
        room: r.jid.toString(),
        occupants: [...r.occupants.values()].map((o) => ({
          nick: o.nick, jid: o.bare.toString(), sessions: [...o.sessions.keys()], role: o.role, affiliation: r.affiliation(o.bare.bareString()),
        })),
      };
    },
  });
}
