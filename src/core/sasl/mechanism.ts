// The server-side SASL session contract (RFC 6120 §6, RFC 4422 §3): the c2s stream feeds decoded
// <auth/>/<response/> payloads in and maps each SaslStep to <challenge/>, <success/> or <failure/>.
import type { StoredCredentials } from './scram-credentials.js';

/** The <failure/> conditions of RFC 6120 §6.5. */
export type SaslFailureCondition =
  | 'aborted' | 'account-disabled' | 'credentials-expired' | 'encryption-required'
  | 'incorrect-encoding' | 'invalid-authzid' | 'invalid-mechanism' | 'malformed-request'
  | 'mechanism-too-weak' | 'not-authorized' | 'temporary-auth-failure';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  /** `username` is the SASLprepped authentication identity as the client gave it (not yet a JID
   *  localpart); `authzid` is the requested authorization identity, if any, for the caller to judge. */
  | { kind: 'success'; data?: Buffer; username: string; authzid?: string; channelBinding?: ChannelBindingType }
  /** `reason` says why for the server's log only (never sent, never a secret): "wrong password"... */
  | { kind: 'failure'; condition: SaslFailureCondition; text?: string; reason?: string };

export interface SaslServerSession {
  readonly mechanism: string;
  /** The first call gets the <auth/> initial response (empty when there was none or it was "=").
   *  Calls must not overlap; after success or failure every further call fails. */
  step(response: Buffer): Promise<SaslStep>;
}

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

export interface SaslContext {
  /** `username` is already SASLprepped; null means no such account. */
  lookup(username: string): Promise<StoredCredentials | null>;
  /** The stream is TLS-protected. */
  secure: boolean;
  /** Channel-binding data for this connection; null when not available. */
  channelBinding(type: ChannelBindingType): Buffer | null;
  /** The channel-binding types the server advertised (XEP-0440); non-empty means the server
   *  supports channel binding, so a SCRAM 'y' flag signals a downgrade (RFC 5802 §6). */
  advertisedChannelBindings: ChannelBindingType[];
  /** Optional: the virtual host being authenticated against. When set, an authzid must name
   *  this domain; when absent the caller must check the authzid's domain itself. */
  domain?: string;
}

export const SCRAM_MECHANISMS = [
  'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1',
] as const;
export type ScramMechanismName = (typeof SCRAM_MECHANISMS)[number];
