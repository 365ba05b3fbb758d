// The contract of the 'pep' service (XEP-0163 Personal Eventing via PubSub seen from other modules, e.g.
// XEP-0402 bookmarks kept in step with XEP-0048, XEP-0084 avatars converted to vCard by XEP-0398).
// The core owns the contract; the pep module fulfils it per host.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../jid.js';
import { serviceKey } from './service-key.js';

/** One stored item of an account's node. */
export interface PepItem {
  id: string;
  payload: Element;
  /** The full or bare JID that published it. */
  publisher: string;
  /** ISO 8601 time of publication. */
  published: string;
}

/** XEP-0060 §7.1.5 publish-options as field var -> value(s), e.g. { 'pubsub#access_model': 'whitelist' }. */
export type PublishOptions = Record<string, string | string[]>;

export interface PepApi {
  /**
   * Publish an item to an account's node as the account itself (auto-creating the node with `options`, and
   * checking them as preconditions on an existing node, as a client's publish with publish-options would).
   * Notifies subscribers and +notify contacts. Resolves with the item id (generated when not given).
   * Rejects with a StanzaError (e.g. conflict / precondition-not-met) as the IQ would.
   */
  publish(owner: Jid, node: string, item: { id?: string; payload: Element }, options?: PublishOptions): Promise<string>;
  /** Items of an account's node, newest first ([] when the node does not exist); `ids` picks some. */
  items(owner: Jid, node: string, opts?: { ids?: string[]; max?: number }): Promise<PepItem[]>;
  /** Retract an item (notifying with <retract/> when the node says notify_retract); false when it was absent. */
  retract(owner: Jid, node: string, itemId: string): Promise<boolean>;
}

/** `ctx.service(PEP_SERVICE)` is a PepApi while the pep module runs on the host. */
export const PEP_SERVICE = serviceKey<PepApi>('pep');
