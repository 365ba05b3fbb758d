// Account lifecycle hooks (XEP-0077 registration, CLI user add/del).
import type { Jid } from '../src/core/jid.js';
import type { HookSpec } from './spec.js';

export interface AccountHooks {
  user_registered: { kind: 'notify'; ctx: { jid: Jid } };
  user_removed: { kind: 'notify'; ctx: { jid: Jid } };
}

export const ACCOUNT_HOOKS: Record<keyof AccountHooks, HookSpec> = {
  user_registered: { kind: 'notify', drop: false, ctx: '{ jid: Jid }', doc: 'An account was created.' },
  user_removed: { kind: 'notify', drop: false, ctx: '{ jid: Jid }', doc: 'An account was deleted (after its data).' },
};
