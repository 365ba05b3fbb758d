// A module-served subdomain that only answers IQs (XEP-0060 pubsub.<host>, XEP-0363 upload.<host>): results
// and errors are never answered, other messages get service-unavailable, presence is ignored, and the host's
// disco#items lists the service (XEP-0030 §4).
import type { Element } from '@xmpp/xml';
import { StanzaError } from '../errors.js';
import { errorReply, iqResult } from '../stanza.js';
import type { Jid } from '../jid.js';
import type { ModuleContext } from './module-context.js';

/** Answers one IQ get/set: the result payload (or null for an empty result); throws StanzaError for an error. */
export type ServiceIqHandler = (el: Element, from: Jid, to: Jid) => Promise<Element | null | undefined> | Element | null | undefined;

export function serveIqDomain(ctx: ModuleContext<any>, domain: string, name: string, handleIq: ServiceIqHandler): void {
  ctx.serveDomain(domain, async (el, from, to) => {
    if (el.name !== 'iq') {
      const t = el.attrs.type;
      if (el.name === 'message' && t !== 'error' && t !== 'headline') await ctx.route(errorReply(el, new StanzaError('service-unavailable'), to.toString()), to, from);
      return;
    }
    if (el.attrs.type === 'result' || el.attrs.type === 'error') return;
    let reply: Element;
    try {
      reply = iqResult(el, (await handleIq(el, from, to)) ?? undefined, to.toString());
    } catch (err) {
      if (!(err instanceof StanzaError)) {
        ctx.log.error(`${ctx.moduleName} request failed`, { err });
        err = new StanzaError('internal-server-error');
      }
      reply = errorReply(el, err as StanzaError, to.toString());
    }
    reply.attrs.to = from.toString();
    await ctx.route(reply, to, from);
  });
  ctx.hook('disco_items', (items, { target, node }) => {
    if (target !== 'server' || node !== undefined || items === null) return undefined;
    return [...items, { jid: domain, name }];
  });
}
