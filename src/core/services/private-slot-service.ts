// The contract of a private-slot handler: a module that keeps one XEP-0049 private XML namespace itself
// (e.g. XEP-0402 bookmarks answering storage:bookmarks from PEP). The private module consults it per request.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../jid.js';
import { serviceKey, type ServiceKey } from './service-key.js';

export interface PrivateSlotApi {
  /**
   * The elements a get of the namespace answers with ([]: none), or null to let private storage answer from
   * its own table. `stored` is what that table holds for the namespace (written while no handler ran), or
   * null; when get resolves non-null the handler has taken it over, and private storage deletes its copy.
   */
  get(owner: Jid, stored: Element[] | null): Promise<Element[] | null>;
  /**
   * Keep a set's elements of the namespace: true when kept (private storage then deletes its own copy),
   * false to let private storage store them as usual. A StanzaError refuses the whole set, nothing stored.
   */
  set(owner: Jid, elements: Element[]): Promise<boolean>;
}

/** The key of the handler for private XML namespace `ns` (ctx.provide it; one per namespace and host). */
export const privateSlotService = (ns: string): ServiceKey<PrivateSlotApi> => serviceKey<PrivateSlotApi>(`private_slot:${ns}`);
