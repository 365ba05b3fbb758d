// SASL PLAIN (RFC 4616) checked by a provider that verifies plaintext passwords itself (an extauth
// program, a module's directory) instead of against stored SCRAM keys. Only over TLS (RFC 6120 §6.4.5).
import { Jid } from '../jid.js';
import type { SaslFailureCondition, SaslServerSession, SaslStep } from '../sasl/mechanism.js';
import { SaslPrepError, saslPrep } from '../sasl/scram-credentials.js';
import { authzidAllowed, decodeUtf8, MAX_SASL_MESSAGE } from '../sasl/scram-syntax.js';

export interface PasswordCheckContext {
  secure: boolean;
  domain: string;
  /** The provider's verdict; throwing means it could not answer (temporary-auth-failure). */
  checkPassword(bare: Jid, password: string): Promise<boolean>;
  /** Told when the provider failed, for the log (never with the password). */
  onError?(err: unknown): void;
}

function fail(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}

export class PasswordPlainSession implements SaslServerSession {
  readonly mechanism = 'PLAIN';
  private state: 'start' | 'await-response' | 'done' = 'start';
  private busy = false;

  constructor(private readonly ctx: PasswordCheckContext) {}

  async step(response: Buffer): Promise<SaslStep> {
    if (this.busy) return fail('malformed-request', 'concurrent step');
    if (this.state === 'done') return fail('malformed-request', 'exchange already finished');
    if (!this.ctx.secure) {
      this.state = 'done';
      return fail('encryption-required');
    }
    if (this.state === 'start' && response.length === 0) {
      this.state = 'await-response'; // no initial response: an empty challenge asks for it (RFC 4422 §5)
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    this.busy = true;
    try {
      return await this.check(response);
    } finally {
      this.state = 'done';
      this.busy = false;
    }
  }

  private async check(buf: Buffer): Promise<SaslStep> {
    if (buf.length === 0 || buf.length > MAX_SASL_MESSAGE) return fail('malformed-request');
    // message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2)
    const msg = decodeUtf8(buf, true);
    if (msg === null) return fail('malformed-request', 'invalid UTF-8');
    const parts = msg.split('\0');
    if (parts.length !== 3) return fail('malformed-request');
    const [authzField, authcid, passwd] = parts as [string, string, string];
    if (authcid === '' || passwd === '') return fail('malformed-request');
    let username: string;
    try {
      username = saslPrep(authcid, 'username');
    } catch (err) {
      if (err instanceof SaslPrepError) return fail('malformed-request', 'invalid username');
      throw err;
    }
    const authzid = authzField === '' ? undefined : authzField;
    if (authzid !== undefined && !authzidAllowed(authzid, username, this.ctx.domain)) return fail('invalid-authzid');
    let bare: Jid;
    try {
      bare = Jid.of(username, this.ctx.domain); // the provider sees the RFC 7622 localpart, as ejabberd sends it
    } catch {
      return fail('not-authorized'); // no account can have an address that is not a JID
    }
    let ok: boolean;
    try {
      ok = await this.ctx.checkPassword(bare, passwd);
    } catch (err) {
      this.ctx.onError?.(err);
      return fail('temporary-auth-failure');
    }
    if (!ok) return fail('not-authorized');
    return { kind: 'success', username, ...(authzid !== undefined ? { authzid } : {}) };
  }
}
