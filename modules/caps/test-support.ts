// Raw test clients with XEP-0115 caps: the correct sha-1 'ver' for the features a client answers with (the
// caps module's own §5.1 hash, checked against the XEP's examples in caps-hash.test.ts), the server's
// disco#info queries and their answers, waits until the caps module has verified a client's caps.
import assert from 'node:assert/strict';
import { Jid, CAPS_SERVICE, type CapsApi } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { caps1Ver } from './caps-hash.js';
import type { CapsIdentity } from './disco-data.js';

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

/** CAPS_SERVICE on `host`, as another module there reads it. */
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

