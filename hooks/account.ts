// Account lifecycle hooks (XEP-0077 registration, CLI user add/del).
import type { Jid } from '../src/core/jid.js';
import type { HookSpec } from './spec.js';
import type { Op } from '../src/data/index.js';

export interface AccountHooks {
  user_registered: { kind: 'notify'; ctx: { jid: Jid } };
  user_removing: { kind: 'notify'; ctx: { jid: Jid } };
  remove_user_data: { kind: 'filter'; drop: false; value: Op[]; ctx: { jid: Jid } };
  user_removed: { kind: 'notify'; ctx: { jid: Jid } };
}

export const ACCOUNT_HOOKS: Record<keyof AccountHooks, HookSpec> = {
  user_registered: { kind: 'notify', host: "the account's", drop: false, ctx: '{ jid: Jid }', doc: 'An account was created.' },
  user_removing: {
    kind: 'notify', host: "the account's", drop: false, ctx: '{ jid: Jid }',
    doc: 'An account is about to be deleted: its data is still there (tell contacts, RFC 6121 §3.2/§3.3).',
  },
  remove_user_data: {
    kind: 'filter', host: "the account's", drop: false, value: 'Op[]', ctx: '{ jid: Jid }',
    doc: "Append delete ops to the account's removal (ONE transaction with the account row). Runs only where the module runs: declare ModuleDefinition.removeUser instead, which also serves a stopped server's CLI.",
  },
  user_removed: { kind: 'notify', host: "the account's", drop: false, ctx: '{ jid: Jid }', doc: 'An account was deleted (after its data).' },
};
