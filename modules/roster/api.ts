// The roster service this module provides (ctx.provide('roster', api)); its contract lives in the SDK.
export type { RosterApi, RosterChange, RosterItem, RosterMutator, Subscription } from '../../src/sdk.js';
