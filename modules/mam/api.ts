// The archive service other parts use (admin commands, tests): XEP-0313 retention seen from outside.
// Provided as ctx.provide(MAM_SERVICE, api) by the mam module.
import { serviceKey, type Element } from '../../src/sdk.js';

export interface MamApi {
  /** Run one expiry pass now (expire_after); resolves with the number of messages removed (0 with "never"). */
  expireNow(): Promise<number>;
  /**
   * The sender's archive id of an outgoing message this module archived as it passed filter_packet (for
   * XEP-0280 <sent/> copies, which carry it as a <stanza-id/>: XEP-0313 "Communicating the archive ID"), or undefined.
   */
  sentId(message: Element): string | undefined;
}

/** `ctx.service(MAM_SERVICE)` is a MamApi while the mam module runs on the host. */
export const MAM_SERVICE = serviceKey<MamApi>('mam');
