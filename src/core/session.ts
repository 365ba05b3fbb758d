// What the logic layer knows about a client session (RFC 6120 §7 bound resource), whatever carries it.
import type { Element } from '@xmpp/xml';
import type { Jid } from './jid.js';
import type { StreamError } from './errors.js';
import type { OutboundFilter } from './outbound-chain.js';

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
  /** Queue a stanza for the client (through the outbound filters, if any); never throws. */
  send(el: Element): void;
  /**
   * Put a filter between send() and the stream (released by the returned function, and with the session).
   * Higher priority runs first, farther from the stream.
   */
  addOutboundFilter(fn: OutboundFilter, priority?: number): () => void;
  /** Write a top-level element that is not a stanza (a nonza: XEP-0198 <r/>, <a/>), past the outbound filters. */
  writeNonza(el: Element): void;
  /** End the session, with a stream error if given. */
  close(error?: StreamError): void;
}
