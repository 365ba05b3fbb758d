// The SASL PLAIN exchange shared by every PLAIN verifier (RFC 4616 as profiled by RFC 6120 §6): TLS
// only, the empty-challenge round for a missing initial response (RFC 4422 §5), and message parsing;
// subclasses only decide whether the password is right.
import type { SaslFailureCondition, SaslServerSession, SaslStep } from './mechanism.js';
import { SaslPrepError, saslPrep } from './scram-credentials.js';
import { authzidAllowed, decodeUtf8, MAX_SASL_MESSAGE } from './scram-syntax.js';

export function saslFailure(condition: SaslFailureCondition, text?: string, reason?: string): SaslStep {
  const step: SaslStep = text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
  if (reason !== undefined) step.reason = reason;
  return step;
}

/** An authentication identity as a username (RFC 4013 SASLprep), or the failure step for a bad one. */
export function preppedUsername(authcid: string): string | SaslStep {
  try {
    const username = saslPrep(authcid, 'username');
    return username === '' ? saslFailure('malformed-request', 'invalid username') : username;
  } catch (err) {
    if (err instanceof SaslPrepError) return saslFailure('malformed-request', 'invalid username');
    throw err;
  }
}

/** A parsed PLAIN message: the SASLprepped username, the raw password, the authzid if any. */
export interface PlainCredentials { username: string; password: string; authzid?: string }

export abstract class PlainSessionBase implements SaslServerSession {
  readonly mechanism = 'PLAIN';
  private state: 'start' | 'await-response' | 'done' = 'start';
  private busy = false;

  constructor(private readonly secure: boolean, private readonly domain: string | undefined) {}

  /** Decide on parsed credentials: success, not-authorized, temporary-auth-failure... */
  protected abstract verify(c: PlainCredentials): Promise<SaslStep>;

  async step(response: Buffer): Promise<SaslStep> {
    if (this.busy) return saslFailure('malformed-request', 'concurrent step');
    if (this.state === 'done') return saslFailure('malformed-request', 'exchange already finished');
    // The c2s layer does not offer PLAIN in the clear at all; refuse anyway so a misconfigured caller
    // never lets a password cross an unencrypted stream (RFC 6120 §6.4.5).
    if (!this.secure) {
      this.state = 'done';
      return saslFailure('encryption-required');
    }
    if (this.state === 'start' && response.length === 0) {
      this.state = 'await-response';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    this.busy = true;
    try {
      const parsed = this.parse(response);
      return 'kind' in parsed ? parsed : await this.verify(parsed);
    } finally {
      this.state = 'done';
      this.busy = false;
    }
  }

  /** message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2). */
  private parse(buf: Buffer): PlainCredentials | SaslStep {
    if (buf.length === 0 || buf.length > MAX_SASL_MESSAGE) return saslFailure('malformed-request');
    const msg = decodeUtf8(buf, true);
    if (msg === null) return saslFailure('malformed-request', 'invalid UTF-8');
    const parts = msg.split('\0');
    if (parts.length !== 3) return saslFailure('malformed-request');
    const [authzField, authcid, password] = parts as [string, string, string];
    if (authcid === '' || password === '') return saslFailure('malformed-request');
    const username = preppedUsername(authcid);
    if (typeof username !== 'string') return username;
    // The authzid is an XMPP address, not a SASL name, so it is not SASLprepped (RFC 4616 §2).
    const authzid = authzField === '' ? undefined : authzField;
    if (authzid !== undefined && !authzidAllowed(authzid, username, this.domain)) return saslFailure('invalid-authzid');
    return authzid !== undefined ? { username, password, authzid } : { username, password };
  }
}

export function plainSuccess(c: PlainCredentials): SaslStep {
  return { kind: 'success', username: c.username, ...(c.authzid !== undefined ? { authzid: c.authzid } : {}) };
}
