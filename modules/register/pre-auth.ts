// XEP-0077 §3.1 / §3.1.1: account registration on a stream that has not authenticated yet, reached
// through the c2s_unauthenticated_iq hook (the IQ router only serves authenticated sessions).
import { Jid, JidError, StanzaError, errorReply, iqResult, xml, AuthRefusedError, AuthUnavailableError, AuthUnsupportedError, type Element, type ModuleContext } from '../../src/sdk.js';
import { RegisterError, checkPassword, field, isSaslPrepError, registerQuery, registrationForm, weakCharacters } from './policy.js';
import type { RegisterOptions } from './index.js';

interface PreAuthIq { host: string; ip: string; secure: boolean; iq: Element }

/**
 * The reply to a pre-authentication IQ, or undefined when it is not ours to answer (the c2s layer then
 * ends the stream with <not-authorized/>: "authenticate first").
 */
export async function preAuthIq(ctx: ModuleContext<RegisterOptions>, req: PreAuthIq): Promise<Element | undefined> {
  const { iq, host } = req;
  const query = registerQuery(iq);
  if (!query) return undefined;
  // Before authentication only the server itself can be addressed: no 'to', or its domain.
  if (iq.attrs.to !== undefined && Jid.tryParse(iq.attrs.to)?.toString() !== host) return undefined;
  const type = iq.attrs.type;
  if (type !== 'get' && type !== 'set') return undefined; // never answer a result or an error
  // Reply to a copy without the client's own 'from': an unauthenticated stream has no address yet.
  const attrs: Record<string, string> = { type };
  if (iq.attrs.id !== undefined) attrs.id = iq.attrs.id;
  if (iq.attrs.to !== undefined) attrs.to = iq.attrs.to;
  const request = xml('iq', attrs);
  try {
    if (!iq.attrs.id || iq.getChildElements().length !== 1) {
      throw new RegisterError('bad-request', 'an IQ get/set needs an id and exactly one child element');
    }
    request.cnode(withoutPassword(query));
    const payload = type === 'get' ? answerGet(ctx, req) : await register(ctx, req, query);
    return iqResult(request, payload);
  } catch (err) {
    if (!(err instanceof StanzaError)) {
      ctx.log.error('in-band registration failed', { err });
      return errorReply(request, new RegisterError('internal-server-error'));
    }
    return errorReply(request, err);
  }
}

/** XEP-0077 §11 (Security Considerations): registration sends the password, so it needs an encrypted channel. */
function requireSecure(secure: boolean): void {
  // XEP-0077 §3.3's error table names <not-authorized/> (type modify) for "does not consider the channel
  // safe enough"; the same judgement applies to the password sent at registration.
  if (!secure) throw new RegisterError('not-authorized', 'in-band registration needs an encrypted stream: negotiate TLS first', 'modify');
}

function answerGet(ctx: ModuleContext<RegisterOptions>, req: PreAuthIq): Element {
  requireSecure(req.secure);
  // XEP-0077 §3.1: the requester is a host's would-be user, identified by the IP it connects from only.
  if (!ctx.allowed(ctx.options.access, { ip: req.ip })) {
    throw new RegisterError('forbidden', 'in-band registration is not open to you');
  }
  return registrationForm(req.host, ctx.options.min_password_length);
}

async function register(ctx: ModuleContext<RegisterOptions>, req: PreAuthIq, query: Element): Promise<null> {
  requireSecure(req.secure);
  if (query.getChild('remove')) {
    // XEP-0077 §3.2 error table: a remove "does not contain a 'from' address because the entity is not
    // registered with the server" -> <unexpected-request/>.
    throw new RegisterError('unexpected-request', 'authenticate before cancelling a registration');
  }
  const username = field(query, 'username');
  const password = field(query, 'password');
  // XEP-0077 §3.1: missing information, including an empty <password/>, MUST get <not-acceptable/>.
  if (!username || !password) throw new RegisterError('not-acceptable', 'both a username and a password are required');
  let jid: Jid;
  try {
    jid = Jid.of(username, req.host); // RFC 7622 §3.3 localpart preparation (lower-cases it)
  } catch (err) {
    const why = err instanceof JidError ? err.message : 'invalid';
    throw new RegisterError('jid-malformed', `the username cannot be used: ${why}`);
  }
  // The rule sees the address being registered as well as the IP, so ACLs can reserve names (user_regexp).
  // No XEP-0077 condition covers a policy refusal of registration; <forbidden/> is RFC 6120 §8.3.3.4
  // "does not possess the necessary permissions" and what XEP-0077 §3.2 uses for insufficient permissions.
  if (!ctx.allowed(ctx.options.access, { ip: req.ip, jid })) {
    throw new RegisterError('forbidden', 'in-band registration is not open to you');
  }
  checkPassword(password, ctx.options.min_password_length);
  const conflict = () => new RegisterError('conflict', `${jid.bareString()} is already registered`);
  if (await ctx.accounts.exists(jid)) throw conflict(); // spare the key derivation; create() re-checks
  // limits.registrations_per_ip_per_hour, before any PBKDF2 work; only accounts actually created count. Over
  // it: RFC 6120 §8.3.3.18 <resource-constraint/> (type wait: try later), as ejabberd answers — XEP-0077
  // §3.1.1's <not-acceptable/> (type modify) is for repeated attempts on one stream, which no edit fixes.
  const slot = ctx.reserveRegistration(req.ip);
  if (!slot) throw new RegisterError('resource-constraint', 'too many accounts were registered from your address; try again later', 'wait');
  try {
    await ctx.accounts.create(jid, password);
  } catch (err) {
    slot.release();
    if (isSaslPrepError(err)) throw weakCharacters();
    // An external or module auth provider that can't or won't register this account (RFC 6120 §8.3.3).
    if (err instanceof AuthRefusedError || err instanceof AuthUnsupportedError) throw new RegisterError('not-allowed', err.message);
    if (err instanceof AuthUnavailableError) throw new RegisterError('service-unavailable', 'the account service is not answering; try again later', 'wait');
    if (await ctx.accounts.exists(jid)) throw conflict(); // lost a race with another registration
    throw err;
  }
  ctx.log.info('account registered in-band', { user: jid.bareString(), ip: req.ip });
  return null; // XEP-0077 §3.1 Example 5: an empty result
}

/** The request as echoed in an error (XEP-0077 §3.1 Example 6), minus the password it carried. */
function withoutPassword(query: Element): Element {
  const copy = xml('query', { ...query.attrs });
  for (const c of query.getChildElements()) copy.cnode(c.name === 'password' ? xml('password') : clone(c));
  return copy;
}

function clone(el: Element): Element {
  return xml(el.name, { ...el.attrs }, ...el.children.map((c) => (typeof c === 'string' ? c : clone(c))));
}
