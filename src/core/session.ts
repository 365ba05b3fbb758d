// What the logic layer knows about a client session (RFC 6120 §7 bound resource), whatever carries it.
import type { Element } from '@xmpp/xml';
import type { Jid } from './jid.js';
import type { StreamError } from './errors.js';
import type { OutboundFilter } from './outbound-chain.js';

export interface Session {
  readonly id: string;
  /**
   * The cluster node that holds this session, when it is not this one (src/core/cluster/remote-session.ts):
   * send() forwards to that node, which runs the delivery hooks on the real session. Undefined on local sessions.
   */
  readonly remote?: string;
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
  /**
   * Markers modules put on a session that every cluster node must see (a namespace each: carbons enabled,
   * roster requested); mark() resolves once the other nodes can see the change.
   */
  readonly marks: ReadonlySet<string>;
  mark(name: string, on: boolean): Promise<void>;
  /** Queue a stanza for the client (through the outbound filters, if any); never throws. */
  send(el: Element): void;
  /**
   * Put a filter between send() and the stream (released by the returned function, and with the session).
   * Higher priority runs first, farther from the stream.
   */
  addOutboundFilter(fn: OutboundFilter, priority?: number): () => void;
  /** Write a top-level element that is not a stanza (a nonza: XEP-0198 <r/>, <a/>), past the outbound filters. */
  writeNonza(el: Element): void;
  /**
   * End the session here because it goes on on cluster node `node` (XEP-0198 resumption there): out of the
   * session manager, its transport (if any) closed, session_closed with movedTo, and no unavailable presence.
   */
  handOver(node: string): void;
  /** End the session, with a stream error if given. */
  close(error?: StreamError): void;
  /**
   * Keep the session when its transport is lost without a closing tag (XEP-0198 resumption): it stays
   * bound, in the session manager and available, stanzas to it go through its outbound filters, and
   * `onDetach` is called; a later close() ends it. null: a lost transport ends the session (the default).
   */
  setDetachable(onDetach: ((reason: string) => void) | null): void;
  /** The session has no transport now (kept by setDetachable until it is taken over or closed). */
  readonly detached: boolean;
  /** Called once for each stanza the client sends (XEP-0198 handled count); null to stop. */
  setInboundCounter(fn: (() => void) | null): void;
}

/** An authenticated c2s stream with no bound resource yet: where a XEP-0198 <resume/> arrives. */
export interface UnboundStream {
  /** The authenticated account (bare JID). */
  readonly account: Jid;
  readonly host: string;
  writeNonza(el: Element): void;
  /**
   * Carry `session` (a bound session of the same account) on this stream from now on, in place of a
   * resource binding: its JID, presence, place in the session manager and outbound filters stay; a
   * transport it still has is closed. False if it cannot be taken over.
   */
  takeOver(session: Session): boolean;
  /**
   * Bind `state.resource` for a session another cluster node handed over (XEP-0198 resumption here): its
   * presence, priority and marks as they were, without the first-presence work of a new session. Null if
   * the stream cannot bind it.
   */
  adopt(state: AdoptedState): Session | null;
}

export interface AdoptedState {
  resource: string;
  presence: Element | null;
  priority: number;
  marks: string[];
}
