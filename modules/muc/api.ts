// The MUC service other modules use (ctx.service(MUC_SERVICE)): its rooms, and the room message path
// (addMessageListener: the room archive sees each groupchat message before history and broadcast).
import { serviceKey, type Element, type Jid } from '../../src/sdk.js';
import type { Room } from './room.js';
import type { RoomIqHandler, RoomMessageListener } from './service.js';

export interface MucApi {
  /** The service domain (conference.<host> by default). */
  readonly domain: string;
  /** A room by its name (localpart), if it exists. */
  room(name: string): Room | undefined;
  rooms(): Room[];
  /**
   * Called for each groupchat message (body or subject) with the stanza as the room will broadcast it (from
   * room/nick, no 'to'); the listener may add elements (an XEP-0359 stanza-id). Returns the removal function.
   */
  addMessageListener(l: RoomMessageListener): () => void;
  /** The discussion history kept in memory (XEP-0045 §7.2.14), oldest first. */
  history(name: string): Array<{ stanza: Element; ts: number }>;
  /**
   * Serve IQ get/set in `ns` on room JIDs (e.g. urn:xmpp:mam:2): the handler gets the room and the request
   * and returns the result payload (null: empty result) or throws a StanzaError. Returns the removal function.
   */
  handleRoomIq(ns: string, handler: RoomIqHandler): () => void;
  /** Add features to rooms' disco#info (e.g. urn:xmpp:mam:2 where the room is archived). */
  addRoomFeatures(fn: (room: Room) => string[]): () => void;
  /** Route a stanza from the service or a room (results sent before an IQ answer, such as MAM's messages). */
  route(el: Element, from: Jid, to: Jid): Promise<void>;
}

export const MUC_SERVICE = serviceKey<MucApi>('muc');
export type { Room, RoomIqHandler, RoomMessageListener, Jid };
