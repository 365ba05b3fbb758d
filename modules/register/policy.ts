// XEP-0077 In-Band Registration: shared pieces of the register module — namespaces, errors with the
// legacy codes XEP-0077 §9 asks for (XEP-0086 table), field reading and the password policy.
import { StanzaError, passwordProblem, xml, type Element, type StanzaErrorCondition, type StanzaErrorType } from '../../src/sdk.js';

export const NS_REGISTER = 'jabber:iq:register';
/** XEP-0077 §8: the stream feature offered to clients before authentication. */
export const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';

export { MAX_PASSWORD_CHARS } from '../../src/sdk.js';

/** XEP-0086 §3 mapping of the conditions this module sends to the old HTTP-style codes. */
const LEGACY_CODES: Partial<Record<StanzaErrorCondition, string>> = {
  'bad-request': '400', conflict: '409', forbidden: '403', 'internal-server-error': '500',
  'jid-malformed': '400', 'not-acceptable': '406', 'not-allowed': '405', 'not-authorized': '401',
  'registration-required': '407', 'resource-constraint': '500', 'service-unavailable': '503', 'unexpected-request': '400',
};

/**
 * A stanza error that also carries the legacy 'code' attribute: XEP-0077 §9 says a compliant server
 * "MUST support both old-style and new-style error handling".
 */
export class RegisterError extends StanzaError {
  constructor(condition: StanzaErrorCondition, text?: string, type?: StanzaErrorType) {
    super(condition, text, type);
  }

  override toElement(by?: string): Element {
    const el = super.toElement(by);
    const code = LEGACY_CODES[this.condition];
    if (code) el.attrs.code = code;
    return el;
  }
}

/** The <query xmlns='jabber:iq:register'/> payload of an IQ, if that is what it carries. */
export function registerQuery(iq: Element): Element | undefined {
  return iq.getChildElements().find((c) => c.name === 'query' && c.attrs.xmlns === NS_REGISTER);
}

/** The text of a field, '' for an empty element, undefined when absent. */
export function field(query: Element, name: string): string | undefined {
  const el = query.getChild(name);
  return el ? el.text() : undefined;
}

/**
 * The server's password policy (src/core/password-policy.ts, shared with the admin commands). XEP-0077
 * fixes no minimum; the default of 8 follows NIST SP 800-63B §5.1.1.2.
 */
export function checkPassword(password: string, minLength: number): void {
  const problem = passwordProblem(password, minLength);
  if (problem) throw new RegisterError('not-acceptable', problem);
}

/** SASLprep refusals from the accounts layer (RFC 4013 prohibited output) carry this code. */
export function isSaslPrepError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'XMPPD_ERR_SASLPREP';
}

export const weakCharacters = () =>
  new RegisterError('not-acceptable', 'the password contains characters that are not allowed (RFC 4013 SASLprep)');

/** The registration form (XEP-0077 §3.1 Example 2): instructions and the fields to fill in. */
export function registrationForm(host: string, minLength: number): Element {
  return xml('query', { xmlns: NS_REGISTER },
    xml('instructions', {}, `Choose a username and a password of at least ${minLength} characters for your account on ${host}.`),
    xml('username'),
    xml('password'),
  );
}
