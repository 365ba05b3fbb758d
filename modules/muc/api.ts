// The MUC service other modules use (ctx.service(MUC_SERVICE)): its rooms, and the room message path
// (addMessageListener: the room archive sees each groupchat message before history and broadcast).
import { serviceKey, type Element, type Jid } from '../../src/sdk.js';
import type { Room } from './room.js';
import type { RoomMessageListener } from './service.js';

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
}

export const MUC_SERVICE = serviceKey<MucApi>('muc');
export type { Room, RoomMessageListener, Jid };
