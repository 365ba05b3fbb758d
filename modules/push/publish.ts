// XEP-0357 §7 notifications: the PubSub publish IQ (XEP-0060 §7.1) carrying <notification xmlns='urn:xmpp:push:0'>
// with the urn:xmpp:push:summary form, and the publish-options form the client gave at enable; which messages
// warrant one; which error answers disable a registration (§7.1).
import { xml, elementFromJson, type Element } from '../../src/sdk.js';
import type { Registration } from './registrations.js';

export const NS_PUSH = 'urn:xmpp:push:0';
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_DATA = 'jabber:x:data';
export const PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';
const SUMMARY = 'urn:xmpp:push:summary';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** End-to-end encrypted payloads (OMEMO, OpenPGP) and call invitations: worth a notification without a body. */
const IMPORTANT = new Set(['eu.siacs.conversations.axolotl', 'urn:xmpp:omemo:2', 'urn:xmpp:openpgp:0', 'urn:xmpp:jingle-message:0']);

/** A message the user would want to hear about: one-to-one, with a body or an encrypted payload or a call. */
export function warrantsNotification(el: Element): boolean {
  const type = el.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return false;
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    if (c.name === 'body' || IMPORTANT.has(c.attrs.xmlns as string)) return true;
  }
  return false;
}

export interface Summary { count: number; sender: string; body: string | null }

const field = (v: string, value: string) => xml('field', { var: v }, xml('value', {}, value));

/** The publish request for one registration; the body goes in only when the operator allows it (§9). */
export function publishRequest(reg: Registration, s: Summary): Element {
  const form = xml('x', { xmlns: NS_DATA, type: 'submit' },
    field('FORM_TYPE', SUMMARY), field('message-count', String(s.count)), field('last-message-sender', s.sender));
  if (s.body !== null) form.cnode(field('last-message-body', s.body));
  const pubsub = xml('pubsub', { xmlns: NS_PUBSUB },
    xml('publish', { node: reg.node }, xml('item', {}, xml('notification', { xmlns: NS_PUSH }, form))));
  if (reg.options) {
    const options = elementFromJson(reg.options);
    options.attrs.type = 'submit'; // XEP-0060 §7.1.5: publish-options is a submitted form
    pubsub.cnode(xml('publish-options', {}, options));
  }
  return xml('iq', { type: 'set' }, pubsub);
}

/**
 * §7.1: an error answer disables the registration, except what says the path is down for now (a wait-type
 * error, or our own server failing to reach the app server's), which §7.1 lets a server treat as transient.
 */
export function errorOf(answer: Element): { condition: string; transient: boolean } | null {
  if (answer.attrs.type !== 'error') return null;
  const error = answer.getChild('error');
  const condition = error?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === STANZAS)?.name ?? 'undefined-condition';
  const transient = error?.attrs.type === 'wait' || condition === 'remote-server-not-found' || condition === 'remote-server-timeout';
  return { condition, transient };
}
