// The XEP-0060 IQ protocol over a PubsubEngine: parses <pubsub/> (entity use cases §6, publisher §7) and
// <pubsub xmlns='…#owner'/> (owner use cases §8) requests, runs them, answers with results or the errors
// the XEP specifies, and hands committed changes to the module's notifier.
import { Jid, StanzaError, xml, type Element } from '../../../src/sdk.js';
import { configForm, formType, formValues, type FormValues } from './config-form.js';
import type { PubsubEngine, ServiceScope } from './engine.js';
import { nodeIdRequired, pubsubError, unsupported } from './errors.js';
import { itemElement, type EventKind } from './events.js';
import { AFFILIATIONS, NS_OWNER, NS_PUBLISH_OPTIONS, NS_PUBSUB, NS_NODE_CONFIG, NS_DATA, type Affiliation, type NodeRow } from './types.js';

/** What the module does once a change is committed: notify (and, for subscribe, send the last item). */
export interface Notifier {
  event(scope: ServiceScope, node: string, row: NodeRow, kind: EventKind, publisher: Jid): Promise<void>;
  subscribed(scope: ServiceScope, node: string, row: NodeRow, jid: Jid): Promise<void>;
}

export interface PubsubRequest { type: 'get' | 'set'; payload: Element; from: Jid }

const nodeOf = (el: Element): string => {
  const n = el.attrs.node as string | undefined;
  if (n === undefined || n === '') throw nodeIdRequired();
  return n;
};

const jidAttr = (el: Element): Jid => {
  const j = Jid.tryParse(el.attrs.jid as string | undefined);
  if (!j) throw pubsubError('bad-request', 'invalid-jid');
  return j;
};

/** The values of the first data form in `el` whose FORM_TYPE (if any) is `ns`; null for none or cancel. */
function formIn(el: Element | undefined, ns: string): FormValues | null {
  const x = el?.getChild('x', NS_DATA);
  if (!x) return null;
  const t = formType(x);
  if (t !== undefined && t !== ns) throw new StanzaError('bad-request', `the form's FORM_TYPE must be ${ns}`);
  return formValues(x);
}

const expectType = (req: PubsubRequest, type: 'get' | 'set', what: string): void => {
  if (req.type !== type) throw new StanzaError('bad-request', `${what} is an IQ ${type}`);
};

/** Handle one pubsub IQ for `scope`; resolves with the result payload (null: empty result). */
export async function handlePubsubIq(engine: PubsubEngine, scope: ServiceScope, notifier: Notifier, req: PubsubRequest): Promise<Element | null> {
  const p = req.payload;
  if (p.name !== 'pubsub') throw new StanzaError('bad-request', 'expected a <pubsub/> element');
  const ns = p.attrs.xmlns as string;
  const children = p.getChildElements();
  if (ns === NS_OWNER) return owner(engine, scope, notifier, req, children[0]);
  const first = children[0];
  if (!first) throw new StanzaError('bad-request', 'an empty <pubsub/> request');
  const actor = req.from;
  switch (first.name) {
    case 'create': {
      expectType(req, 'set', 'create');
      const values = formIn(p.getChild('configure'), NS_NODE_CONFIG);
      const requested = first.attrs.node as string | undefined;
      const name = await engine.create(scope, actor, requested === '' ? undefined : requested, values);
      // §8.1.2: an instant node's name comes back; a named one gets an empty result (§8.1.1).
      return requested ? null : xml('pubsub', { xmlns: NS_PUBSUB }, xml('create', { node: name }));
    }
    case 'publish': {
      expectType(req, 'set', 'publish');
      const node = nodeOf(first);
      const items = first.getChildren('item');
      if (items.length > 1) throw pubsubError('bad-request', 'invalid-payload', { text: 'publish one item per request' });
      const item = items[0];
      const payloads = item?.getChildElements() ?? [];
      if (payloads.length > 1) throw pubsubError('bad-request', 'invalid-payload', { text: 'an item holds one payload element' });
      const options = formIn(p.getChild('publish-options'), NS_PUBLISH_OPTIONS);
      const r = await engine.publish(scope, actor, node, item ? [{ id: item.attrs.id as string | undefined, payload: payloads[0] ?? null }] : [], options);
      await notifier.event(scope, node, r.row, { type: 'items', items: r.items }, actor);
      return xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', { node }, ...r.ids.map((id) => xml('item', { id }))));
    }
    case 'retract': {
      expectType(req, 'set', 'retract');
      const node = nodeOf(first);
      const ids = first.getChildren('item').map((i) => i.attrs.id as string | undefined);
      if (!ids.length || ids.some((id) => !id)) throw pubsubError('bad-request', 'item-required');
      const r = await engine.retract(scope, actor, node, ids as string[]);
      const notify = first.attrs.notify;
      const forced = notify === 'true' || notify === '1';
      // notify='true' asks for notifications whatever pubsub#notify_retract says (§7.2.2.1).
      await notifier.event(scope, node, forced ? { ...r.row, config: { ...r.row.config, notify_retract: true } } : r.row, { type: 'retract', ids: r.removed }, actor);
      return null;
    }
    case 'subscribe': {
      expectType(req, 'set', 'subscribe');
      const node = nodeOf(first);
      const jid = jidAttr(first);
      if (p.getChild('options')) throw unsupported('subscription-options');
      const r = await engine.subscribe(scope, actor, node, jid);
      await notifier.subscribed(scope, node, r.row, jid);
      return xml('pubsub', { xmlns: NS_PUBSUB }, xml('subscription', { node, jid: jid.toString(), subid: r.subid, subscription: 'subscribed' }));
    }
    case 'unsubscribe': {
      expectType(req, 'set', 'unsubscribe');
      const node = nodeOf(first);
      await engine.unsubscribe(scope, actor, node, jidAttr(first), first.attrs.subid as string | undefined);
      return null;
    }
    case 'items': {
      expectType(req, 'get', 'items');
      const node = nodeOf(first);
      const ids = first.getChildren('item').map((i) => i.attrs.id as string).filter(Boolean);
      const maxAttr = first.attrs.max_items as string | undefined;
      if (maxAttr !== undefined && !/^\d+$/.test(maxAttr)) throw new StanzaError('bad-request', 'max_items must be a whole number');
      const rows = await engine.items(scope, actor, node, { ids, ...(maxAttr !== undefined ? { max: Number(maxAttr) } : {}) });
      return xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node }, ...rows.map((r) => itemElement(r, true, false))));
    }
    case 'subscriptions': {
      expectType(req, 'get', 'subscriptions');
      const node = first.attrs.node as string | undefined;
      const subs = await engine.subscriptionsOf(scope, actor, node || undefined);
      return xml('pubsub', { xmlns: NS_PUBSUB }, xml('subscriptions', node ? { node } : {},
        ...subs.map((s) => xml('subscription', { node: s.node, jid: s.jid, subid: s.subid, subscription: 'subscribed' }))));
    }
    case 'affiliations': {
      expectType(req, 'get', 'affiliations');
      const node = first.attrs.node as string | undefined;
      const affs = await engine.affiliationsOf(scope, actor, node || undefined);
      return xml('pubsub', { xmlns: NS_PUBSUB }, xml('affiliations', node ? { node } : {},
        ...affs.map((a) => xml('affiliation', { node: a.node, affiliation: a.affiliation }))));
    }
    case 'options': throw unsupported('subscription-options');
    case 'default': throw unsupported('subscription-options');
    case 'configure': throw new StanzaError('bad-request', 'configure goes in the #owner namespace, or with <create/>');
    default: throw new StanzaError('feature-not-implemented', `<${first.name}/> is not a pubsub request`);
  }
}

