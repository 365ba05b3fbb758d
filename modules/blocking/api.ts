// The blocking service other modules use (offline storage, MAM, search filters): XEP-0191 block lists
// with §6 JID matching. Provided as ctx.provide(BLOCKING_SERVICE, api) by the blocking module.
import { serviceKey, type Jid } from '../../src/sdk.js';

export interface BlockingApi {
  /** True when the local account `owner` blocks `peer` (full, bare, domain/resource or domain match). */
  isBlocked(owner: Jid, peer: Jid): Promise<boolean>;
  /** The canonical JIDs on `owner`'s block list, sorted. */
  list(owner: Jid): Promise<string[]>;
}

/** `ctx.service(BLOCKING_SERVICE)` is a BlockingApi while the blocking module runs on the host. */
export const BLOCKING_SERVICE = serviceKey<BlockingApi>('blocking');
