// The offline-message service other modules use (admin commands such as "offline count"): XEP-0160
// storage seen from outside. Provided as ctx.provide('offline', api) by the offline module.
import type { Jid } from '../../src/sdk.js';

export interface OfflineApi {
  /** How many messages are stored for the account (its bare JID; a resource is ignored). */
  count(jid: Jid): Promise<number>;
}
