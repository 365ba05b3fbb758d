// SASL PLAIN server (RFC 4616) as profiled by RFC 6120 §6: only over TLS; the password is checked
// against the stored SCRAM credentials (no plaintext is ever stored).
import type { SaslContext, SaslStep } from './mechanism.js';
import { DEFAULT_ITERATIONS, fakeCredential, SaslPrepError, saslPrep, verifyPassword } from './scram-credentials.js';
import type { VerifiedPasswords } from './verified-passwords.js';
import { PlainSessionBase, plainSuccess, saslFailure, type PlainCredentials } from './plain-session-base.js';

export interface PlainServerOptions {
  /** Iteration count of the dummy check for unknown users; match real accounts to hide timing. */
  fakeIterations?: number;
  /** The host's recently verified passwords: a repeated login with the same password skips PBKDF2. */
  verified?: VerifiedPasswords;
}

export class PlainServerSession extends PlainSessionBase {
  constructor(private readonly ctx: SaslContext, private readonly opts: PlainServerOptions = {}) {
    super(ctx.secure, ctx.domain);
  }

  protected async verify(c: PlainCredentials): Promise<SaslStep> {
    // A password that does not survive SASLprep cannot match: stored ones were prepared.
    let prepared: string;
    try {
      prepared = saslPrep(c.password, 'password');
    } catch (err) {
      if (err instanceof SaslPrepError) return saslFailure('not-authorized', undefined, 'wrong password');
      throw err;
    }
    let creds;
    try {
      creds = await this.ctx.lookup(c.username);
    } catch {
      return saslFailure('temporary-auth-failure');
    }
    let ok: boolean;
    const reason = creds ? 'wrong password' : 'no such account';
    const cred = creds?.scram?.['SHA-256'] ?? creds?.scram?.['SHA-1'];
    if (creds && cred) {
      // The credential verifyPassword checks against (SHA-256 first): an entry for another one does not count.
      const credential = `${cred.salt}:${cred.iterations}:${cred.storedKey}`;
      const verified = this.opts.verified;
      ok = verified?.has(c.username, prepared, credential) === true;
      if (!ok) {
        ok = await verifyPassword(prepared, creds);
        if (ok) verified?.remember(c.username, prepared, credential);
      }
    } else {
      // Unknown user: spend the same PBKDF2 time so response timing does not reveal it.
      await verifyPassword(prepared, {
        scram: { 'SHA-256': fakeCredential(c.username, 'SHA-256', this.opts.fakeIterations ?? DEFAULT_ITERATIONS) },
      });
      ok = false;
    }
    return ok ? plainSuccess(c) : saslFailure('not-authorized', undefined, reason);
  }
}
