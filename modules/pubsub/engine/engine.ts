// The XEP-0060 rules over the store: who may do what on a node (§4.1 affiliations, §4.5 access models),
// creation, publishing with publish-options (§7.1.5), retraction, purge, deletion, retrieval, subscriptions
// and the owner's management of affiliations and subscriptions (§8). Both modules drive one PubsubEngine;
// a ServiceScope (access.ts) says what differs between an account's PEP service and a pubsub domain.
import { randomBytes } from 'node:crypto';
import { elementToJson, Jid, StanzaError, type Element, type Op } from '../../../src/sdk.js';
import { applyConfig, checkPreconditions, type FormValues } from './config-form.js';
import { nodeNotFound, pubsubError, unsupported } from './errors.js';
import { affiliationOf, checkAccess, mayPublish, type ServiceScope } from './access.js';
import { PubsubStore, type TableSource } from './store.js';

export type { ServiceScope } from './access.js';
import type { Affiliation, ItemRow, NodeConfig, NodeRow } from './types.js';

export interface EngineLimits {
  /** The largest pubsub#max_items ("max" means this). */
  maxItems: number;
  /** Largest item payload in bytes of serialized XML (XEP-0060 §7.1.3.6 payload-too-big beyond). */
  maxPayloadSize: number;
  /** Most nodes per service (a PEP account, a pubsub domain). */
  maxNodes: number;
}

export interface PublishResult { ids: string[]; row: NodeRow; created: boolean; removed: string[]; items: ItemRow[] }

