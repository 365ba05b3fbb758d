// SASL2 (XEP-0388) framing on a c2s stream, with the inline features it carries: Bind2 (XEP-0386) and FAST
// tokens (XEP-0484). The SASL mechanisms, throttle and failure logging are the classic path's (c2s-connection.ts).
import { randomBytes } from 'node:crypto';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { NS } from '../../core/ns.js';
import type { SaslFailureCondition } from '../../core/sasl/mechanism.js';

/** What an <authenticate/> asks for besides the SASL exchange. */
export interface Sasl2Request {
  mechanism: string;
  /** The decoded <initial-response/> (empty when absent); null when it is not valid base64. */
  initial: Buffer | null;
  /** <user-agent id='...'/>: a stable id of this client installation (FAST tokens are bound to it). */
  agentId: string | null;
  software: string | null;
  device: string | null;
  /** <bind xmlns='urn:xmpp:bind:0'/>, if the client wants a resource bound inline. */
  bind: Element | null;
  /** <request-token mechanism='...'/> (FAST): issue a token for this mechanism in <success/>. */
  requestToken: string | null;
  /** <fast invalidate='true'/>: retire the token used for this login. */
  fastInvalidate: boolean;
  /** Set once a FAST token proved this login: the proof, so a token issued now keeps the used one valid. */
  usedInitiator?: Buffer;
  /** Other children the core does not interpret (another module's inline request, such as <resume/>). */
  others: Element[];
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(text: string): Buffer | null {
  const t = text.trim();
  if (t === '' || t === '=') return Buffer.alloc(0);
  if (!B64.test(t) || t.length % 4 !== 0) return null;
  return Buffer.from(t, 'base64');
}

/** XEP-0388 §2.3: the <authenticate/> element. */
export function parseAuthenticate(el: Element): Sasl2Request {
  const initialEl = el.getChild('initial-response');
  const ua = el.getChild('user-agent');
  const fast = el.getChild('fast', NS.FAST);
  const req: Sasl2Request = {
    mechanism: el.attrs.mechanism ?? '',
    initial: initialEl ? decode(initialEl.getText()) : Buffer.alloc(0),
    // The id is a UUID per XEP-0388 §2.3; anything else is accepted but bounded.
    agentId: ua?.attrs.id ? String(ua.attrs.id).slice(0, 256) : null,
    software: ua?.getChildText('software')?.slice(0, 128) ?? null,
    device: ua?.getChildText('device')?.slice(0, 128) ?? null,
    bind: el.getChild('bind', NS.BIND2) ?? null,
    requestToken: el.getChild('request-token', NS.FAST)?.attrs.mechanism ?? null,
    fastInvalidate: fast?.attrs.invalidate === 'true' || fast?.attrs.invalidate === '1',
    others: [],
  };
  for (const child of el.getChildElements()) {
    if (child === initialEl || child === ua || child.attrs.xmlns === NS.BIND2 || child.attrs.xmlns === NS.FAST) continue;
    req.others.push(child);
  }
  return req;
}

/** Decode a SASL2 <response/> (XEP-0388 §2.4). */
export function decodeSasl2Response(el: Element): Buffer | null {
  return decode(el.getText());
}

/** XEP-0388 §2.1: the stream feature, with what can be negotiated inline. */
export function authenticationFeature(mechanisms: readonly string[], inline: Element[]): Element {
  const el = xml('authentication', { xmlns: NS.SASL2 }, ...mechanisms.map((m) => xml('mechanism', {}, m)));
  if (inline.length) el.append(xml('inline', {}, ...inline));
  return el;
}

/** XEP-0386 §2: Bind2 offered inline, with the features a client may enable while binding. */
export function bind2Feature(vars: string[]): Element {
  const bind = xml('bind', { xmlns: NS.BIND2 });
  if (vars.length) bind.append(xml('inline', {}, ...vars.map((v) => xml('feature', { var: v }))));
  return bind;
}

/** XEP-0484 §3.1: the FAST mechanisms. */
export function fastFeature(mechanisms: readonly string[]): Element {
  return xml('fast', { xmlns: NS.FAST }, ...mechanisms.map((m) => xml('mechanism', {}, m)));
}

const encode = (b: Buffer) => (b.length ? b.toString('base64') : '=');

export function sasl2Challenge(data: Buffer): Element {
  return xml('challenge', { xmlns: NS.SASL2 }, encode(data));
}

/** XEP-0388 §2.6.1: <success/> with the final SASL data and the identity the stream is now authorized as. */
export function sasl2Success(data: Buffer | undefined, authzid: string, extra: Element[]): Element {
  const el = xml('success', { xmlns: NS.SASL2 });
  if (data && data.length) el.append(xml('additional-data', {}, data.toString('base64')));
  el.append(xml('authorization-identifier', {}, authzid));
  for (const e of extra) el.append(e);
  return el;
}

/** XEP-0388 §2.6.2: the RFC 6120 condition in the SASL namespace, text in SASL2's. */
export function sasl2Failure(condition: SaslFailureCondition, text?: string): Element {
  const el = xml('failure', { xmlns: NS.SASL2 }, xml(condition, { xmlns: NS.SASL }));
  if (text) el.append(xml('text', { 'xml:lang': 'en' }, text));
  return el;
}

/**
 * XEP-0386 §4: the resource is the client's <tag/> (its name, not unique) plus a random suffix, so two
 * installations of one client never conflict; no usable tag: a random resource, as classic bind does.
 */
export function bind2Resource(tag: string | null | undefined): string {
  const suffix = randomBytes(4).toString('hex');
  const t = tag?.trim().slice(0, 64);
  return t ? `${t}.${suffix}` : `xmppd-${randomBytes(6).toString('hex')}`;
}
