// The offline-message service this module provides (ctx.provide('offline', api)); its contract lives in the SDK.
export type { OfflineApi } from '../../src/sdk.js';
