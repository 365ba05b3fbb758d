// What a presence claims about its sender's capabilities: XEP-0390 <c xmlns='urn:xmpp:caps'> hash sets
// and XEP-0115 <c xmlns='http://jabber.org/protocol/caps'/>, reduced to the one claim the server follows.
import type { Element } from '../../src/sdk.js';
import { CAPS1_HASHES, CAPS2_HASHES } from './caps-hash.js';

export const NS_CAPS = 'http://jabber.org/protocol/caps';
export const NS_CAPS2 = 'urn:xmpp:caps';
export const NS_HASHES2 = 'urn:xmpp:hashes:2';

/** A hash the server can verify, its shared cache key, and the disco node that answers for it. */
export interface Verifiable { proto: 'caps1' | 'caps2'; algo: string; value: string; key: string; node: string }

/**
 * The claim of one presence. `verifiable`: hashes the server checks, best first, all naming the same
 * disco#info (any cached one is as good as another). `sessionNode`: a node to ask when there is nothing
 * verifiable (XEP-0115 v1.3 legacy caps without 'hash', or a hash this server does not check): its answer
 * is kept for that session only, never shared (§5.4 point 4). `id` tells two claims apart.
 */
export interface Claim { id: string; verifiable: Verifiable[]; sessionNode?: string }

const MAX_VALUE = 256; // a hash in base64 is far shorter; anything longer is not a hash worth a query

const cacheKey = (proto: string, algo: string, value: string) => `${proto}/${algo}/${value}`;

/** The claim of an available presence, or null when it carries no (usable) capabilities. */
export function claimOf(presence: Element): Claim | null {
  const verifiable: Verifiable[] = [];
  // XEP-0390 first: its hash covers more of the disco#info (all of each form) and forbids sha-1.
  const c2 = presence.getChild('c', NS_CAPS2);
  if (c2) {
    const hashes = c2.getChildren('hash', NS_HASHES2)
      .map((h) => ({ algo: String(h.attrs.algo ?? ''), value: h.getText().trim() }))
      .filter((h) => CAPS2_HASHES[h.algo] && h.value && h.value.length <= MAX_VALUE);
    const order = Object.keys(CAPS2_HASHES);
    hashes.sort((a, b) => order.indexOf(a.algo) - order.indexOf(b.algo));
    for (const h of hashes) {
      // XEP-0390 §4 "Construction of Capability Hash Nodes"
      verifiable.push({ proto: 'caps2', ...h, key: cacheKey('caps2', h.algo, h.value), node: `${NS_CAPS2}#${h.algo}.${h.value}` });
    }
  }
  const c1 = presence.getChild('c', NS_CAPS);
  let sessionNode: string | undefined;
  if (c1) {
    const node = typeof c1.attrs.node === 'string' ? c1.attrs.node : '';
    const ver = typeof c1.attrs.ver === 'string' ? c1.attrs.ver : '';
    const algo = typeof c1.attrs.hash === 'string' ? c1.attrs.hash : undefined;
    if (node && ver && ver.length <= MAX_VALUE) {
      // XEP-0115 §6.2: the disco#info node is node#ver
      if (algo !== undefined && CAPS1_HASHES[algo]) {
        verifiable.push({ proto: 'caps1', algo, value: ver, key: cacheKey('caps1', algo, ver), node: `${node}#${ver}` });
      } else {
        sessionNode = `${node}#${ver}`;
      }
    }
  }
  if (!verifiable.length && sessionNode === undefined) return null;
  const id = verifiable.length ? verifiable.map((v) => v.key).join(' ') : `session/${sessionNode}`;
  return sessionNode !== undefined && !verifiable.length ? { id, verifiable, sessionNode } : { id, verifiable };
}
