// SASL PLAIN server (RFC 4616) as profiled by RFC 6120 §6: only over TLS; the password is checked
// against the stored SCRAM credentials (no plaintext is ever stored).
import type { SaslContext, SaslFailureCondition, SaslServerSession, SaslStep } from './mechanism.js';
import { DEFAULT_ITERATIONS, fakeCredential, SaslPrepError, saslPrep, verifyPassword } from './scram-credentials.js';
import { authzidAllowed, decodeUtf8, MAX_SASL_MESSAGE } from './scram-syntax.js';

export interface PlainServerOptions {
  /** Iteration count of the dummy check for unknown users; match real accounts to hide timing. */
  fakeIterations?: number;
}

function fail(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}

export class PlainServerSession implements SaslServerSession {
  readonly mechanism = 'PLAIN';
  private state: 'start' | 'await-response' | 'done' = 'start';
  private busy = false;

  constructor(private readonly ctx: SaslContext, private readonly opts: PlainServerOptions = {}) {}

  async step(response: Buffer): Promise<SaslStep> {
    if (this.busy) return fail('malformed-request', 'concurrent step');
    if (this.state === 'done') return fail('malformed-request', 'exchange already finished');
    // The c2s layer should not offer PLAIN in the clear at all; refuse anyway so a misconfigured
    // caller never lets a password cross an unencrypted stream (RFC 6120 §6.4.5).
    if (!this.ctx.secure) {
      this.state = 'done';
      return fail('encryption-required');
    }
    if (this.state === 'start' && response.length === 0) {
      // No initial response: an empty challenge asks for it (RFC 4422 §5).
      this.state = 'await-response';
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
    if (username === '') return fail('malformed-request', 'invalid username');
    // A password that does not survive SASLprep cannot match: stored ones were prepared.
    let prepared: string;
    try {
      prepared = saslPrep(passwd, 'password');
    } catch (err) {
      if (err instanceof SaslPrepError) return fail('not-authorized');
      throw err;
    }

    // The authzid is an XMPP address, not a SASL name, so it is not SASLprepped (RFC 4616 §2).
    const authzid = authzField === '' ? undefined : authzField;
    if (authzid !== undefined && !authzidAllowed(authzid, username, this.ctx.domain)) {
      return fail('invalid-authzid');
    }

    let creds;
    try {
      creds = await this.ctx.lookup(username);
    } catch {
      return fail('temporary-auth-failure');
    }
    let ok: boolean;
    if (creds && (creds.scram?.['SHA-256'] || creds.scram?.['SHA-1'])) {
      ok = await verifyPassword(prepared, creds);
    } else {
      // Unknown user: spend the same PBKDF2 time so response timing does not reveal it.
      await verifyPassword(prepared, {
        scram: { 'SHA-256': fakeCredential(username, 'SHA-256', this.opts.fakeIterations ?? DEFAULT_ITERATIONS) },
      });
      ok = false;
    }
    if (!ok) return fail('not-authorized');
    return { kind: 'success', username, ...(authzid !== undefined ? { authzid } : {}) };
  }
}
