// The public hook catalogue (DESIGN.md "Hooks"): hook names -> payload types -> allowed results.
// Third-party modules add hooks by declaration merging on HookCatalogue plus HookRunner.declare().
/// <reference path="../src/types/xmpp-xml.d.ts" preserve="true" />
export { STOP, DROP } from './results.js';
export type { HookSpec } from './spec.js';
import type { HookSpec } from './spec.js';
import type { StanzaHooks } from './stanza.js';
import type { SessionHooks } from './session.js';
import type { DiscoHooks } from './disco.js';
import type { AccountHooks } from './account.js';
import type { PresenceHooks } from './presence.js';
import type { Sasl2Hooks } from './sasl2.js';
import type { PubsubHooks } from './pubsub.js';
import { STANZA_HOOKS } from './stanza.js';
import { SESSION_HOOKS } from './session.js';
import { DISCO_HOOKS } from './disco.js';
import { ACCOUNT_HOOKS } from './account.js';
import { PRESENCE_HOOKS } from './presence.js';
import { SASL2_HOOKS } from './sasl2.js';
import { PUBSUB_HOOKS } from './pubsub.js';

export type * from './stanza.js';
export type * from './session.js';
export type * from './disco.js';
export type * from './account.js';
export type * from './presence.js';
export type * from './sasl2.js';
export type * from './pubsub.js';

/** Every hook's types; extend with `declare module 'xmppd/hooks' { interface HookCatalogue { ... } }`. */
export interface HookCatalogue extends StanzaHooks, SessionHooks, DiscoHooks, AccountHooks, PresenceHooks, Sasl2Hooks, PubsubHooks {}
export type HookName = keyof HookCatalogue & string;

/** Runtime description of the core hooks (kind, whether DROP is allowed, what it is for). */
export const CORE_HOOKS: Record<string, HookSpec> = {
  ...STANZA_HOOKS,
  ...SESSION_HOOKS,
  ...DISCO_HOOKS,
  ...ACCOUNT_HOOKS,
  ...PRESENCE_HOOKS,
  ...SASL2_HOOKS,
  ...PUBSUB_HOOKS,
};
