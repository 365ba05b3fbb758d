// XEP-0045 Multi-User Chat: a MUC service per virtual host at conference.<host> (option host), with
// persistent rooms in the data layer, XEP-0421 occupant ids, XEP-0410 self-ping and admin commands.
import { defineModule, Jid, opt } from '../../src/sdk.js';
import { History } from './history.js';
import { MUC_SERVICE } from './api.js';
import { mucCommands } from './commands.js';
import { affiliationsOf, AFFILIATIONS as AFFILIATION_ROWS, RoomStore, type StoredRoom } from './persistence.js';
import { defaultConfig, Room } from './room.js';
import { MucService } from './service.js';
import { mucMetrics } from './metrics.js';
import { roomArchive } from './room-archive.js';
import { LIMIT_OPTIONS, refusalCounter } from './limits.js';

export default defineModule({
  name: 'muc',
  description: 'Multi-user chat service (XEP-0045)',
  xeps: ['XEP-0045', 'XEP-0410', 'XEP-0421'],
  options: {
    /** The service domain; @HOST@ stands for the virtual host (as for pubsub). */
    host: opt.string('conference.@HOST@'),
    /** The service's name in disco (identity and the host's disco#items). */
    name: opt.string('Chatrooms'),
    /** Who may create rooms: 'local' (accounts of this host) or the name of an access rule. */
    access_create: opt.string('local'),
    /** Messages of discussion history kept per room (0: none). */
    history_size: opt.number(20, { min: 0, max: 10_000, integer: true }),
    /** Most occupants an owner may allow in a room (0: no limit). */
    max_users: opt.number(0, { min: 0, integer: true }),
    ...LIMIT_OPTIONS,
    /** New rooms' mam setting: a persistent room with it on is archived (XEP-0313 §5, needs the mam module). */
    archive_default: opt.boolean(true),
  },
  // An account's affiliations in every room, committed with the account's removal.
  removeUser: (data, user) => affiliationsOf(data, user),
  async start(ctx) {
    const domain = ctx.options.host.replaceAll('@HOST@', ctx.host).toLowerCase();
    const j = Jid.tryParse(domain);
    if (!j || j.local || j.resource || j.domain !== domain || domain === ctx.host) {
      throw new Error(`modules.muc.host: "${ctx.options.host}" must be a domain other than the host, such as conference.@HOST@`);
    }
    const store = new RoomStore(ctx, ctx.host, domain);
    const svc = new MucService(ctx, domain, store);
    const roomOf = (s: StoredRoom): Room => {
      const room = new Room(Jid.of(s.name, domain), defaultConfig(s.row.config), new Map(s.affiliations), s.row.secret, new History(ctx.options.history_size, ctx.options.max_history_message_size), s.row.createdAt);
      room.subject = s.row.subject;
      return room;
    };
    // In a cluster each room lives on one node, loaded there when it arrives (a takeover reads the replicated
    // rows, never an old copy); a single node holds every room from the start.
    svc.clustered = ctx.cluster !== undefined;
    if (!svc.clustered) for (const s of await store.load()) svc.rooms.set(s.name, roomOf(s));
    ctx.serveDomain(domain, svc.handle, {
      placement: 'one-node-per-jid',
      acquire: async (bare) => {
        await ctx.store.barrier(); // every write of the node that held it before is applied here
        const s = await store.loadOne(bare.local);
        svc.rooms.delete(bare.local);
        if (s) svc.rooms.set(s.name, roomOf(s));
      },
      release: (bare) => ctx.lock(`room:${bare.local}`, () => svc.release(bare.local)),
      holds: (bare) => svc.rooms.has(bare.local),
    });

    // The host lists its MUC service (XEP-0045 §6.1).
    ctx.hook('disco_items', (items, { target, node }) =>
      target === 'server' && node === undefined && items ? [...items, { jid: domain, name: ctx.options.name }] : undefined);

    // A removed account (of any host) loses its affiliations in this service's rooms; the rows go with removeUser.
    ctx.hookGlobal('user_removed', ({ jid }) => {
      for (const room of svc.rooms.values()) room.affiliations.delete(jid.bareString());
    });
    // In a cluster the account may go through another node: its affiliation rows are deleted there, and a room
    // held here drops them from memory (else its next save would write them back). A room's own save deletes and
    // re-puts its rows in one transaction: only rows whose last change in a transaction is a delete count.
    if (svc.clustered) {
      let batch: Map<string, boolean> | null = null;
      ctx.watch(AFFILIATION_ROWS, (ev) => {
        if (!batch) {
          batch = new Map();
          queueMicrotask(() => {
            const done = batch!;
            batch = null;
            for (const [key, deleted] of done) {
              const a = deleted ? store.affiliationOf(key) : null;
              const room = a && svc.rooms.get(a.room);
              if (room?.config.persistent) room.affiliations.delete(a!.jid); // a temporary room's rows went with it
            }
          });
        }
        batch.set(ev.key, ev.value === undefined);
      }, { prefix: store.prefix });
    }

    ctx.provide(MUC_SERVICE, {
      domain,
      room: (name) => svc.rooms.get(name),
      rooms: () => [...svc.rooms.values()],
      addMessageListener: (l) => {
        svc.listeners.add(l);
        return () => void svc.listeners.delete(l);
      },
      history: (name) => (svc.rooms.get(name)?.history.entries ?? []).map((e) => ({ stanza: e.stanza, ts: e.ts })),
      handleRoomIq: (ns, handler) => {
        svc.roomIq.set(ns, handler);
        return () => void (svc.roomIq.get(ns) === handler && svc.roomIq.delete(ns));
      },
      addRoomFeatures: (fn) => {
        svc.roomFeatures.add(fn);
        return () => void svc.roomFeatures.delete(fn);
      },
      route: (el, from, to) => svc.route(el, from, to),
    });
    mucCommands(ctx, svc);
    roomArchive(svc);
    svc.messagesCounter = mucMetrics(ctx, svc);
    svc.refused = refusalCounter(ctx);

    // Stopping the service (unload, reload, shutdown): every occupant leaves with 332 (§15.6).
    ctx.onStop(async () => {
      for (const room of svc.rooms.values()) await svc.shutRoom(room);
      svc.rooms.clear();
    });
    return svc;
  },
});
