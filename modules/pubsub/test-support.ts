// Helpers for the pep and pubsub tests: a server with both modules and the caps module (XEP-0115 caps
// verified against the client's disco#info), logins whose presence carries a correct sha-1 'ver' for the
// features the client answers with, roster states set through the roster service, publish / retrieve round
// trips and waits for event notifications.
import assert from 'node:assert/strict';
import { Jid, CAPS_SERVICE, type CapsApi } from '../../src/sdk.js';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import type { RosterApi, Subscription } from '../../src/sdk.js';
import { caps1Ver } from '../caps/caps-hash.js';
import type { CapsIdentity } from '../caps/disco-data.js';
import { iqRe, sync } from '../roster/test-support.js';

export { sync };
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_OWNER = `${NS_PUBSUB}#owner`;
export const NS_EVENT = `${NS_PUBSUB}#event`;
export const NS_ERRORS = `${NS_PUBSUB}#errors`;

let seq = 0;

/**
 * Send an IQ and return its answer, leaving whatever arrived before it (notifications the request caused are
 * routed before its result) in the buffer for expectEvent.
 */
export async function iq(c: RawClient, payload: string, type: 'get' | 'set' = 'get', to?: string): Promise<string> {
  const id = `ps${++seq}`;
  c.send(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
  const m = await c.expect(iqRe(id));
  c.buffer = m.input.slice(0, m.index) + c.buffer;
  return m[0];
}

export function pubsubConfig(pep: Record<string, unknown> = {}, pubsub: Record<string, unknown> = {}): Record<string, unknown> {
  return { modules: { disco: {}, ping: {}, roster: {}, presence: {}, pep, pubsub, caps: {} } };
}

/** `extra`: more top-level config overrides (e.g. limits for a benchmark with many clients). */
export function startPubsubServer(opts: { dir?: string; pep?: Record<string, unknown>; pubsub?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Promise<TestServer> {
  return startTestServer({ ...pubsubConfig(opts.pep, opts.pubsub), ...opts.extra }, opts.dir ? { dir: opts.dir } : {});
}

export interface CapsClient { c: RawClient; jid: string; bare: string }

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
/** The caps node (software URI, XEP-0115 §4) of the raw test clients. */
export const CAPS_NODE = 'urn:example:client';
/** The identity the raw test clients answer with. */
export const CLIENT_IDENTITY: CapsIdentity = { category: 'client', type: 'pc' };

/** The XEP-0115 §5.1 sha-1 'ver' of a client with `identity` answering disco#info with `features`. */
export function capsVer(features: string[], identity: CapsIdentity = CLIENT_IDENTITY): string {
  const ver = caps1Ver({ identities: [identity], features, forms: [], foreign: 0 }, 'sha-1');
  assert.ok(ver, `a hashable feature list: ${features.join(' ')}`);
  return ver;
}

/** An available presence whose XEP-0115 <c/> claims `ver` (by default, the correct one for `features`). */
export const capsPresence = (features: string[], ver = capsVer(features)): string =>
  `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${CAPS_NODE}' ver='${ver}'/></presence>`;

/** The features of a raw test client asking "<node>+notify" for each of `notify`. */
export const notifyFeatures = (notify: string[]): string[] => [NS_DISCO_INFO, ...notify.map((n) => `${n}+notify`)];

const CAPS_QUERY_RE = /<iq\b[^>]*>\s*<query\b[^>]*disco#info[^>]*node=[^>]*\/?>[\s\S]*?(?:<\/iq>|\/>)/;

/** Whether the server's disco#info query for a caps node is waiting in the client's buffer. */
export const hasCapsQuery = (c: RawClient): boolean => CAPS_QUERY_RE.test(c.buffer);

export interface CapsQuery { id: string; from: string; node: string }

/** The server's next disco#info request for our caps node (XEP-0115 §6.2), taken from the buffer. */
export async function nextCapsQuery(c: RawClient, timeoutMs = 5000): Promise<CapsQuery> {
  const m = (await c.expect(CAPS_QUERY_RE, timeoutMs))[0];
  const attr = (name: string) => new RegExp(`\\b${name}=["']([^"']+)["']`).exec(m)![1]!;
  return { id: attr('id'), from: attr('from'), node: attr('node') };
}

/** Answer a caps query with our identity and `features`. */
export function answerCapsQuery(c: RawClient, q: CapsQuery, features: string[]): void {
  const feats = features.map((f) => `<feature var='${f}'/>`).join('');
  c.send(`<iq type='result' id='${q.id}' to='${q.from}'><query xmlns='${NS_DISCO_INFO}' node='${q.node}'><identity category='${CLIENT_IDENTITY.category}' type='${CLIENT_IDENTITY.type}'/>${feats}</query></iq>`);
}

/** Answer the server's next disco#info request for our caps node with `features`. */
export async function answerCaps(c: RawClient, features: string[], timeoutMs = 5000): Promise<void> {
  answerCapsQuery(c, await nextCapsQuery(c, timeoutMs), features);
}

/** CAPS_SERVICE on `host`, as the pep module there reads it. */
export function capsOf(t: TestServer, host: string): CapsApi {
  const api = t.server.core.services.get<CapsApi>(host, CAPS_SERVICE.name);
  assert.ok(api, 'the caps module runs');
  return api;
}

/**
 * Wait until the caps module knows the verified features of `jid` (the server asks only for a hash it has
 * not verified yet: a query that arrives meanwhile is answered with `features`).
 */
export async function capsVerified(t: TestServer, host: string, c: RawClient, jid: string, features: string[]): Promise<ReadonlySet<string>> {
  const full = Jid.parse(jid);
  return until(async () => {
    if (hasCapsQuery(c)) await answerCaps(c, features);
    return capsOf(t, host).featuresOf(full);
  }, `the caps of ${jid} are verified`) as Promise<ReadonlySet<string>>;
}

/** The caps lookups of `host` with `result` so far (xmppd_caps_lookups_total). */
export async function capsLookups(t: TestServer, host: string, result: 'hit' | 'miss' | 'verification_failure' | 'query_failure'): Promise<number> {
  const m = t.server.core.metrics.registry.getSingleMetric('xmppd_caps_lookups_total');
  const v = m && (await m.get()).values.find((x) => x.labels.host === host && x.labels.result === result);
  return v ? v.value : 0;
}

/**
 * Log in and go available with caps saying "<node>+notify" for each of `notify` (a correct sha-1 'ver'):
 * the server verifies them (asking the client unless the hash is in its cache), then the client is ready.
 */
export async function capsLogin(t: TestServer, user: string, host: string, resource: string, notify: string[] = []): Promise<CapsClient> {
  const { c, jid } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false, host });
  const features = notifyFeatures(notify);
  c.send(capsPresence(features));
  await capsVerified(t, host, c, jid, features);
  // The presence has been handled; what arrived meanwhile (last items, once the caps are known) stays unread.
  c.buffer = (await sync(c)) + c.buffer;
  return { c, jid, bare: `${user}@${host}` };
}

export function rosterOf(t: TestServer, host: string): RosterApi {
  const api = t.server.core.services.get<RosterApi>(host, 'roster');
  assert.ok(api, 'the roster service is provided');
  return api;
}

/** Set `owner`'s roster item for `contact` to `subscription` (in `groups`). */
export async function setContact(t: TestServer, host: string, owner: string, contact: string, subscription: Subscription, groups: string[] = []): Promise<void> {
  const o = Jid.parse(`${owner}@${host}`);
  const c = Jid.parse(contact.includes('@') ? contact : `${contact}@${host}`);
  await rosterOf(t, host).update(o, c, () => ({ jid: c.toString(), groups, subscription, ask: false, approved: false, pendingIn: false }));
}

/** Make two accounts of `host` mutual contacts (both ways 'both'). */
export async function befriend(t: TestServer, host: string, a: string, b: string): Promise<void> {
  await setContact(t, host, a, b, 'both');
  await setContact(t, host, b, a, 'both');
}

/** The publish IQ payload for one item, with optional publish-options fields. */
export function publishXml(node: string, id: string | null, payload: string, options?: Record<string, string>): string {
  const opts = options
    ? `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#publish-options</value></field>${Object.entries(options).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join('')}</x></publish-options>`
    : '';
  return `<pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item${id ? ` id='${id}'` : ''}>${payload}</item></publish>${opts}</pubsub>`;
}

/** A message whose event concerns `node`, and (if given) carries `pattern`; other stanzas before it are skipped. */
export async function expectEvent(c: RawClient, node: string, pattern?: RegExp, timeoutMs = 5000): Promise<string> {
  const esc = node.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (;;) {
    const m = await c.expect(new RegExp(`<message\\b(?:(?!</message>)[\\s\\S])*?node=["']${esc}["'](?:(?!</message>)[\\s\\S])*</message>`), timeoutMs);
    if (!pattern || pattern.test(m[0])) return m[0];
  }
}

/** What arrived before a sync round trip contains no event for `node`. */
export async function assertNoEvent(c: RawClient, node: string, what: string): Promise<void> {
  const got = await sync(c);
  const esc = node.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  assert.doesNotMatch(got, new RegExp(`<message\\b(?:(?!</message>)[\\s\\S])*?node=["']${esc}["']`), what);
}
