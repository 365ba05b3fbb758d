// The archive service other parts use (admin commands, tests): XEP-0313 retention seen from outside.
// Provided as ctx.provide(MAM_SERVICE, api) by the mam module.
import { serviceKey } from '../../src/sdk.js';

export interface MamApi {
  /** Run one expiry pass now (expire_after); resolves with the number of messages removed (0 with "never"). */
  expireNow(): Promise<number>;
}

/** `ctx.service(MAM_SERVICE)` is a MamApi while the mam module runs on the host. */
export const MAM_SERVICE = serviceKey<MamApi>('mam');
