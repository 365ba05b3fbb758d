// Server Dialback (XEP-0220) keys and elements; keys per XEP-0185: HMAC-SHA256 keyed with SHA-256 of a
// per-server secret over "Receiving Originating StreamID", so the authoritative side needs no state.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import type { StanzaErrorCondition } from '../../core/errors.js';
import { StanzaError } from '../../core/errors.js';

export const NS_DIALBACK = 'jabber:server:dialback';
/** XEP-0220 §2.1.1 stream feature; <errors/> says we understand dialback errors (§2.4). */
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';

export type DialbackOutcome = 'valid' | 'invalid' | { error: StanzaErrorCondition; text?: string };

export class DialbackKeys {
  /** XEP-0185 §2: SHA256(secret) "MUST be provided in the hexadecimal representation" (it keys the HMAC). */
  private readonly hashedSecret: string;

  constructor(secret: string | Buffer) {
    this.hashedSecret = createHash('sha256').update(secret).digest('hex');
  }

  /** XEP-0185 §2: key = HEX(HMAC-SHA256(SHA256(secret), receiving ' ' originating ' ' streamId)). */
  key(receiving: string, originating: string, streamId: string): string {
    return createHmac('sha256', this.hashedSecret).update(`${receiving} ${originating} ${streamId}`).digest('hex');
  }

  /** Compares in constant time (the key is a credential). */
  verify(receiving: string, originating: string, streamId: string, key: string): boolean {
    const want = Buffer.from(this.key(receiving, originating, streamId));
    const got = Buffer.from(key.trim());
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** <db:result/> or <db:verify/> with the dialback prefix the stream header declares. */
export function dbElement(name: 'result' | 'verify', attrs: Record<string, string>, key?: string): Element {
  const el = xml(`db:${name}`, attrs);
  if (key !== undefined) el.t(key);
  return el;
}

/** The answer to a <db:result/> or <db:verify/>: type valid | invalid | error (XEP-0220 §2.4). */
export function dbAnswer(name: 'result' | 'verify', attrs: Record<string, string>, outcome: DialbackOutcome): Element {
  if (typeof outcome === 'string') return dbElement(name, { ...attrs, type: outcome });
  const el = dbElement(name, { ...attrs, type: 'error' });
  el.cnode(new StanzaError(outcome.error, outcome.text).toElement());
  return el;
}

/** The <dialback/> stream feature. */
export function dialbackFeature(): Element {
  return xml('dialback', { xmlns: NS_DIALBACK_FEATURE }, xml('errors'));
}
