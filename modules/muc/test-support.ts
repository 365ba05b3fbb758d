// Shared steps of the MUC tests: a server with the muc module, logins per host, joining and creating rooms
// over raw sockets, and reading what a client received up to a given stanza.
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanzas } from '../../test/support/stanza-match.js';
import type { Element } from '../../src/sdk.js';

export const MUC_MODULES = { disco: {}, roster: {}, presence: {}, ping: {}, muc: {} };
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const X_MUC = `<x xmlns='${NS_MUC}'/>`;

/** Everything received up to and including the first match of `re` (the matched stanza last). */
export async function readUntil(c: RawClient, re: RegExp, timeoutMs = 5000): Promise<Element[]> {
  const m = await c.expect(new RegExp(`^[\\s\\S]*?${re.source}`), timeoutMs);
  return parseStanzas(m[0]);
}

/** The subject message that ends a join (XEP-0045 §7.2.15). */
export const SUBJECT = /<message[^>]*>\s*<subject[^>]*(?:\/>|>[^<]*<\/subject>)\s*<\/message>/;

/** Send a join and read everything up to the subject; `x` replaces the default <x xmlns='muc'/>. */
export async function join(c: RawClient, roomNick: string, x = X_MUC, extra = ''): Promise<Element[]> {
  c.send(`<presence to='${roomNick}'>${x}${extra}</presence>`);
  return readUntil(c, SUBJECT);
}

/** A presence error answering a join. */
export async function joinError(c: RawClient, roomNick: string, x = X_MUC): Promise<Element> {
  c.send(`<presence to='${roomNick}'>${x}</presence>`);
  const els = await readUntil(c, /<presence[^>]*type=["']error["'][\s\S]*?<\/presence>/);
  return els[els.length - 1]!;
}

/** Create an instant room (§10.1.2): join, then accept the default configuration with an empty form. */
export async function createInstant(c: RawClient, room: string, nick: string): Promise<Element[]> {
  const got = await join(c, `${room}/${nick}`);
  const r = await c.iq('inst', `<iq type='set' id='inst' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
  if (!r.includes("type='result'") && !r.includes('type="result"')) throw new Error(`instant room refused: ${r}`);
  return got;
}

/** Configure a room: fields var -> value(s), submitted as a muc#roomconfig form. */
export async function configure(c: RawClient, room: string, fields: Record<string, string | string[]>, id = 'cfg'): Promise<string> {
  const f = Object.entries(fields).map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`).join('');
  return c.iq(id, `<iq type='set' id='${id}' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>${f}</x></query></iq>`);
}

/** A room's configuration field name in muc#roomconfig. */
export const rc = (name: string) => `muc#roomconfig_${name}`;

/** Wait for the next stanza matching `re` and parse it. */
export async function next(c: RawClient, re: RegExp, timeoutMs = 5000): Promise<Element> {
  const els = await readUntil(c, re, timeoutMs);
  return els[els.length - 1]!;
}

/** A presence (from `from`, a room JID with nick) as a regular expression for next(). */
export const presenceFrom = (from: string) => new RegExp(`<presence[^>]*from=["']${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}["'][\\s\\S]*?</presence>`);
export const messageFrom = (from: string) => new RegExp(`<message[^>]*from=["']${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}["'][\\s\\S]*?</message>`);

/** Status codes of the muc#user x in a stanza. */
export function codes(el: Element): number[] {
  const x = el.getChild('x', NS_MUC_USER);
  return (x?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
}

/** The item of the muc#user x in a stanza. */
export function item(el: Element): Record<string, string> {
  return (el.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs ?? {}) as Record<string, string>;
}

let syncN = 0;
/** Everything the client received before a round trip to its server (a ping): "what arrived so far". */
export async function sync(c: RawClient): Promise<Element[]> {
  const id = `sync${++syncN}`;
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const els = await readUntil(c, new RegExp(`<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>)`));
  return els.slice(0, -1);
}

/** Send an IQ and read everything up to its answer (the answer last). */
export async function iqAll(c: RawClient, id: string, stanza: string): Promise<Element[]> {
  c.send(stanza);
  return readUntil(c, new RegExp(`<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>)`));
}
