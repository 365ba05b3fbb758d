// PEP's share of XEP-0227 (as Prosody and ejabberd export it): <pubsub xmlns='…#owner'> with each node's
// <configure node=…> submit form, and <pubsub xmlns='…pubsub'> with <items node=…>, oldest item first.
import { elementFromJson, elementToJson, standalone, xml, type DataContext, type Element, type Jid, type PortableSection } from '../../src/sdk.js';
import { applyConfig, configForm, formValues } from './engine/config-form.js';
import { PubsubStore } from './engine/store.js';
import { pepDefaults, type PepDefaultsOptions } from './pep-defaults.js';
import { NS_DATA, NS_OWNER, NS_PUBSUB, type ItemRow, type NodeConfig, type NodeRow } from './engine/types.js';

interface PepOptions extends PepDefaultsOptions { max_nodes: number }

const defaults = pepDefaults;

export const pepPortable: PortableSection<PepOptions> = {
  elements: [`{${NS_OWNER}}pubsub`, `{${NS_PUBSUB}}pubsub`],

  async export(data, user) {
    const store = new PubsubStore(data);
    const service = user.bareString();
    const nodes = await store.listNodes(service);
    if (!nodes.length) return { elements: [] };
    const owner = xml('pubsub', { xmlns: NS_OWNER });
    const items = xml('pubsub', { xmlns: NS_PUBSUB });
    let n = 0;
    for (const { name, row } of nodes) {
      const form = configForm(row.config, 'form');
      form.attrs.type = 'submit';
      owner.c('configure', { node: name }).cnode(form);
      const list = (await store.listItems(service, name)).reverse();
      const el = items.c('items', { node: name });
      for (const it of list) {
        const i = el.c('item', { id: it.id, publisher: it.publisher });
        if (it.payload) i.cnode(elementFromJson(it.payload));
        n++;
      }
    }
    return { elements: [owner, items], counts: { pepNodes: nodes.length, pepItems: n } };
  },

  async import(data, user, elements) {
    return importPep(data, user, elements);
  },
};

async function importPep(data: DataContext<PepOptions>, user: Jid, elements: Element[]) {
  const store = new PubsubStore(data);
  const service = user.bareString();
  const o = data.options;
  const warnings: string[] = [];
  const configs = new Map<string, NodeConfig>();
  const items = new Map<string, Element[]>();
  for (const el of elements) {
    const ns = el.attrs.xmlns;
    for (const c of el.getChildElements()) {
      const node = c.attrs.node as string | undefined;
      if (!node) continue;
      if (ns === NS_OWNER && c.name === 'configure') {
        const x = c.getChild('x', NS_DATA);
        try {
          configs.set(node, applyConfig(defaults(o), (x && formValues(x)) ?? {}, o.max_items));
        } catch (err) {
          warnings.push(`${service}: PEP node "${node}": ${(err as Error).message}; default configuration used`);
          configs.set(node, defaults(o));
        }
      } else if (ns === NS_PUBSUB && c.name === 'items') {
        items.set(node, [...(items.get(node) ?? []), ...c.getChildren('item')]);
      }
    }
  }
  let nodes = 0;
  let stored = 0;
  let over = 0;
  for (const name of new Set([...configs.keys(), ...items.keys()])) {
    if (nodes >= o.max_nodes) {
      over++;
      continue;
    }
    const config = configs.get(name) ?? defaults(o);
    const list = items.get(name) ?? [];
    const kept = config.persist_items ? list.slice(-config.max_items) : [];
    const row: NodeRow = { config, affiliations: { [service]: 'owner' }, subscriptions: {}, seq: 0, created: new Date().toISOString() };
    const ops = [...store.delNode(service, name)];
    for (const it of kept) {
      row.seq++;
      const payload = it.getChildElements()[0];
      const item: ItemRow = { id: (it.attrs.id as string) || `imported-${row.seq}`, payload: payload ? elementToJson(standalone(payload)) : null, publisher: (it.attrs.publisher as string) || service, published: row.created, seq: row.seq };
      ops.push(store.putItem(service, name, item));
    }
    ops.push(store.putNode(service, name, row));
    await data.store.transact(ops);
    nodes++;
    stored += kept.length;
  }
  return { counts: { pepNodes: nodes, pepItems: stored }, overLimit: { pepNodes: over }, warnings };
}
