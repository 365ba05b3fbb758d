// The contract of the 'offline' service (XEP-0160 storage seen from outside, e.g. the "offline count"
// admin command), provided per host by the offline module. The core owns the contract; the module fulfils it.
import type { Jid } from '../jid.js';
import { serviceKey } from './service-key.js';

export interface OfflineApi {
  /** How many messages are stored for the account (its bare JID; a resource is ignored). */
  count(jid: Jid): Promise<number>;
}

/** The offline service's key: `ctx.service(OFFLINE_SERVICE)` is an OfflineApi (or undefined while it is not loaded). */
export const OFFLINE_SERVICE = serviceKey<OfflineApi>('offline');
