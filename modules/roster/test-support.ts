// Helpers for the roster and presence tests: a server with both modules, logins that do (or don't)
// fetch the roster and go available, IQ round trips, and "nothing arrived" checks.
import assert from 'node:assert/strict';
import { Jid } from '../../src/sdk.js';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertNoStanza, matchesStanza, type StanzaShape } from '../../test/support/stanza-match.js';
import type { RosterApi, RosterItem } from './api.js';

export function startImServer(roster: Record<string, unknown> = {}, opts: { dir?: string } = {}): Promise<TestServer> {
  return startTestServer({ modules: { disco: {}, ping: {}, roster, presence: {} } }, opts);
}

export interface Client {
  c: RawClient;
  jid: string;
  /** What arrived between the initial presence and the end of login (presence of contacts, requests...). */
  received: string;
}

let seq = 0;
const nextId = (p: string) => `${p}${++seq}`;

/** The IQ answering id `id` (self-closing or not). */
export const iqRe = (id: string) => new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`);

/** Log in (on opts.host, localhost by default); by default fetch the roster (an interested resource) and send initial presence (available). */
export async function login(t: TestServer, user: string, resource: string, opts: { roster?: boolean; presence?: boolean | string; host?: string } = {}): Promise<Client> {
  const { c, jid } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false, host: opts.host });
  if (opts.roster !== false) await iq(c, "<query xmlns='jabber:iq:roster'/>");
  let received = '';
  if (opts.presence !== false) {
    c.send(typeof opts.presence === 'string' ? opts.presence : '<presence/>');
    received = await sync(c);
  }
  return { c, jid, received };
}

/** Send an IQ and return its answer. */
export async function iq(c: RawClient, payload: string, type: 'get' | 'set' = 'get', to?: string): Promise<string> {
  const id = nextId('q');
  return c.iq(id, `<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
}

/**
 * A ping round trip: the server handles a session's stanzas in order and awaits local deliveries, so
 * afterwards everything the earlier stanzas caused has happened. Returns what arrived before the answer.
 */
export async function sync(c: RawClient): Promise<string> {
  const id = nextId('sync');
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const m = await c.expect(iqRe(id));
  return m.input.slice(0, m.index);
}

/** Assert that nothing matching `re` (or no stanza of that shape) arrived (up to a sync round trip). */
export async function assertNothing(c: RawClient, re: RegExp | StanzaShape, what: string): Promise<void> {
  const got = await sync(c);
  if (re instanceof RegExp) assert.doesNotMatch(got, re, what);
  else assertNoStanza(got, re, what);
}

export function rosterApi(t: TestServer, host = t.domain): RosterApi {
  const api = t.server.core.services.get<RosterApi>(host, 'roster');
  assert.ok(api, 'the roster service is provided');
  return api;
}

export async function item(t: TestServer, owner: string, contact: string, host = t.domain): Promise<RosterItem | undefined> {
  return rosterApi(t, host).get(Jid.parse(`${owner}@${host}`), Jid.parse(contact.includes('@') ? contact : `${contact}@${host}`));
}

/** The Appendix A name of a state: none|to|from|both, then +out (ask) and +in (pending inbound). */
export async function state(t: TestServer, owner: string, contact: string, host = t.domain): Promise<string> {
  const i = await item(t, owner, contact, host);
  if (!i) return 'none';
  return `${i.subscription}${i.ask ? '+out' : ''}${i.pendingIn ? '+in' : ''}`;
}

/** The next <presence/> stanza (with its content) matching all the given patterns. */
export async function presence(c: RawClient, ...patterns: RegExp[]): Promise<string> {
  for (;;) {
    const m = await c.expect(/<presence\b[^>]*?(?:\/>|>[\s\S]*?<\/presence>)/);
    if (patterns.every((p) => p.test(m[0]))) return m[0];
  }
}

const STANZA = /<(presence|iq|message)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;

/**
 * Wait for one stanza matching each group (all of its patterns, or a stanza shape), in whatever order they
 * come (other stanzas are skipped); returns them in the order of the groups.
 */
export async function expectAll(c: RawClient, ...groups: Array<RegExp[] | StanzaShape>): Promise<string[]> {
  const found: Array<string | undefined> = groups.map(() => undefined);
  const fits = (g: RegExp[] | StanzaShape, m: string) => (Array.isArray(g) ? g.every((re) => re.test(m)) : matchesStanza(m, g));
  while (found.some((f) => f === undefined)) {
    const m = (await c.expect(STANZA))[0];
    const i = groups.findIndex((g, k) => found[k] === undefined && fits(g, m));
    if (i >= 0) found[i] = m;
  }
  return found as string[];
}

/** Patterns of a roster push for `jid`. */
export const pushOf = (jid: string, ...more: RegExp[]): RegExp[] => [/^<iq\b[^>]*type=["']set["']/, new RegExp(`<item [^>]*jid=["']${jid.replace(/[.]/g, '\\.')}["']`), ...more];

/** A roster push (RFC 6121 §2.1.6) from the user's bare JID carrying one item for `jid`, with these item attributes and children. */
export const rosterPush = (jid: string, itemShape: { attrs?: Record<string, string | RegExp | null>; children?: StanzaShape[] } = {}): StanzaShape => ({
  name: 'iq', attrs: { type: 'set' },
  children: [{ name: 'query', ns: 'jabber:iq:roster', children: [{ name: 'item', ...itemShape, attrs: { jid, ...itemShape.attrs } }] }],
});

/** Patterns of a presence stanza. */
export const presOf = (...more: RegExp[]): RegExp[] => [/^<presence\b/, ...more];

/** The next roster push carrying an item for `jid`. */
export async function push(c: RawClient, jid: string): Promise<string> {
  for (;;) {
    const m = await c.expect(/<iq\b[^>]*type=["']set["'][^>]*>[\s\S]*?<\/iq>/);
    if (new RegExp(`<item [^>]*jid=["']${jid.replace(/[.]/g, '\\.')}["']`).test(m[0])) return m[0];
  }
}

/** Make `a` and `b` subscribed both ways through the protocol. */
export async function makeBoth(a: Client, b: Client, aBare: string, bBare: string): Promise<void> {
  a.c.send(`<presence to='${bBare}' type='subscribe'/>`);
  await sync(a.c);
  b.c.send(`<presence to='${aBare}' type='subscribed'/>`);
  b.c.send(`<presence to='${aBare}' type='subscribe'/>`);
  await sync(b.c);
  a.c.send(`<presence to='${bBare}' type='subscribed'/>`);
  await sync(a.c);
}
