// XEP-0163 Personal Eventing Protocol: a XEP-0060 service on every account's bare JID, owned by the
// account: nodes auto-created on publish, presence access by default (contacts with a subscription
// from/both), notifications to the account's and its contacts' resources that ask "<node>+notify"
// (XEP-0115 caps), the last items on presence; the PEP_SERVICE other modules publish through.
import { defineModule, opt, Jid, StanzaError, PEP_SERVICE, ROSTER_SERVICE, elementFromJson, type PepApi, type IqRequest } from '../../src/sdk.js';
import { PubsubEngine, type ServiceScope } from './engine/engine.js';
import { handlePubsubIq } from './engine/protocol.js';
import { recordValues } from './engine/config-form.js';
import { serviceFeatures, nodeMetaData } from './engine/features.js';
import { PubsubStore } from './engine/store.js';
import { ACCESS_MODELS, NS_OWNER, NS_PUBSUB, type NodeConfig } from './engine/types.js';
import { PepDelivery } from './pep-delivery.js';
import { pepDefaults } from './pep-defaults.js';
import { pepPortable } from './portable.js';
import { pubsubMetrics } from './metrics.js';

export default defineModule({
  name: 'pep',
  description: 'Personal eventing (XEP-0163) on every account, over the XEP-0060 engine',
  xeps: ['XEP-0163', 'XEP-0060'],
  requires: ['roster'],
  optional: ['disco'],
  accountFeatures: serviceFeatures('pep'),
  options: {
    /** Access model of a node created without one (XEP-0163 §4.1: presence). */
    default_access_model: opt.oneOf(ACCESS_MODELS, 'presence'),
    /** Items a node keeps unless configured otherwise (pubsub#max_items). */
    default_max_items: opt.number(1, { min: 1, integer: true }),
    /** The largest pubsub#max_items a node may have ("max" means this). */
    max_items: opt.number(256, { min: 1, integer: true }),
    /** Largest item payload in bytes (larger: not-acceptable + payload-too-big). */
    max_payload_size: opt.number(262_144, { min: 256, integer: true }),
    /** Nodes per account (more: policy-violation). */
    max_nodes: opt.number(1000, { min: 1, integer: true }),
  },
  portable: pepPortable,
  // An account's PEP service is one prefix range of each table (keys start with its bare JID).
  removeUser: (_data, user) => PubsubStore.removeService(user.bareString()),
  start(ctx) {
    const o = ctx.options;
    const engine = new PubsubEngine(ctx, { maxItems: o.max_items, maxPayloadSize: o.max_payload_size, maxNodes: o.max_nodes });
    const defaults = (): NodeConfig => pepDefaults(o);
    const scopeOf = (owner: Jid): ServiceScope => {
      const bare = owner.bare();
      return {
        service: bare.bareString(),
        isServiceOwner: (actor) => actor.bare().equals(bare),
        mayCreate: (actor) => actor.bare().equals(bare),
        autoCreate: true,
        instantNodes: false,
        defaults,
        async inRoster(_owners, actor, groups) {
          const item = await ctx.service(ROSTER_SERVICE)?.get(bare, actor.bare());
          if (!item || item.hidden) return false;
          if (groups === null) return item.subscription === 'from' || item.subscription === 'both';
          return item.groups.some((g) => groups.includes(g));
        },
      };
    };
    const delivery = new PepDelivery(ctx, engine, scopeOf, pubsubMetrics(ctx, 'pep'));

    const onIq = (req: IqRequest) => {
      const owner = req.to.bare();
      if (!owner.local) throw new StanzaError('service-unavailable');
      return handlePubsubIq(engine, scopeOf(owner), delivery, { type: req.type, payload: req.payload, from: req.from });
    };
    ctx.iq('account', NS_PUBSUB, onIq);
    ctx.iq('account', NS_OWNER, onIq);

    // XEP-0163 §4.3.2 / §6: last items when a client is available with known caps (its own account's nodes
    // and its contacts'), when its caps become known, and when a remote contact's resource comes online.
    ctx.hookGlobal('user_available', ({ session }) => delivery.clientReady(session.jid));
    ctx.hookGlobal('caps_updated', ({ jid }) => {
      delivery.forget(jid); // new interests: what it was sent before no longer says what it has
      return delivery.clientReady(jid);
    });
    ctx.hookGlobal('user_unavailable', ({ session }) => delivery.forget(session.jid));
    ctx.hookGlobal('session_closed', ({ session }) => delivery.forget(session.jid));
    // Presence for any host: a remote contact's resource reaching an owner of this host, or an owner of this
    // host reaching a local contact (after a subscription approval, or the owner's login).
    ctx.hookGlobal('presence_in', async (el, { from, to }) => {
      const type = el.attrs.type as string | undefined;
      if (!from.resource || (type !== undefined && type !== 'unavailable')) return undefined;
      if (to.domain === ctx.host && !ctx.isLocal(from.domain)) await delivery.remotePresence(to.bare(), from, type === undefined);
      else if (from.domain === ctx.host && from.local) await delivery.ownerPresence(from.bare(), to, type === undefined);
      return undefined;
    }, 60);

    // XEP-0163 §8 / XEP-0030: the account is a pubsub/pep entity; its nodes (those the asker may see) are
    // its disco items, and each node answers disco#info as a leaf with its meta-data.
    ctx.hook('disco_info', async (info, { target, node, from, to }) => {
      if (target !== 'account') return undefined;
      if (node === undefined) return { ...info, identities: [...info.identities, { category: 'pubsub', type: 'pep' }] };
      const scope = scopeOf(to);
      const row = await engine.tryNode(scope, node);
      if (!row || !(await engine.mayAccess(scope, row, from))) return undefined;
      return { identities: [...info.identities, { category: 'pubsub', type: 'leaf' }], features: [...info.features, NS_PUBSUB], forms: [...info.forms, nodeMetaData(row)] };
    });
    ctx.hook('disco_items', async (items, { target, node, from, to }) => {
      if (target !== 'account') return undefined;
      const scope = scopeOf(to);
      const owner = to.bareString();
      if (node === undefined) {
        const out = [...(items ?? [])];
        for (const n of await engine.nodes(scope)) if (await engine.mayAccess(scope, n.row, from)) out.push({ jid: owner, node: n.name });
        return out;
      }
      const row = await engine.tryNode(scope, node);
      if (!row || !(await engine.mayAccess(scope, row, from))) return undefined;
      // XEP-0060 §5.5: a node's items, named by their ids.
      return [...(items ?? []), ...(await engine.readItems(scope, node)).map((i) => ({ jid: owner, name: i.id }))];
    });

    const api: PepApi = {
      async publish(owner, node, item, options) {
        const scope = scopeOf(owner);
        const r = await engine.publish(scope, owner.bare(), node, [{ id: item.id, payload: item.payload }], options ? recordValues(options) : null);
        await delivery.event(scope, node, r.row, { type: 'items', items: r.items }, owner.bare());
        return r.ids[0]!;
      },
      async items(owner, node, opts = {}) {
        const scope = scopeOf(owner);
        if (!(await engine.tryNode(scope, node))) return [];
        const rows = await engine.readItems(scope, node, opts);
        // Stored items always have a payload (a persistent node requires one).
        return rows.flatMap((r) => (r.payload ? [{ id: r.id, payload: elementFromJson(r.payload), publisher: r.publisher, published: r.published }] : []));
      },
      async retract(owner, node, itemId) {
        const scope = scopeOf(owner);
        if (!(await engine.tryNode(scope, node))) return false;
        try {
          const r = await engine.retract(scope, owner.bare(), node, [itemId]);
          await delivery.event(scope, node, r.row, { type: 'retract', ids: r.removed }, owner.bare());
          return true;
        } catch (err) {
          if (err instanceof StanzaError && err.condition === 'item-not-found') return false;
          throw err;
        }
      },
    };
    ctx.provide(PEP_SERVICE, api);
  },
});
