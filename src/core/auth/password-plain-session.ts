// SASL PLAIN (RFC 4616) checked by a provider that verifies plaintext passwords itself (an extauth
// program, a module's directory) instead of against stored SCRAM keys. Only over TLS (RFC 6120 §6.4.5).
import { Jid } from '../jid.js';
import type { SaslStep } from '../sasl/mechanism.js';
import { PlainSessionBase, plainSuccess, saslFailure, type PlainCredentials } from '../sasl/plain-session-base.js';

export interface PasswordCheckContext {
  secure: boolean;
  domain: string;
  /** The provider's verdict; throwing means it could not answer (temporary-auth-failure). */
  checkPassword(bare: Jid, password: string): Promise<boolean>;
  /** Told when the provider failed, for the log (never with the password). */
  onError?(err: unknown): void;
}

export class PasswordPlainSession extends PlainSessionBase {
  constructor(private readonly ctx: PasswordCheckContext) {
    super(ctx.secure, ctx.domain);
  }

  protected async verify(c: PlainCredentials): Promise<SaslStep> {
    let bare: Jid;
    try {
      bare = Jid.of(c.username, this.ctx.domain); // the provider sees the RFC 7622 localpart, as ejabberd sends it
    } catch {
      return saslFailure('not-authorized', undefined, 'not a valid account name'); // no account can have an address that is not a JID
    }
    let ok: boolean;
    try {
      ok = await this.ctx.checkPassword(bare, c.password);
    } catch (err) {
      this.ctx.onError?.(err);
      return saslFailure('temporary-auth-failure', undefined, 'auth provider could not answer');
    }
    // The provider's verdict does not say whether the account exists.
    return ok ? plainSuccess(c) : saslFailure('not-authorized', undefined, 'rejected by the auth provider');
  }
}
