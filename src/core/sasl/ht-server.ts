// SASL HT-SHA-256-NONE server (draft-schmaus-kitten-sasl-ht §3, used by XEP-0484 FAST): the initial response
// is authcid NUL HMAC-SHA-256(token, "Initiator"); success carries HMAC-SHA-256(token, "Responder").
import type { SaslServerSession, SaslStep } from './mechanism.js';
import { preppedUsername, saslFailure } from './plain-session-base.js';
import { decodeUtf8, MAX_SASL_MESSAGE } from './scram-syntax.js';

export type HtVerdict = { ok: true; responder: Buffer } | { ok: false; reason: 'no token' | 'wrong token' | 'expired' };

export class HtServerSession implements SaslServerSession {
  private done = false;

  /** `verify` checks the initiator proof against the tokens of `username` (already SASLprepped). */
  constructor(readonly mechanism: string, private readonly verify: (username: string, initiator: Buffer) => Promise<HtVerdict>) {}

  async step(response: Buffer): Promise<SaslStep> {
    if (this.done) return saslFailure('malformed-request', 'exchange already finished');
    this.done = true;
    // The mechanism is client-first: no initial response is malformed (there is no challenge round).
    if (response.length === 0 || response.length > MAX_SASL_MESSAGE) return saslFailure('malformed-request');
    const nul = response.indexOf(0);
    if (nul <= 0) return saslFailure('malformed-request');
    const initiator = response.subarray(nul + 1);
    if (initiator.length !== 32) return saslFailure('malformed-request', 'the HMAC-SHA-256 proof must be 32 bytes');
    const authcid = decodeUtf8(response.subarray(0, nul), true);
    if (authcid === null) return saslFailure('malformed-request', 'invalid UTF-8');
    const username = preppedUsername(authcid);
    if (typeof username !== 'string') return username;
    let verdict: HtVerdict;
    try {
      verdict = await this.verify(username, initiator);
    } catch {
      return saslFailure('temporary-auth-failure');
    }
    if (!verdict.ok) {
      // XEP-0484 §3.5: an expired token is credentials-expired, so the client falls back to its password.
      return verdict.reason === 'expired' ? saslFailure('credentials-expired', 'the token has expired', 'token expired') : saslFailure('not-authorized', undefined, verdict.reason);
    }
    return { kind: 'success', data: verdict.responder, username };
  }
}
