// The one password policy of the server: in-band registration (XEP-0077), the admin commands (CLI, REST,
// XEP-0133 ad-hoc) and the CLI prompt all apply it. The minimum is the register module's
// min_password_length on the account's host (default 8, NIST SP 800-63B §5.1.1.2).
import type { ServerConfig } from './config/types.js';
import { modulesOfHost } from './config/host-modules.js';

export const DEFAULT_MIN_PASSWORD_LENGTH = 8;
/** Anything longer is refused: a password is not a document, and PBKDF2 runs over it on every change. */
export const MAX_PASSWORD_CHARS = 1024;

/** The shortest password accepted on `host`: modules.register.min_password_length (host_config overrides apply). */
export function minPasswordLength(config: Pick<ServerConfig, 'modules' | 'host_config'>, host: string): number {
  const v = modulesOfHost(config, host).get('register')?.options.min_password_length;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : DEFAULT_MIN_PASSWORD_LENGTH;
}

/**
 * What is wrong with a password under the policy, or null. Length counts code points (what a user sees
 * as characters), before SASLprep (whose refusals the accounts layer reports).
 */
export function passwordProblem(password: string, minLength: number): string | null {
  const n = [...password].length;
  if (n < minLength) return `the password is too weak: use at least ${minLength} characters`;
  if (n > MAX_PASSWORD_CHARS) return `the password is too long (at most ${MAX_PASSWORD_CHARS} characters)`;
  return null;
}
