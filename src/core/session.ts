// What the logic layer knows about a client session (RFC 6120 §7 bound resource), whatever carries it.
import type { Element } from '@xmpp/xml';
import type { Jid } from './jid.js';
import type { StreamError } from './errors.js';

export interface Session {
  readonly id: string;
  /** The full JID bound to this session. */
  readonly jid: Jid;
  readonly host: string;
  readonly ip: string;
  readonly secure: boolean;
  readonly authMechanism: string;
  readonly startedAt: number;
  /** Priority of the last available presence (RFC 6121 §4.7.2.3). */
  priority: number;
  /** Last broadcast available presence; null until the client sends one, or after unavailable. */
  presence: Element | null;
  /** Queue a stanza for the client; never throws. */
  send(el: Element): void;
  /** End the session, with a stream error if given. */
  close(error?: StreamError): void;
}
