// XEP-0077 for an authenticated user: the current registration (§3.1 <registered/>), password change
// (§3.3) and cancellation of the account (§3.2), addressed to the server or to the user's bare JID.
import { Jid, JidError, StreamError, xml, type Element, type IqRequest, type ModuleContext } from '../../src/sdk.js';
import { NS_REGISTER, RegisterError, checkPassword, field, isSaslPrepError, weakCharacters } from './policy.js';
import type { RegisterOptions } from './index.js';

export function accountIq(ctx: ModuleContext<RegisterOptions>, scope: 'host' | 'account') {
  return async (req: IqRequest): Promise<Element | null> => {
    const bare = req.from.bare();
    // Only an account of this host manages its own registration (XEP-0077 §3.2: "based on the bare JID
    // associated with the current session"); to anyone else there is no such service here.
    if (!bare.local || bare.domain !== ctx.host || (scope === 'account' && !bare.equals(req.to.bare()))) {
      throw new RegisterError('service-unavailable');
    }
    if (req.type === 'get') return registered(ctx, bare);
    const query = req.payload;
    if (query.getChild('remove')) return remove(ctx, req, bare);
    if (query.getChild('username') || query.getChild('password')) {
      try {
        return await changePassword(ctx, req, bare);
      } catch (err) {
        // XEP-0077 §3.3: errors about a password change SHOULD NOT return the original XML (it holds one).
        req.el.children = req.el.children.filter((c) => c !== req.payload);
        throw err;
      }
    }
    throw new RegisterError('bad-request', 'expected <remove/>, or <username/> and <password/> to change the password');
  };
}

/** XEP-0077 §3.1: an authenticated requester is registered; say so, with what is on file. */
function registered(ctx: ModuleContext<RegisterOptions>, bare: Jid): Element {
  const q = xml('query', { xmlns: NS_REGISTER }, xml('registered'));
  const can = [ctx.options.allow_password_change && 'change your password', ctx.options.allow_removal && 'remove your account'].filter(Boolean);
  q.c('instructions').t(can.length ? `You are registered as ${bare.bareString()}. You can ${can.join(' or ')} here.` : `You are registered as ${bare.bareString()}.`);
  q.c('username').t(bare.local);
  if (ctx.options.allow_password_change) q.c('password'); // empty: it is never shown (§3.1 "MAY be empty")
  return q;
}

/** XEP-0077 §3.3 password change, with its error table. */
async function changePassword(ctx: ModuleContext<RegisterOptions>, req: IqRequest, bare: Jid): Promise<null> {
  if (!ctx.options.allow_password_change) throw new RegisterError('not-allowed', 'password changes are disabled on this server');
  if (!req.session?.secure) {
    throw new RegisterError('not-authorized', 'password changes need an encrypted stream', 'modify');
  }
  const username = field(req.payload, 'username');
  const password = field(req.payload, 'password');
  if (!username || password === undefined) throw new RegisterError('bad-request', 'a password change needs <username/> and <password/>');
  // §3.3: an empty password MUST NOT replace the existing one, which stays.
  if (password === '') throw new RegisterError('bad-request', 'the password is empty; the current one is kept');
  let local: string;
  try {
    local = Jid.of(username, bare.domain).local;
  } catch (err) {
    throw new RegisterError('jid-malformed', `invalid username: ${err instanceof JidError ? err.message : 'invalid'}`);
  }
  // RFC 6120 §8.3.3.4: only the account itself may change its password.
  if (local !== bare.local) throw new RegisterError('forbidden', 'you can only change your own password');
  checkPassword(password, ctx.options.min_password_length);
  try {
    await ctx.accounts.setPassword(bare, password);
  } catch (err) {
    if (isSaslPrepError(err)) throw weakCharacters();
    if (!(await ctx.accounts.exists(bare))) throw new RegisterError('registration-required');
    throw err;
  }
  ctx.log.info('password changed in-band', { user: bare.bareString() });
  return null;
}

/**
 * XEP-0077 §3.2 cancellation with the home server: delete the account and all of its data (one
 * transaction, see accounts.remove), answer, then end every session with a <not-authorized/> stream error.
 */
async function remove(ctx: ModuleContext<RegisterOptions>, req: IqRequest, bare: Jid): Promise<null> {
  // §3.2 error table: <remove/> must be the only child; <not-allowed/> when nobody may cancel in-band.
  if (req.payload.getChildElements().length !== 1) throw new RegisterError('bad-request', '<remove/> must be the only child of <query/>');
  if (!ctx.options.allow_removal) throw new RegisterError('not-allowed', 'accounts cannot be removed in-band on this server');
  try {
    await ctx.accounts.remove(bare); // user_removing, every module's deletes in ONE transaction, user_removed
  } catch (err) {
    if (!(await ctx.accounts.exists(bare))) throw new RegisterError('registration-required', `${bare.bareString()} is not registered`);
    throw err;
  }
  ctx.log.info('account removed in-band', { user: bare.bareString() });
  // §3.2: "the server SHOULD then return a <not-authorized/> stream error and terminate all active
  // sessions" — once the result has reached the client.
  req.afterReply(() => {
    for (const s of ctx.sessionsOf(bare)) s.close(new StreamError('not-authorized', 'the account has been removed'));
  });
  return null;
}
