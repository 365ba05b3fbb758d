// The MUC service of one virtual host (XEP-0045): rooms by name, dispatch of every stanza to the service
// domain (ctx.serveDomain), room creation rights, and the pieces the other files share (routing, errors,
// persistence, message listeners). One stanza at a time per room, so occupants see a room's stanzas in order.
import { errorReply, iqResult, Jid, StanzaError, type Element, type ModuleContext } from '../../src/sdk.js';
import { History } from './history.js';
import { newRoomSecret, occupantId } from './occupant-id.js';
import { defaultConfig, Room, type RoomConfig } from './room.js';
import type { RoomStore } from './persistence.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC_ADMIN, NS_MUC_OWNER, NS_PING } from './ns.js';
import { onPresence } from './presence.js';
import { onMessage } from './messages.js';
import { adminQuery } from './admin.js';
import { ownerQuery } from './owner.js';
import { roomInfo, roomItems, serviceInfo, serviceItems } from './disco.js';
import { IqRelay } from './occupant-iq.js';
import { NS_REGISTER, registerQuery } from './register.js';
import type { MucLimitOptions } from './limits.js';
import { removeRoomArchive } from './room-archive.js';
import { broadcastPresence } from './occupants.js';
import { STATUS } from './status-codes.js';

export interface MucOptions extends MucLimitOptions {
  host: string;
  name: string;
  access_create: string;
  history_size: number;
  max_users: number;
  archive_default: boolean;
}

/**
 * Called for every groupchat message of a room before it is stored in the history and broadcast (the room
 * archive's entry point: it may add elements such as an XEP-0359 <stanza-id/> to `stanza`).
 */
export type RoomMessageListener = (room: Room, stanza: Element, sender: { nick: string; jid: Jid }) => void | Promise<void>;

/** An IQ handler for a room's bare JID in a namespace the service itself does not serve (the room archive's MAM queries). */
export type RoomIqHandler = (room: Room, call: IqCall) => Element | null | Promise<Element | null>;

export interface IqCall {
  el: Element; from: Jid; to: Jid; type: 'get' | 'set'; payload: Element;
  /** Work to do once the result is on its way (broadcasts that follow a change, §10.2.1). */
  after: Array<() => Promise<void>>;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  readonly jid: Jid;
  readonly listeners = new Set<RoomMessageListener>();
  private readonly relay: IqRelay;
  /** Other modules' IQ namespaces on room JIDs, and extra room disco features (MucApi). */
  readonly roomIq = new Map<string, RoomIqHandler>();
  readonly roomFeatures = new Set<(room: Room) => string[]>();
  /** Groupchat messages broadcast (xmppd_muc_messages_total); set by the module. */
  messagesCounter: { inc(labels: { host: string }): void } | null = null;
  /** In a cluster: each room is held by one node, loaded there on arrival (the module's placement). */
  clustered = false;
  /** Stanzas refused for a limit (xmppd_muc_refusals_total); set by the module. */
  refused?: { inc(labels: { host: string; limit: string }): void };

  constructor(
    readonly ctx: ModuleContext<MucOptions>,
    readonly domain: string,
    readonly store: RoomStore,
  ) {
    this.jid = Jid.parse(domain);
    this.relay = new IqRelay(this);
  }

  get options(): MucOptions {
    return this.ctx.options;
  }

  /**
   * Route from the service. A stanza to the service itself (an invitation to a room, say) is not awaited:
   * it would wait for the very room lock its sender holds.
   */
  route = (el: Element, from: Jid, to: Jid): Promise<void> => {
    if (to.domain === this.domain) {
      void this.ctx.route(el, from, to);
      return Promise.resolve();
    }
    return this.ctx.route(el, from, to);
  };

  /** Answer `el` with a stanza error from `to` (never an error to an error or a result). */
  error(el: Element, from: Jid, to: Jid, err: StanzaError): Promise<void> {
    if (el.attrs.type === 'error' || (el.name === 'iq' && el.attrs.type === 'result')) return Promise.resolve();
    const reply = errorReply(el, err, to.toString());
    reply.attrs.to = from.toString();
    return this.route(reply, to, from);
  }

  /** Every stanza to the service domain or its rooms (ServiceDomainHandler). */
  handle = async (el: Element, from: Jid, to: Jid): Promise<void> => {
    try {
      if (!to.local) return await this.toService(el, from, to);
      await this.ctx.lock(`room:${to.local}`, () => this.toRoom(el, from, to));
    } catch (err) {
      if (err instanceof StanzaError) return this.error(el, from, to, err);
      this.ctx.log.error('muc stanza failed', { err, name: el.name, to: to.toString() });
      return this.error(el, from, to, new StanzaError('internal-server-error'));
    }
  };

  private async toService(el: Element, from: Jid, to: Jid): Promise<void> {
    if (el.name !== 'iq') {
      if (el.name === 'message') throw new StanzaError('service-unavailable', 'send messages to a room');
      return; // presence to the service itself means nothing
    }
    await this.iq(el, from, to, (call) => {
      if (to.resource) throw new StanzaError('service-unavailable');
      const ns = call.payload.attrs.xmlns;
      if (ns === NS_DISCO_INFO) return serviceInfo(this, call);
      if (ns === NS_DISCO_ITEMS) return serviceItems(this, call);
      if (ns === NS_PING && call.type === 'get') return null;
      throw new StanzaError('service-unavailable');
    });
  }

