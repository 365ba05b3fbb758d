// The authentication provider contract (DESIGN.md "Authentication providers"): where a host's accounts
// and passwords live. The SASL mechanisms a host offers follow what its provider can do (RFC 6120 §6.3.3).
import type { Jid } from '../jid.js';
import { OperatorError } from '../errors.js';
import type { StoredCredentials } from '../sasl/scram-credentials.js';

export interface AuthCapabilities {
  /** Can give stored SCRAM credentials (RFC 5802 §3): SCRAM and SCRAM-PLUS are offered. */
  scram: boolean;
  /** Can check a plaintext password (checkPassword): PLAIN is offered over TLS. */
  plain: boolean;
  /** Can create accounts (admin `user add`, XEP-0077 registration). */
  register: boolean;
  /** Can change passwords. */
  setPassword: boolean;
  /** Can delete accounts. */
  remove: boolean;
  /** Can enumerate a host's accounts (`user list`). */
  list: boolean;
}

/**
 * A provider answers for the bare JIDs of the hosts that select it (`auth.method`). Every method may
 * throw AuthUnavailableError when the backing service cannot answer (logins then get
 * temporary-auth-failure); a `false` is a definite answer.
 */
export interface AuthProvider {
  readonly name: string;
  readonly capabilities: AuthCapabilities;
  /** Stored SCRAM credentials, or null for no such account (capabilities.scram). */
  credentials?(bare: Jid): Promise<StoredCredentials | null>;
  /** Whether `password` (as the client sent it) is this account's (capabilities.plain). */
  checkPassword?(bare: Jid, password: string): Promise<boolean>;
  userExists(bare: Jid): Promise<boolean>;
  /** Create an account; throws AccountExistsError when taken, AuthRefusedError when the backend says no. */
  create?(bare: Jid, password: string): Promise<void>;
  /** Throws NoSuchAccountError for an unknown account. */
  setPassword?(bare: Jid, password: string): Promise<void>;
  /** Delete the account's credentials (the server deletes its data); throws NoSuchAccountError. */
  remove?(bare: Jid): Promise<void>;
  /** Bare JIDs of a host's accounts, in order (capabilities.list). */
  list?(host: string): Promise<string[]>;
  /** Release processes/connections (built-in providers only; a module stops its own). */
  stop?(): Promise<void>;
}

/** The provider cannot answer now (external program down or too slow, providing module not loaded). */
export class AuthUnavailableError extends OperatorError {
  constructor(message: string) {
    super('XMPPD_ERR_AUTH_UNAVAILABLE', message);
  }
}

/** The host's provider cannot do this at all (e.g. registration against a read-only directory). */
export class AuthUnsupportedError extends OperatorError {
  constructor(message: string) {
    super('XMPPD_ERR_AUTH_UNSUPPORTED', message);
  }
}

/** The backend was asked and said no (an extauth program answering 0 to tryregister or setpass). */
export class AuthRefusedError extends OperatorError {
  constructor(message: string) {
    super('XMPPD_ERR_AUTH_REFUSED', message);
  }
}

type Operation = 'register' | 'setPassword' | 'remove' | 'list';
const WHAT: Record<Operation, string> = {
  register: 'registration', setPassword: 'password changes', remove: 'account removal', list: 'listing accounts',
};
const METHOD = { register: 'create', setPassword: 'setPassword', remove: 'remove', list: 'list' } as const;

/** How an operator reads a provider's name in errors: "the external auth program", "the ldap auth provider". */
export function describeProvider(p: AuthProvider): string {
  return p.name === 'external' ? 'the external auth program' : `the ${p.name} auth provider`;
}

/** The provider's method for `op`, or an AuthUnsupportedError saying so in the operator's words. */
export function requireOperation<O extends Operation>(p: AuthProvider, op: O): NonNullable<AuthProvider[(typeof METHOD)[O]]> {
  const fn = p[METHOD[op]];
  if (!p.capabilities[op] || typeof fn !== 'function') throw new AuthUnsupportedError(`${describeProvider(p)} does not support ${WHAT[op]}`);
  return fn.bind(p) as NonNullable<AuthProvider[(typeof METHOD)[O]]>;
}
