// The PEP requests a client sends in tests (XEP-0163 over XEP-0060): publish with publish-options, read a
// node's items, retract; over a RawClient, answers checked and items parsed.
import type { Element } from '@xmpp/xml';
import type { RawClient } from './raw-client.js';
import { assertStanza, iqResult, parseStanza } from './stanza-match.js';

export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
let seq = 0;
const nextId = (what: string) => `${what}-${++seq}`;

/** A publish-options form (XEP-0060 §7.1.5) from field var -> value. */
export function publishOptions(fields: Record<string, string>): string {
  const f = Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join('');
  return "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>" +
    `<value>${NS_PUBSUB}#publish-options</value></field>${f}</x></publish-options>`;
}

/** Publish one item to the account's own node; resolves once the server answered with a result. */
export async function pepPublish(c: RawClient, node: string, itemId: string | null, payload: string, options?: Record<string, string>): Promise<void> {
  const id = nextId('pub');
  const item = itemId === null ? `<item>${payload}</item>` : `<item id='${itemId}'>${payload}</item>`;
  const reply = await c.iq(id, `<iq type='set' id='${id}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'>${item}</publish>${options ? publishOptions(options) : ''}</pubsub></iq>`);
  assertStanza(reply, { name: 'iq', attrs: { type: 'result' } }, { what: `publish to ${node}` });
}

/** Retract an item of the account's own node (with notifications). */
export async function pepRetract(c: RawClient, node: string, itemId: string): Promise<void> {
  const id = nextId('retract');
  const reply = await c.iq(id, `<iq type='set' id='${id}'><pubsub xmlns='${NS_PUBSUB}'><retract node='${node}' notify='true'><item id='${itemId}'/></retract></pubsub></iq>`);
  assertStanza(reply, iqResult(), { what: `retract ${itemId} from ${node}` });
}

/** The items of a node (of `owner`, default the account's own), newest first; [] when the node does not exist. */
export async function pepItems(c: RawClient, node: string, owner?: string): Promise<Array<{ id: string; payload: Element }>> {
  const id = nextId('items');
  const reply = parseStanza(await c.iq(id, `<iq type='get' id='${id}'${owner ? ` to='${owner}'` : ''}><pubsub xmlns='${NS_PUBSUB}'><items node='${node}'/></pubsub></iq>`));
  if (reply.attrs.type === 'error' && reply.getChild('error')?.getChild('item-not-found')) return [];
  assertStanza(reply, iqResult(), { what: `items of ${node}` });
  const items = reply.getChild('pubsub')?.getChild('items')?.getChildren('item') ?? [];
  return items.map((it) => ({ id: String(it.attrs.id), payload: it.getChildElements()[0]! }));
}