  private async toRoom(el: Element, from: Jid, to: Jid): Promise<void> {
    if (el.name === 'presence') return onPresence(this, el, from, to);
    if (el.name === 'message') return onMessage(this, el, from, to);
    if (el.name !== 'iq') return;
    if (to.resource) return this.relay.onIq(el, from, to);
    await this.iq(el, from, to, (call) => {
      const room = this.visibleRoom(to.local, from);
      const ns = call.payload.attrs.xmlns;
      if (ns === NS_DISCO_INFO) return roomInfo(this, room, call);
      if (ns === NS_DISCO_ITEMS) return roomItems(this, room, call);
      if (ns === NS_MUC_OWNER) {
        // The owner of a locked room configures it (§10.1.3); everyone else finds no room.
        return ownerQuery(this, this.rooms.get(to.local) ?? notFound(), call);
      }
      if (!room) throw new StanzaError('item-not-found', 'no such room');
      if (ns === NS_MUC_ADMIN) return adminQuery(this, room, call);
      if (ns === NS_REGISTER) return registerQuery(this, room, call);
      if (ns === NS_PING && call.type === 'get') return null;
      const other = typeof ns === 'string' ? this.roomIq.get(ns) : undefined;
      if (other) return other(room, call);
      throw new StanzaError('service-unavailable');
    });
  }

  /**
   * Run an IQ get/set handler and answer with its result (null: an empty result; undefined: the handler
   * answers later itself); results and errors to the service are dropped.
   */
  async iq(el: Element, from: Jid, to: Jid, handler: (call: IqCall) => Element | null | undefined | Promise<Element | null | undefined>): Promise<void> {
    const type = el.attrs.type;
    if (type !== 'get' && type !== 'set') return;
    const payload = el.getChildElements()[0];
    if (!payload) throw new StanzaError('bad-request', 'an IQ get or set needs a payload');
    const call: IqCall = { el, from, to, type, payload, after: [] };
    const result = await handler(call);
    if (result === undefined) return;
    const reply = iqResult(el, result, to.toString());
    reply.attrs.to = from.toString();
    await this.route(reply, to, from);
    for (const f of call.after) await f();
  }

  /** A room as `from` may see it: a locked room exists for its owners only (§10.1.3). */
  visibleRoom(name: string, from: Jid): Room | undefined {
    const room = this.rooms.get(name);
    if (!room || (room.locked && room.affiliation(from.bareString()) !== 'owner')) return undefined;
    return room;
  }

  /** Whether `from` may create rooms: access_create 'local' is any account of this host, else an access rule. */
  mayCreate(from: Jid): boolean {
    const rule = this.options.access_create;
    if (rule === 'local') return from.domain === this.ctx.host;
    return this.ctx.allowed(rule, { jid: from });
  }

  /** A new room (in memory; persisted once configured persistent). */
  createRoom(name: string, owner: Jid | null, config: Partial<RoomConfig> = {}): Room {
    const room = new Room(Jid.of(name, this.domain), defaultConfig({ mam: this.options.archive_default, ...config }), new Map(), newRoomSecret(), new History(this.options.history_size, this.options.max_history_message_size));
    if (owner) room.affiliations.set(owner.bareString(), { affiliation: 'owner' });
    this.rooms.set(name, room);
    return room;
  }

  occupantId(room: Room, bare: Jid): string {
    return occupantId(room.secret, bare.bareString());
  }

  /** A temporary room goes away with its last occupant (§10.1.1 temporary rooms). */
  vanishIfEmpty(room: Room): void {
    if (room.isEmpty() && !room.config.persistent && this.rooms.get(room.name) === room) {
      this.rooms.delete(room.name);
      void removeRoomArchive(this, room); // one kept from when it was persistent
    }
  }

  /** Every occupant leaves the room with 332 (§15.6: the service is going, or the room moved to another node). */
  async shutRoom(room: Room): Promise<void> {
    for (const o of [...room.occupants.values()]) {
      room.remove(o);
      o.payload = [];
      await broadcastPresence(this, room, o, { type: 'unavailable', role: 'none', codes: [STATUS.SHUTDOWN] });
    }
  }

  /** Another cluster node holds the room now: its occupants here are told to rejoin, and this copy goes. */
  async release(name: string): Promise<void> {
    const room = this.rooms.get(name);
    if (!room) return;
    this.rooms.delete(name);
    await this.shutRoom(room);
  }

  /** Write a persistent room (config, affiliations, subject) or drop the rows of a temporary one. */
  async persist(room: Room): Promise<void> {
    if (room.config.persistent) await this.store.save(room);
    else await this.store.remove(room.name);
  }

  /** Run the message listeners (the room archive) for a groupchat message about to be broadcast. */
  async messageListeners(room: Room, stanza: Element, sender: { nick: string; jid: Jid }): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l(room, stanza, sender);
      } catch (err) {
        this.ctx.log.error('muc message listener failed', { err, room: room.jid.toString() });
      }
    }
  }
}

function notFound(): never {
  throw new StanzaError('item-not-found', 'no such room');
}
