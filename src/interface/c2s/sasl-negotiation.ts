// SASL negotiation on a c2s stream (RFC 6120 §6.4): auth / challenge / response / success / failure / abort.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { NS } from '../../core/ns.js';
import type { SaslFailureCondition, SaslServerSession } from '../../core/sasl/mechanism.js';

/** Decode the base64 text of <auth/>/<response/> ('=' is an empty response, RFC 6120 §6.4.2). */
export function decodeSaslPayload(el: Element): Buffer | null {
  const text = el.getText().trim();
  if (text === '' || text === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}

const encode = (b?: Buffer) => (b && b.length ? b.toString('base64') : b ? '=' : '');

export function challengeElement(data: Buffer): Element {
  return xml('challenge', { xmlns: NS.SASL }, encode(data));
}

export function successElement(data?: Buffer): Element {
  const el = xml('success', { xmlns: NS.SASL });
  if (data && data.length) el.t(data.toString('base64'));
  return el;
}

export function failureElement(condition: SaslFailureCondition, text?: string): Element {
  const el = xml('failure', { xmlns: NS.SASL }, xml(condition));
  if (text) el.c('text', { 'xml:lang': 'en' }).t(text);
  return el;
}

export type { SaslServerSession };
