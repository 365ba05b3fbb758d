// Wire errors: stanza errors (RFC 6120 §8.3) and stream errors (RFC 6120 §4.9), plus operator errors.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { NS } from './ns.js';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable'
  | 'not-allowed' | 'not-authorized' | 'policy-violation' | 'recipient-unavailable'
  | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable'
  | 'subscription-required' | 'undefined-condition' | 'unexpected-request';

/** The error type RFC 6120 §8.3.3 pairs with each condition. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', conflict: 'cancel', 'feature-not-implemented': 'cancel',
  forbidden: 'auth', gone: 'cancel', 'internal-server-error': 'cancel',
  'item-not-found': 'cancel', 'jid-malformed': 'modify', 'not-acceptable': 'modify',
  'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', redirect: 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait',
  'resource-constraint': 'wait', 'service-unavailable': 'cancel',
  'subscription-required': 'auth', 'undefined-condition': 'cancel', 'unexpected-request': 'wait',
};

const STANZA_ERROR = Symbol.for('xmppd.StanzaError');
const STREAM_ERROR = Symbol.for('xmppd.StreamError');

/** Thrown by handlers (IQ, hooks) to answer the stanza with an RFC 6120 §8.3 error. */
export class StanzaError extends Error {
  /** Recognised by brand, not prototype: a plugin built against another copy of the SDK still works. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[STANZA_ERROR] === true;
  }
  readonly [STANZA_ERROR] = true;
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
    readonly appElement?: Element,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.type = type ?? DEFAULT_TYPE[condition];
  }

  /** The <error/> child element. */
  toElement(by?: string): Element {
    const attrs: Record<string, string> = { type: this.type };
    if (by) attrs.by = by;
    const el = xml('error', attrs, xml(this.condition, { xmlns: NS.STANZAS }));
    if (this.text) el.c('text', { xmlns: NS.STANZAS, 'xml:lang': 'en' }).t(this.text);
    if (this.appElement) el.cnode(this.appElement);
    return el;
  }
}

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone'
  | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'invalid-from'
  | 'invalid-namespace' | 'invalid-xml' | 'not-authorized' | 'not-well-formed'
  | 'policy-violation' | 'remote-connection-failed' | 'reset' | 'resource-constraint'
  | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type'
  | 'unsupported-version';

/** A fatal stream-level error (RFC 6120 §4.9): sent as <stream:error/>, then the stream closes. */
export class StreamError extends Error {
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[STREAM_ERROR] === true;
  }
  readonly [STREAM_ERROR] = true;
  /** `content`: the condition's own character data, as see-other-host's new address (RFC 6120 §4.9.3.19). */
  constructor(readonly condition: StreamErrorCondition, readonly text?: string, readonly content?: string) {
    super(text ? `${condition}: ${text}` : condition);
  }

  toElement(): Element {
    const cond = xml(this.condition, { xmlns: NS.STREAMS });
    if (this.content) cond.t(this.content);
    const el = xml('stream:error', {}, cond);
    if (this.text) el.c('text', { xmlns: NS.STREAMS, 'xml:lang': 'en' }).t(this.text);
    return el;
  }
}

/** An operator-facing error with a stable code (XMPPD_ERR_*) and a message that says what to fix. */
export class OperatorError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