const newId = (): string => `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
const now = (): string => new Date().toISOString();
const copyRow = (r: NodeRow): NodeRow => ({ ...r, config: { ...r.config }, affiliations: { ...r.affiliations }, subscriptions: { ...r.subscriptions } });
/** Node names: non-empty, no control characters (a key separator is \u0000). */
const validNode = (n: string): boolean => n.length > 0 && n.length <= 1024 && !/[\u0000-\u001f]/.test(n);

export class PubsubEngine {
  readonly store: PubsubStore;

  constructor(src: TableSource, readonly limits: EngineLimits) {
    this.store = new PubsubStore(src);
  }

  // ---- decisions ------------------------------------------------------------------------------------

  /** `actor`'s affiliation with a node (access.ts). */
  affiliation(scope: ServiceScope, row: NodeRow, actor: Jid): Affiliation {
    return affiliationOf(scope, row, actor);
  }

  /** Throws the XEP-0060 error when `actor` may not see a node's items or subscribe (access.ts). */
  checkAccess(scope: ServiceScope, row: NodeRow, actor: Jid): Promise<void> {
    return checkAccess(scope, row, actor);
  }

  async mayAccess(scope: ServiceScope, row: NodeRow, actor: Jid): Promise<boolean> {
    try {
      await checkAccess(scope, row, actor);
      return true;
    } catch (err) {
      if (err instanceof StanzaError) return false;
      throw err;
    }
  }

  private mayPublish(scope: ServiceScope, row: NodeRow, actor: Jid): boolean {
    return mayPublish(scope, row, actor);
  }

  private requireOwner(scope: ServiceScope, row: NodeRow, actor: Jid): void {
    if (affiliationOf(scope, row, actor) !== 'owner') throw new StanzaError('forbidden', 'only an owner of the node may do that');
  }

  private async existing(scope: ServiceScope, node: string): Promise<NodeRow> {
    const r = await this.store.node(scope.service, node);
    if (!r) throw nodeNotFound(node);
    return r.value;
  }

  private newRow(scope: ServiceScope, actor: Jid, config: NodeConfig): NodeRow {
    return { config, affiliations: { [actor.bareString()]: 'owner' }, subscriptions: {}, seq: 0, created: now() };
  }

  private async checkNodeCount(scope: ServiceScope): Promise<void> {
    const n = await this.store.nodes.count({ prefix: `${scope.service}\u0000` });
    if (n >= this.limits.maxNodes) throw new StanzaError('policy-violation', `this service keeps at most ${this.limits.maxNodes} nodes`);
  }

  // ---- reading ---------------------------------------------------------------------------------------

  node(scope: ServiceScope, node: string): Promise<NodeRow> {
    return this.existing(scope, node);
  }

  async tryNode(scope: ServiceScope, node: string): Promise<NodeRow | undefined> {
    return (await this.store.node(scope.service, node))?.value;
  }

  nodes(scope: ServiceScope): Promise<Array<{ name: string; row: NodeRow }>> {
    return this.store.listNodes(scope.service);
  }

  /** §6.5: items newest first, the requested ids only (in their order) or at most `max`. */
  async items(scope: ServiceScope, actor: Jid, node: string, opts: { ids?: string[]; max?: number } = {}): Promise<ItemRow[]> {
    const row = await this.existing(scope, node);
    await this.checkAccess(scope, row, actor);
    return this.readItems(scope, node, opts);
  }

  /** Items without an access check (the account's own PepApi, last-item delivery already checked). */
  async readItems(scope: ServiceScope, node: string, opts: { ids?: string[]; max?: number } = {}): Promise<ItemRow[]> {
    if (opts.ids?.length) return this.store.getItems(scope.service, node, opts.ids);
    const all = await this.store.listItems(scope.service, node);
    return opts.max !== undefined ? all.slice(0, opts.max) : all;
  }

  // ---- node life cycle -------------------------------------------------------------------------------

  /** §8.1: create a node (instant when `node` is undefined), configured from the defaults and `values`. */
  async create(scope: ServiceScope, actor: Jid, node: string | undefined, values: FormValues | null): Promise<string> {
    if (!scope.mayCreate(actor)) throw new StanzaError('forbidden', 'you may not create nodes on this service');
    if (node === undefined) {
      if (!scope.instantNodes) throw pubsubError('not-acceptable', 'nodeid-required');
      node = newId();
    }
    if (!validNode(node)) throw new StanzaError('bad-request', 'the node name is empty, too long, or has control characters');
    const config = values ? applyConfig(scope.defaults(), values, this.limits.maxItems) : scope.defaults();
    await this.checkNodeCount(scope);
    const name = node;
    await this.store.mutate(scope.service, name, async (cur) => {
      if (cur) throw new StanzaError('conflict', `the node "${name}" already exists`);
      return { ops: [this.store.putNode(scope.service, name, this.newRow(scope, actor, config))], result: undefined };
    });
    return name;
  }

  /** §8.2.4: apply a submitted configuration; returns the node's new row. */
  async configure(scope: ServiceScope, actor: Jid, node: string, values: FormValues): Promise<NodeRow> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      this.requireOwner(scope, cur.value, actor);
      const next = copyRow(cur.value);
      next.config = applyConfig(cur.value.config, values, this.limits.maxItems);
      const ops: Op[] = [this.store.putNode(scope.service, node, next)];
      // A smaller max_items applies at once (oldest items go); no persistence drops them all.
      const keep = next.config.persist_items ? next.config.max_items : 0;
      if (keep < cur.value.config.max_items || !next.config.persist_items) {
        const items = await this.store.listItems(scope.service, node);
        for (const it of items.slice(keep)) ops.push(this.store.delItem(scope.service, node, it.id));
      }
      return { ops, result: next };
    });
  }

  /** §8.4: delete a node and its items; returns the row it had (its subscribers hear of it). */
  async delete(scope: ServiceScope, actor: Jid, node: string): Promise<NodeRow> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      this.requireOwner(scope, cur.value, actor);
      return { ops: this.store.delNode(scope.service, node), result: cur.value };
    });
  }

  /** §8.5: purge every item; returns the row (to notify) and whether there was anything to purge. */
  async purge(scope: ServiceScope, actor: Jid, node: string): Promise<NodeRow> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      this.requireOwner(scope, cur.value, actor);
      if (!cur.value.config.persist_items) throw unsupported('persistent-items', 'the node keeps no items');
      const next = copyRow(cur.value);
      next.seq++;
      const ops: Op[] = [this.store.putNode(scope.service, node, next), { type: 'delRange', table: this.store.items.name, prefix: `${scope.service}\u0000${node}\u0000` }];
      return { ops, result: next };
    });
  }

  // ---- items -----------------------------------------------------------------------------------------

  /**
   * §7.1: publish items (one per request from the protocol; several from code), creating the node when the
   * scope auto-creates (with `publishOptions` as its configuration), else checking them as preconditions
   * (§7.1.5). Items beyond max_items go, oldest first; without persist_items nothing is kept.
   */
  async publish(scope: ServiceScope, actor: Jid, node: string, items: Array<{ id?: string; payload: Element | null }>, publishOptions?: FormValues | null): Promise<PublishResult> {
    if (!validNode(node)) throw new StanzaError('bad-request', 'the node name is empty, too long, or has control characters');
    const prepared = items.map((i) => {
      const id = i.id === undefined || i.id === '' ? newId() : i.id;
      if (/[\u0000-\u001f]/.test(id) || id.length > 1024) throw new StanzaError('bad-request', 'bad item id');
      const payload = i.payload ? elementToJson(i.payload) : null;
      if (i.payload && Buffer.byteLength(i.payload.toString(), 'utf8') > this.limits.maxPayloadSize) {
        throw pubsubError('not-acceptable', 'payload-too-big', { text: `items up to ${this.limits.maxPayloadSize} bytes` });
      }
      return { id, payload };
    });
    let creating = false;
    const existing = await this.store.node(scope.service, node);
    if (!existing) {
      if (!scope.autoCreate) throw nodeNotFound(node);
      if (!scope.mayCreate(actor)) throw new StanzaError('forbidden', 'you may not create nodes on this service');
      await this.checkNodeCount(scope);
    }
    return this.store.mutate(scope.service, node, async (cur) => {
      let row: NodeRow;
      creating = !cur;
      if (!cur) {
        if (!scope.autoCreate) throw nodeNotFound(node);
        // §7.1.5: the publish-options configure the new node (a bad value is not-acceptable, §8.2.5.3).
        row = this.newRow(scope, actor, publishOptions ? applyConfig(scope.defaults(), publishOptions, this.limits.maxItems) : scope.defaults());
      } else {
        if (!this.mayPublish(scope, cur.value, actor)) throw new StanzaError('forbidden', 'you may not publish to this node');
        if (publishOptions) checkPreconditions(cur.value.config, publishOptions, this.limits.maxItems);
        row = copyRow(cur.value);
      }
      const c = row.config;
      // §7.1.3.6: a persistent node needs an item, and (delivering or keeping payloads) a payload in it; a
      // transient notification-only node takes a bare publish as one event with a generated id.
      let batch = prepared;
      if (!batch.length) {
        if (c.persist_items) throw pubsubError('bad-request', 'item-required');
        batch = [{ id: newId(), payload: null }];
      }
      if (c.persist_items || c.deliver_payloads) {
        if (batch.some((p) => !p.payload)) throw pubsubError('bad-request', 'payload-required');
      }
      const stored: ItemRow[] = [];
      const ops: Op[] = [];
      const published = now();
      for (const p of batch) {
        row.seq++;
        const item: ItemRow = { id: p.id, payload: p.payload, publisher: actor.toString(), published, seq: row.seq };
        stored.push(item);
        if (c.persist_items) ops.push(this.store.putItem(scope.service, node, item));
      }
      const removed: string[] = [];
      if (c.persist_items) {
        const newIds = new Set(batch.map((p) => p.id));
        const older = cur ? (await this.store.listItems(scope.service, node)).filter((i) => !newIds.has(i.id)) : [];
        const room = Math.max(0, c.max_items - Math.min(newIds.size, c.max_items));
        for (const it of older.slice(room)) {
          ops.push(this.store.delItem(scope.service, node, it.id));
          removed.push(it.id);
        }
        // More new items than max_items in one request: only the newest stay.
        for (const it of stored.slice(0, Math.max(0, stored.length - c.max_items))) ops.push(this.store.delItem(scope.service, node, it.id));
      }
      ops.unshift(this.store.putNode(scope.service, node, row));
      return { ops, result: { ids: stored.map((s) => s.id), row, created: creating, removed, items: stored } };
    });
  }

  /** §7.2: retract items; returns the row and the ids that were there. */
  async retract(scope: ServiceScope, actor: Jid, node: string, ids: string[]): Promise<{ row: NodeRow; removed: string[] }> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      const row = cur.value;
      const aff = this.affiliation(scope, row, actor);
      const present = await this.store.getItems(scope.service, node, ids);
      if (!present.length) throw new StanzaError('item-not-found', 'no such item');
      // §7.2.3.1: owners and publishers retract anything; publish-only and open publishers their own items.
      const mayAll = aff === 'owner' || aff === 'publisher';
      if (!mayAll && !(this.mayPublish(scope, row, actor) && present.every((i) => Jid.tryParse(i.publisher)?.bare().equals(actor.bare())))) {
        throw new StanzaError('forbidden', 'you may not retract items from this node');
      }
      const next = copyRow(row);
      next.seq++;
      const ops: Op[] = [this.store.putNode(scope.service, node, next), ...present.map((i) => this.store.delItem(scope.service, node, i.id))];
      return { ops, result: { row: next, removed: present.map((i) => i.id) } };
    });
  }

  // ---- subscriptions ---------------------------------------------------------------------------------

  /** §6.1: subscribe `jid` (the actor's own bare or full JID); returns the subid (existing one kept). */
  async subscribe(scope: ServiceScope, actor: Jid, node: string, jid: Jid): Promise<{ subid: string; row: NodeRow }> {
    // §6.1.3.1: the JID must be the requester's (bare match); owners may subscribe others.
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      const row = cur.value;
      if (!jid.bare().equals(actor.bare()) && this.affiliation(scope, row, actor) !== 'owner') throw pubsubError('bad-request', 'invalid-jid');
      await this.checkAccess(scope, row, jid);
      const key = jid.toString();
      const had = row.subscriptions[key];
      if (had) return { ops: [], result: { subid: had, row } };
      const next = copyRow(row);
      const subid = randomBytes(8).toString('hex');
      next.subscriptions[key] = subid;
      return { ops: [this.store.putNode(scope.service, node, next)], result: { subid, row: next } };
    });
  }

  /** §6.2: end a subscription; unexpected-request + not-subscribed when there is none (§6.2.3.2). */
  async unsubscribe(scope: ServiceScope, actor: Jid, node: string, jid: Jid, subid?: string): Promise<void> {
    await this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      const row = cur.value;
      // §6.2.3.3: unsubscribing someone else is forbidden (owners excepted).
      if (!jid.bare().equals(actor.bare()) && this.affiliation(scope, row, actor) !== 'owner') throw new StanzaError('forbidden', 'you may only unsubscribe yourself');
      const key = jid.toString();
      const had = row.subscriptions[key];
      if (!had) throw pubsubError('unexpected-request', 'not-subscribed', { type: 'cancel' });
      if (subid !== undefined && subid !== had) throw pubsubError('not-acceptable', 'invalid-subid');
      const next = copyRow(row);
      delete next.subscriptions[key];
      return { ops: [this.store.putNode(scope.service, node, next)], result: undefined };
    });
  }

  /** §5.6: the actor's subscriptions (all nodes, or one). */
  async subscriptionsOf(scope: ServiceScope, actor: Jid, node?: string): Promise<Array<{ node: string; jid: string; subid: string }>> {
    const list = node !== undefined ? [{ name: node, row: await this.existing(scope, node) }] : await this.nodes(scope);
    const out: Array<{ node: string; jid: string; subid: string }> = [];
    for (const { name, row } of list) {
      for (const [jid, subid] of Object.entries(row.subscriptions)) if (Jid.tryParse(jid)?.bare().equals(actor.bare())) out.push({ node: name, jid, subid });
    }
    return out;
  }

  /** §5.7: the actor's affiliations (all nodes, or one). */
  async affiliationsOf(scope: ServiceScope, actor: Jid, node?: string): Promise<Array<{ node: string; affiliation: Affiliation }>> {
    const list = node !== undefined ? [{ name: node, row: await this.existing(scope, node) }] : await this.nodes(scope);
    const out: Array<{ node: string; affiliation: Affiliation }> = [];
    for (const { name, row } of list) {
      const a = this.affiliation(scope, row, actor);
      if (a !== 'none') out.push({ node: name, affiliation: a });
    }
    return out;
  }

  // ---- owner management (§8.8, §8.9) -------------------------------------------------------------------

  async ownerView(scope: ServiceScope, actor: Jid, node: string): Promise<NodeRow> {
    const row = await this.existing(scope, node);
    this.requireOwner(scope, row, actor);
    return row;
  }

  /** §8.9.2: set affiliations ('none' removes); an owner may not leave the node without owners (§8.9.2.4). */
  async setAffiliations(scope: ServiceScope, actor: Jid, node: string, changes: Array<{ jid: Jid; affiliation: Affiliation }>): Promise<NodeRow> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      this.requireOwner(scope, cur.value, actor);
      const next = copyRow(cur.value);
      for (const { jid, affiliation } of changes) {
        const k = jid.bareString();
        if (affiliation === 'none') delete next.affiliations[k];
        else next.affiliations[k] = affiliation;
        if (affiliation === 'outcast') for (const s of Object.keys(next.subscriptions)) if (Jid.tryParse(s)?.bare().equals(jid.bare())) delete next.subscriptions[s];
      }
      if (!Object.values(next.affiliations).includes('owner') && !scope.isServiceOwner(actor)) throw new StanzaError('not-acceptable', 'the node would have no owner left');
      return { ops: [this.store.putNode(scope.service, node, next)], result: next };
    });
  }

  /** §8.8.2: set subscriptions (subscribed adds, none removes). */
  async setSubscriptions(scope: ServiceScope, actor: Jid, node: string, changes: Array<{ jid: Jid; state: 'subscribed' | 'none' }>): Promise<NodeRow> {
    return this.store.mutate(scope.service, node, async (cur) => {
      if (!cur) throw nodeNotFound(node);
      this.requireOwner(scope, cur.value, actor);
      const next = copyRow(cur.value);
      for (const { jid, state } of changes) {
        const k = jid.toString();
        if (state === 'none') delete next.subscriptions[k];
        else next.subscriptions[k] ??= randomBytes(8).toString('hex');
      }
      return { ops: [this.store.putNode(scope.service, node, next)], result: next };
    });
  }
}
