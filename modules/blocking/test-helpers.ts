// Test helpers for the blocking tests: login on any host, order-independent waits, IQ round trips.
import assert from 'node:assert/strict';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza } from '../../test/support/stanza-match.js';

export const BL = "xmlns='urn:xmpp:blocking'";

/** Log in as `user` (password `pw-<user>`) on `domain`, bind `resource`, send initial presence. */
export async function login(port: number, user: string, resource: string, opts: { domain?: string; presence?: boolean } = {}): Promise<RawClient> {
  const domain = opts.domain ?? 'localhost';
  const c = await RawClient.connect(port);
  c.openStream(domain);
  await c.features();
  await c.starttls();
  c.openStream(domain);
  await c.features();
  assert.match(await c.authScram('SCRAM-SHA-256', user, `pw-${user}`), /^<success/);
  c.openStream(domain);
  await c.features();
  await c.bind(resource);
  if (opts.presence !== false) c.send('<presence/>');
  return c;
}

/** Wait until `re` matches anywhere in what arrived and remove only that match (stanza order may vary). */
export async function take(c: RawClient, re: RegExp, timeoutMs = 5000): Promise<string> {
  await c.expect(new RegExp(`^(?=[\\s\\S]*?(?:${re.source}))`), timeoutMs);
  const m = re.exec(c.buffer)!;
  c.buffer = c.buffer.slice(0, m.index) + c.buffer.slice(m.index + m[0].length);
  return m[0];
}

const stanza = (name: string, attr: string, value: string) =>
  new RegExp(`<${name}(?=[^>]*\\s${attr}=["']${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}["'])[^>]*?(?:/>|>[\\s\\S]*?</${name}>)`);
export const iqId = (id: string) => stanza('iq', 'id', id);
export const msgId = (id: string) => stanza('message', 'id', id);
export const presenceFrom = (from: string) => stanza('presence', 'from', from);
export const messageFrom = (from: string) => stanza('message', 'from', from);
export const pushOf = (kind: 'block' | 'unblock') =>
  new RegExp(`<iq(?=[^>]*type=["']set["'])[^>]*>\\s*<${kind} xmlns=["']urn:xmpp:blocking["'](?:/>|>[\\s\\S]*?</${kind}>)\\s*</iq>`);

let seq = 0;
/** Send an IQ (no 'to' unless given) and return its answer. */
export async function iq(c: RawClient, type: 'get' | 'set', payload: string, to?: string): Promise<string> {
  const id = `t${++seq}`;
  c.send(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
  return take(c, iqId(id));
}

const items = (jids: string[]) => jids.map((j) => `<item jid='${j}'/>`).join('');

export async function block(c: RawClient, ...jids: string[]): Promise<void> {
  assertStanza(await iq(c, 'set', `<block ${BL}>${items(jids)}</block>`), iqResult());
}

/** Unblock `jids`, or everything when none are given. */
export async function unblock(c: RawClient, ...jids: string[]): Promise<void> {
  assertStanza(await iq(c, 'set', jids.length ? `<unblock ${BL}>${items(jids)}</unblock>` : `<unblock ${BL}/>`), iqResult());
}

export async function blocklist(c: RawClient): Promise<string[]> {
  const r = assertStanza(await iq(c, 'get', `<blocklist ${BL}/>`), iqResult({ name: 'blocklist', ns: 'urn:xmpp:blocking' }));
  return r.getChild('blocklist')!.getChildren('item').map((el) => String(el.attrs.jid));
}

/** A round trip through the server: everything routed to `c` before it has arrived. */
export async function sync(c: RawClient): Promise<void> {
  assertStanza(await iq(c, 'get', "<ping xmlns='urn:xmpp:ping'/>"), iqResult());
}

/** An error stanza (of whatever kind) with this defined condition. */
export function assertError(s: string, condition: string): void {
  assertStanza(s, { name: parseStanza(s).name, attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: condition, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }] });
}

/** XEP-0191 §3.5: not-acceptable (cancel) with the blocked application condition. */
export function assertBlockedError(s: string): void {
  assertStanza(s, {
    name: parseStanza(s).name, attrs: { type: 'error' },
    has: [{ name: 'error', attrs: { type: 'cancel' }, has: [{ name: 'not-acceptable', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }, { name: 'blocked', ns: 'urn:xmpp:blocking:errors' }] }],
  });
}
