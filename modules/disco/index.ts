// XEP-0030 Service Discovery: disco#info and disco#items for the server and for accounts, built from what
// running modules advertise and extended through the disco_info hook.
import { defineModule, NS, xml, StanzaError, ROSTER_SERVICE, type IqRequest } from '../../src/sdk.js';
import type { DiscoInfo, DiscoItem } from '../../hooks/index.js';

export default defineModule({
  name: 'disco',
  xeps: ['XEP-0030'],
  features: [NS.DISCO_INFO, NS.DISCO_ITEMS],
  accountFeatures: [NS.DISCO_INFO, NS.DISCO_ITEMS],
  options: {},
  start(ctx) {
    ctx.identity({ category: 'server', type: 'im', name: 'xmppd' });

    const mayAsk = async (req: IqRequest): Promise<boolean> =>
      req.from.bare().equals(req.to.bare()) || ((await ctx.service(ROSTER_SERVICE)?.isSubscribedTo(req.to.bare(), req.from.bare())) ?? false);

    const info = async (req: IqRequest, target: 'server' | 'account') => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'disco#info is read-only');
      const node = req.payload.attrs.node as string | undefined;
      // Account info is for the account itself and its contacts (subscription from/both: XEP-0030 §3, and
      // XEP-0163 §8, where contacts discover the account's PEP identity and nodes); others see nothing.
      if (target === 'account' && !(await mayAsk(req))) throw new StanzaError('service-unavailable');
      let result: DiscoInfo = target === 'server'
        ? { identities: ctx.discoIdentities(), features: ctx.discoFeatures('server'), forms: [] }
        : { identities: [{ category: 'account', type: 'registered' }], features: ctx.discoFeatures('account'), forms: [] };
      if (node !== undefined) result = { identities: [], features: [], forms: [] };
      if (ctx.hasHandlers('disco_info')) {
        result = (await ctx.runFilter('disco_info', result, { host: ctx.host, target, node, from: req.from, to: req.to })) as DiscoInfo;
      }
      if (node !== undefined && !result.identities.length && !result.features.length) throw new StanzaError('item-not-found');
      const q = xml('query', node !== undefined ? { xmlns: NS.DISCO_INFO, node } : { xmlns: NS.DISCO_INFO });
      for (const i of result.identities) q.c('identity', { category: i.category, type: i.type, ...(i.name ? { name: i.name } : {}) });
      for (const f of [...new Set(result.features)].sort()) q.c('feature', { var: f });
      for (const form of result.forms) q.cnode(form);
      return q;
    };
    const items = async (req: IqRequest, target: 'server' | 'account') => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'disco#items is read-only');
      const node = req.payload.attrs.node as string | undefined;
      let result: DiscoItem[] | null = node === undefined ? [] : null;
      if (ctx.hasHandlers('disco_items')) {
        result = (await ctx.runFilter('disco_items', result, { host: ctx.host, target, node, from: req.from, to: req.to })) as DiscoItem[] | null;
      }
      if (result === null) throw new StanzaError('item-not-found');
      const q = xml('query', node !== undefined ? { xmlns: NS.DISCO_ITEMS, node } : { xmlns: NS.DISCO_ITEMS });
      for (const i of result) q.c('item', { jid: i.jid, ...(i.node ? { node: i.node } : {}), ...(i.name ? { name: i.name } : {}) });
      return q;
    };
    ctx.iq('host', NS.DISCO_INFO, (req) => info(req, 'server'));
    ctx.iq('account', NS.DISCO_INFO, (req) => info(req, 'account'));
    ctx.iq('host', NS.DISCO_ITEMS, (req) => items(req, 'server'));
    ctx.iq('account', NS.DISCO_ITEMS, (req) => items(req, 'account'));
  },
});
