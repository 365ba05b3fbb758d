// The archive service other parts use (admin commands, tests): XEP-0313 retention seen from outside.
// Provided as ctx.provide('mam', api) by the mam module.

export interface MamApi {
  /** Run one expiry pass now (expire_after); resolves with the number of messages removed (0 with "never"). */
  expireNow(): Promise<number>;
}
