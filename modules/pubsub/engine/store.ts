// Node and item rows of every pubsub service over the data layer's tables. Keys start with the service (an
// account's bare JID for PEP, a service domain for pubsub), so services and hosts never mix and one
// service's rows are one prefix range. Every change to a node commits with a compare-and-set on its node
// row, whose revision also orders items: nothing here assumes a single process.
import { StanzaError, type DataContext, type Op, type Row, type Table } from '../../../src/sdk.js';
import type { ItemRow, NodeRow } from './types.js';

export const NODES_TABLE = 'pubsub_nodes';
export const ITEMS_TABLE = 'pubsub_items';

/** What the store needs: the module's tables, atomic writes and a keyed lock (a ModuleContext or a DataContext). */
export interface TableSource {
  table<V>(name: string): Table<V>;
  readonly store: Pick<DataContext['store'], 'transact'>;
  lock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** \u0000 cannot occur in a JID or a node name we accept: it separates the key parts. */
export const servicePrefix = (service: string): string => `${service}\u0000`;
export const nodeKey = (service: string, node: string): string => `${service}\u0000${node}`;
export const itemPrefix = (service: string, node: string): string => `${service}\u0000${node}\u0000`;

export class PubsubStore {
  readonly nodes: Table<NodeRow>;
  readonly items: Table<ItemRow>;

  constructor(private readonly src: TableSource) {
    this.nodes = src.table<NodeRow>(NODES_TABLE);
    this.items = src.table<ItemRow>(ITEMS_TABLE);
  }

  async node(service: string, node: string): Promise<Row<NodeRow> | undefined> {
    return this.nodes.get(nodeKey(service, node));
  }

  /** Every node of a service, by name. */
  async listNodes(service: string): Promise<Array<{ name: string; row: NodeRow }>> {
    const p = servicePrefix(service);
    const rows = await this.nodes.range({ prefix: p });
    return rows.map((r) => ({ name: r.key.slice(p.length), row: r.value }));
  }

  /** A node's stored items, newest first. */
  async listItems(service: string, node: string): Promise<ItemRow[]> {
    const rows = await this.items.range({ prefix: itemPrefix(service, node) });
    return rows.map((r) => r.value).sort((a, b) => b.seq - a.seq);
  }

  async getItems(service: string, node: string, ids: string[]): Promise<ItemRow[]> {
    const p = itemPrefix(service, node);
    const rows = await this.items.getMany(ids.map((id) => p + id));
    return rows.filter((r): r is Row<ItemRow> => r !== undefined).map((r) => r.value);
  }

  /**
   * Change one node: `fn` sees the current row (undefined: no such node) and returns the ops to commit with
   * a compare-and-set on that row (none: nothing to write). Retried when another writer got in first, so
   * `fn` may run more than once and must not have side effects.
   */
  mutate<T>(service: string, node: string, fn: (cur: Row<NodeRow> | undefined) => Promise<{ ops: Op[]; result: T }>): Promise<T> {
    // One node's changes queue up in this process; the compare-and-set settles races with other processes.
    const key = nodeKey(service, node);
    return this.src.lock(key, () => this.casLoop(key, fn));
  }

  private async casLoop<T>(key: string, fn: (cur: Row<NodeRow> | undefined) => Promise<{ ops: Op[]; result: T }>): Promise<T> {
    for (let attempt = 0; attempt < 16; attempt++) {
      const cur = await this.nodes.get(key);
      const { ops, result } = await fn(cur);
      if (!ops.length) return result;
      const r = await this.src.store.transact(ops, [{ type: 'rev', table: NODES_TABLE, key, rev: cur?.rev ?? 0 }]);
      if (r.ok) return result;
    }
    throw new StanzaError('resource-constraint', 'the node is changing too fast; try again', 'wait');
  }

  putNode(service: string, node: string, row: NodeRow): Op {
    return { type: 'put', table: NODES_TABLE, key: nodeKey(service, node), value: row as never };
  }

  delNode(service: string, node: string): Op[] {
    return [
      { type: 'del', table: NODES_TABLE, key: nodeKey(service, node) },
      { type: 'delRange', table: ITEMS_TABLE, prefix: itemPrefix(service, node) },
    ];
  }

  putItem(service: string, node: string, item: ItemRow): Op {
    return { type: 'put', table: ITEMS_TABLE, key: itemPrefix(service, node) + item.id, value: item as never };
  }

  delItem(service: string, node: string, id: string): Op {
    return { type: 'del', table: ITEMS_TABLE, key: itemPrefix(service, node) + id };
  }

  /** Delete every row of a service (an account's PEP nodes on account removal). */
  static removeService(service: string): Op[] {
    return [
      { type: 'delRange', table: NODES_TABLE, prefix: servicePrefix(service) },
      { type: 'delRange', table: ITEMS_TABLE, prefix: servicePrefix(service) },
    ];
  }
}
