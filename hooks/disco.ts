// Service discovery hook (XEP-0030): what disco#info answers for the server and for accounts.
import type { Jid } from '../src/core/jid.js';
import type { Element } from '@xmpp/xml';
import type { HookSpec } from './spec.js';

export interface DiscoIdentity { category: string; type: string; name?: string }
export interface DiscoInfo { identities: DiscoIdentity[]; features: string[]; forms: Element[] }
export interface DiscoInfoCtx { host: string; target: 'server' | 'account'; node?: string; from: Jid; to: Jid }

export interface DiscoItem { jid: string; node?: string; name?: string }
export type DiscoItemsCtx = DiscoInfoCtx;

export interface DiscoHooks {
  disco_info: { kind: 'filter'; drop: false; value: DiscoInfo; ctx: DiscoInfoCtx };
  disco_items: { kind: 'filter'; drop: false; value: DiscoItem[] | null; ctx: DiscoItemsCtx };
}

export const DISCO_HOOKS: Record<keyof DiscoHooks, HookSpec> = {
  disco_info: {
    kind: 'filter', host: "the host asked (ctx.host)", drop: false, value: '{ identities; features; forms }', ctx: '{ host; target: server | account; node?; from; to }',
    doc: 'The disco#info answer being built; add identities, features or XEP-0128 forms.',
  },
  disco_items: {
    kind: 'filter', host: "the host asked (ctx.host)", drop: false, value: 'DiscoItem[] | null', ctx: '{ host; target: server | account; node?; from; to }',
    doc: 'The disco#items answer being built: [] to start with, or null for a node nobody has claimed yet (item-not-found if it stays null).',
  },
};
