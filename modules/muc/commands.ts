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

  ctx.command({
    name: 'muc.rooms', description: 'List the rooms of a host\'s MUC service', args: ['host?'],
    run: async () => ({ service: svc.domain, rooms: [...svc.rooms.values()].sort((a, b) => a.name.localeCompare(b.name)).map(describe) }),
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
