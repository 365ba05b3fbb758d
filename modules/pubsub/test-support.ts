// Helpers for the pep and pubsub tests: a server with both modules and the test-only caps provider
// (test/support/modules/caps_probe.ts, through module_paths), logins whose presence carries XEP-0115 caps
// (the client answers the server's disco#info), roster states set through the roster service, publish /
// retrieve round trips and waits for event notifications.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Jid } from '../../src/sdk.js';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import type { RosterApi, Subscription } from '../../src/sdk.js';
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

/** The compiled test modules directory (dist/test/support/modules). */
export const TEST_MODULES = fileURLToPath(new URL('../../test/support/modules/', import.meta.url));

export function pubsubConfig(pep: Record<string, unknown> = {}, pubsub: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    module_paths: [TEST_MODULES],
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, pep, pubsub, caps_probe: {} },
  };
}

/** `extra`: more top-level config overrides (e.g. limits for a benchmark with many clients). */
export function startPubsubServer(opts: { dir?: string; pep?: Record<string, unknown>; pubsub?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Promise<TestServer> {
  return startTestServer({ ...pubsubConfig(opts.pep, opts.pubsub), ...opts.extra }, opts.dir ? { dir: opts.dir } : {});
}

export interface CapsClient { c: RawClient; jid: string; bare: string }

/** Answer the server's disco#info request for our caps node with `features` (XEP-0115 §6.2). */
export async function answerCaps(c: RawClient, features: string[]): Promise<void> {
  const m = await c.expect(/<iq\b[^>]*>\s*<query[^>]*disco#info[^>]*node=[^>]*\/?>[\s\S]*?(?:<\/iq>|\/>)/);
  const id = /\bid=["']([^"']+)["']/.exec(m[0])![1]!;
  const from = /\bfrom=["']([^"']+)["']/.exec(m[0])![1]!;
  const node = /\bnode=["']([^"']+)["']/.exec(m[0])![1]!;
  const feats = ['http://jabber.org/protocol/disco#info', ...features].map((f) => `<feature var='${f}'/>`).join('');
  c.send(`<iq type='result' id='${id}' to='${from}'><query xmlns='http://jabber.org/protocol/disco#info' node='${node}'><identity category='client' type='pc'/>${feats}</query></iq>`);
}

/**
 * Log in and go available with caps saying "<node>+notify" for each of `notify`: the server asks for the
 * features (answered here), then the client is ready (a sync round trip after the answer).
 */
export async function capsLogin(t: TestServer, user: string, host: string, resource: string, notify: string[] = []): Promise<CapsClient> {
  const { c, jid } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false, host });
  const ver = randomBytes(6).toString('hex');
  c.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:example:client' ver='${ver}'/></presence>`);
  await answerCaps(c, notify.map((n) => `${n}+notify`));
  await sync(c);
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
