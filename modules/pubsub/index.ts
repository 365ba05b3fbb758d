// XEP-0060 Publish-Subscribe: a generic pubsub service on a subdomain of the host (pubsub.<host> by
// default), served through ctx.serveDomain: IQs are dispatched here (pubsub, pubsub#owner, disco#info and
// disco#items for the service and its nodes), node creation is gated by an access rule, and the service is
// listed in the host's disco#items.
import { defineModule, opt, Jid, NS, StanzaError, xml, ROSTER_SERVICE, type Element, serveIqDomain } from '../../src/sdk.js';
import { PubsubEngine, type ServiceScope } from './engine/engine.js';
import { handlePubsubIq } from './engine/protocol.js';
import { serviceFeatures, nodeMetaData } from './engine/features.js';
import { ACCESS_MODELS, NS_OWNER, NS_PUBSUB, type NodeConfig } from './engine/types.js';
import { ServiceNotifier } from './service-notify.js';
import { pubsubMetrics } from './metrics.js';

/** Refusals a write not yet applied on this node could explain (checked again after a barrier in a cluster). */
const STALE_REFUSALS = new Set(['item-not-found', 'forbidden', 'not-allowed', 'not-authorized', 'unexpected-request', 'registration-required']);

export default defineModule({
  name: 'pubsub',
  description: 'Publish-Subscribe service (XEP-0060) on a subdomain',
  xeps: ['XEP-0060'],
  optional: ['roster', 'disco'],
  options: {
    /** The service's domain; @HOST@ stands for the virtual host. */
    host: opt.string('pubsub.@HOST@'),
    /** Display name in disco#info and the host's disco#items. */
    name: opt.string('Publish-Subscribe'),
    /** Access rule (access_rules.<name>) deciding who may create nodes; "" = the accounts of this host. */
    access_create: opt.string(''),
    /** Publishing to a missing node creates it (for those who may create nodes). */
    auto_create: opt.boolean(false),
    /** Access model of a node created without one. */
    default_access_model: opt.oneOf(ACCESS_MODELS, 'open'),
    /** Items a node keeps unless configured otherwise. */
    default_max_items: opt.number(10, { min: 1, integer: true }),
    /** The largest pubsub#max_items ("max" means this). */
    max_items: opt.number(1000, { min: 1, integer: true }),
    /** Largest item payload in bytes (larger: not-acceptable + payload-too-big). */
    max_payload_size: opt.number(262_144, { min: 256, integer: true }),
    /** Nodes on the service (more: policy-violation). */
    max_nodes: opt.number(10_000, { min: 1, integer: true }),
  },
  start(ctx) {
    const o = ctx.options;
    const domain = o.host.replaceAll('@HOST@', ctx.host).toLowerCase();
    const djid = Jid.tryParse(domain);
    if (!djid || djid.local || djid.resource || domain === ctx.host) {
      throw new Error(`modules.pubsub.host: "${o.host}" must be a domain other than the host, such as pubsub.@HOST@`);
    }
    const engine = new PubsubEngine(ctx, { maxItems: o.max_items, maxPayloadSize: o.max_payload_size, maxNodes: o.max_nodes });
    const defaults = (): NodeConfig => ({
      title: '', access_model: o.default_access_model, roster_groups_allowed: [], publish_model: 'publishers',
      max_items: Math.min(o.default_max_items, o.max_items), persist_items: true, notify_retract: true, notify_delete: true,
      notify_config: false, deliver_payloads: true, deliver_notifications: true, send_last_published_item: 'on_sub',
      notification_type: 'headline', type: '',
    });
    const isAdmin = (actor: Jid) => ctx.inAcl('admin', { jid: actor });
    const scope: ServiceScope = {
      service: domain,
      isServiceOwner: isAdmin,
      mayCreate: (actor) => isAdmin(actor) || (o.access_create === '' ? !!actor.local && actor.domain === ctx.host : ctx.allowed(o.access_create, { jid: actor })),
      autoCreate: o.auto_create,
      instantNodes: true,
      defaults,
      async inRoster(owners, actor, groups) {
        const roster = ctx.service(ROSTER_SERVICE);
        if (!roster) return false;
        for (const owner of owners) {
          const oj = Jid.tryParse(owner);
          if (!oj || oj.domain !== ctx.host) continue;
          const item = await roster.get(oj, actor.bare());
          if (!item || item.hidden) continue;
          if (groups === null ? item.subscription === 'from' || item.subscription === 'both' : item.groups.some((g) => groups.includes(g))) return true;
        }
        return false;
      },
    };
    const notifier = new ServiceNotifier(ctx, engine, pubsubMetrics(ctx, 'pubsub'));
    const features = serviceFeatures('pubsub').filter((f) => o.auto_create || f !== `${NS_PUBSUB}#auto-create`);

    const discoInfo = async (q: Element, from: Jid): Promise<Element> => {
      const node = q.attrs.node as string | undefined;
      const out = xml('query', { xmlns: NS.DISCO_INFO, ...(node ? { node } : {}) });
      if (!node) {
        out.c('identity', { category: 'pubsub', type: 'service', name: o.name });
        for (const f of [NS.DISCO_INFO, NS.DISCO_ITEMS, ...features]) out.c('feature', { var: f });
        return out;
      }
      const row = await engine.tryNode(scope, node);
      if (!row) throw new StanzaError('item-not-found', `no node "${node}"`);
      await engine.checkAccess(scope, row, from);
      out.c('identity', { category: 'pubsub', type: 'leaf', ...(row.config.title ? { name: row.config.title } : {}) });
      out.c('feature', { var: NS_PUBSUB });
      out.cnode(nodeMetaData(row));
      return out;
    };
    const discoItems = async (q: Element, from: Jid): Promise<Element> => {
      const node = q.attrs.node as string | undefined;
      const out = xml('query', { xmlns: NS.DISCO_ITEMS, ...(node ? { node } : {}) });
      if (!node) {
        for (const n of await engine.nodes(scope)) {
          if (await engine.mayAccess(scope, n.row, from)) out.c('item', { jid: domain, node: n.name, ...(n.row.config.title ? { name: n.row.config.title } : {}) });
        }
        return out;
      }
      const items = await engine.items(scope, from, node);
      for (const it of items) out.c('item', { jid: domain, name: it.id });
      return out;
    };

    const handleIq = async (el: Element, from: Jid, to: Jid): Promise<Element | null> => {
      const type = el.attrs.type;
      if (type !== 'get' && type !== 'set') throw new StanzaError('bad-request', 'an IQ request is a get or a set');
      if (to.local || to.resource) throw new StanzaError('service-unavailable');
      const payload = el.getChildElements();
      if (payload.length !== 1) throw new StanzaError('bad-request', 'an IQ request has exactly one payload');
      const p = payload[0]!;
      const ns = p.attrs.xmlns as string | undefined;
      if (ns === NS.DISCO_INFO || ns === NS.DISCO_ITEMS) {
        if (type !== 'get') throw new StanzaError('bad-request', 'disco is read-only');
        return ns === NS.DISCO_INFO ? discoInfo(p, from) : discoItems(p, from);
      }
      if (ns === NS_PUBSUB || ns === NS_OWNER) return handlePubsubIq(engine, scope, notifier, { type, payload: p, from });
      throw new StanzaError('service-unavailable');
    };

    // In a cluster the service runs on every node over the replicated tables (its state is all in them): a node
    // made, or a right granted, through another node may not be applied here yet, so a refusal that such a
    // change would lift is checked once more after this replica has caught up (read-your-writes for requests
    // that land on several nodes). Refusals come before anything is written: the retry repeats nothing.
    const serve = ctx.cluster ? async (el: Element, from: Jid, to: Jid): Promise<Element | null> => {
      try {
        return await handleIq(el, from, to);
      } catch (err) {
        if (!(err instanceof StanzaError) || !STALE_REFUSALS.has(err.condition)) throw err;
        await ctx.store.barrier();
        return handleIq(el, from, to);
      }
    } : handleIq;

    // The service answers IQs only, and the host's disco#items lists it.
    serveIqDomain(ctx, domain, o.name, serve);
  },
});