async function owner(engine: PubsubEngine, scope: ServiceScope, notifier: Notifier, req: PubsubRequest, first: Element | undefined): Promise<Element | null> {
  if (!first) throw new StanzaError('bad-request', 'an empty <pubsub/> request');
  const actor = req.from;
  const wrap = (el: Element) => xml('pubsub', { xmlns: NS_OWNER }, el);
  switch (first.name) {
    case 'configure': {
      const node = nodeOf(first);
      if (req.type === 'get') {
        const row = await engine.ownerView(scope, actor, node);
        return wrap(xml('configure', { node }, configForm(row.config)));
      }
      const values = formIn(first, NS_NODE_CONFIG);
      if (!values) {
        await engine.ownerView(scope, actor, node); // a cancel still needs the right to configure
        return null;
      }
      const row = await engine.configure(scope, actor, node, values);
      await notifier.event(scope, node, row, { type: 'config' }, actor);
      return null;
    }
    case 'default': {
      expectType(req, 'get', 'default');
      return wrap(xml('default', {}, configForm(scope.defaults())));
    }
    case 'delete': {
      expectType(req, 'set', 'delete');
      const node = nodeOf(first);
      const row = await engine.delete(scope, actor, node);
      await notifier.event(scope, node, row, { type: 'delete' }, actor);
      return null;
    }
    case 'purge': {
      expectType(req, 'set', 'purge');
      const node = nodeOf(first);
      const row = await engine.purge(scope, actor, node);
      await notifier.event(scope, node, row, { type: 'purge' }, actor);
      return null;
    }
    case 'subscriptions': {
      const node = nodeOf(first);
      if (req.type === 'get') {
        const row = await engine.ownerView(scope, actor, node);
        return wrap(xml('subscriptions', { node }, ...Object.entries(row.subscriptions).map(([jid, subid]) => xml('subscription', { jid, subscription: 'subscribed', subid }))));
      }
      const changes = first.getChildren('subscription').map((s) => {
        const state = s.attrs.subscription as string;
        if (state !== 'subscribed' && state !== 'none') throw new StanzaError('bad-request', `subscription "${state}" is not supported (subscribed or none)`);
        return { jid: jidAttr(s), state: state as 'subscribed' | 'none' };
      });
      await engine.setSubscriptions(scope, actor, node, changes);
      return null;
    }
    case 'affiliations': {
      const node = nodeOf(first);
      if (req.type === 'get') {
        const row = await engine.ownerView(scope, actor, node);
        return wrap(xml('affiliations', { node }, ...Object.entries(row.affiliations).map(([jid, affiliation]) => xml('affiliation', { jid, affiliation }))));
      }
      const changes = first.getChildren('affiliation').map((a) => {
        const affiliation = a.attrs.affiliation as string;
        if (!(AFFILIATIONS as readonly string[]).includes(affiliation)) throw new StanzaError('bad-request', `"${affiliation}" is not an affiliation`);
        return { jid: jidAttr(a), affiliation: affiliation as Affiliation };
      });
      await engine.setAffiliations(scope, actor, node, changes);
      return null;
    }
    default: throw new StanzaError('feature-not-implemented', `<${first.name}/> is not a pubsub#owner request`);
  }
}
