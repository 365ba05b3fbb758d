// PEP round trips for tests of modules that convert PEP data (bookmarks, avatars): publish (answer checked),
// a node's items parsed, retract; on the pep tests' request helpers (modules/pubsub/test-support.ts).
import type { Element } from '@xmpp/xml';
import type { RawClient } from './raw-client.js';
import { assertStanza, iqResult, parseStanza } from './stanza-match.js';
import { iq, publishXml, NS_PUBSUB } from '../../modules/pubsub/test-support.js';

export { publishXml };

/** Publish one item to the account's own node; resolves once the server answered with a result. */
export async function pepPublish(c: RawClient, node: string, itemId: string | null, payload: string, options?: Record<string, string>): Promise<void> {
  assertStanza(await iq(c, publishXml(node, itemId, payload, options), 'set'), iqResult(), { what: `publish to ${node}` });
}

/** Retract an item of the account's own node (with notifications). */
export async function pepRetract(c: RawClient, node: string, itemId: string): Promise<void> {
  const reply = await iq(c, `<pubsub xmlns='${NS_PUBSUB}'><retract node='${node}' notify='true'><item id='${itemId}'/></retract></pubsub>`, 'set');
  assertStanza(reply, iqResult(), { what: `retract ${itemId} from ${node}` });
}

/** The items of a node (of `owner`, default the account's own), newest first; [] when the node does not exist. */
export async function pepItems(c: RawClient, node: string, owner?: string): Promise<Array<{ id: string; payload: Element }>> {
  const reply = parseStanza(await iq(c, `<pubsub xmlns='${NS_PUBSUB}'><items node='${node}'/></pubsub>`, 'get', owner));
  if (reply.attrs.type === 'error' && reply.getChild('error')?.getChild('item-not-found')) return [];
  assertStanza(reply, iqResult(), { what: `items of ${node}` });
  const items = reply.getChild('pubsub')?.getChild('items')?.getChildren('item') ?? [];
  return items.map((it) => ({ id: String(it.attrs.id), payload: it.getChildElements()[0]! }));
}
