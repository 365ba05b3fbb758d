// The server's own capabilities (XEP-0115 §6.3): a <c/> in the c2s stream features, hashed from what the
// host's disco#info answers, and the answer to disco#info on that node#ver.
import { xml, Jid, type ModuleContext } from '../../src/sdk.js';
import type { DiscoInfo } from '../../hooks/index.js';
import { caps1Ver } from './caps-hash.js';
import { NS_CAPS } from './claim.js';
import { NS_DATA, NS_DISCO_INFO, parseDiscoInfo, parseForm } from './disco-data.js';

/** The software URI of the 'node' attribute (XEP-0115 §4). */
export const SERVER_NODE = 'urn:xmppd:caps';

/**
 * The host's disco#info as the disco module answers it to a plain query (the same hook, seen from the host
 * itself, so that the hash does not depend on who asks), and its sha-1 'ver'; null when it is not hashable.
 */
export async function serverCaps(ctx: ModuleContext<any>): Promise<{ info: DiscoInfo; ver: string } | null> {
  const host = Jid.parse(ctx.host);
  let info: DiscoInfo = { identities: ctx.discoIdentities(), features: ctx.discoFeatures('server'), forms: [] };
  if (ctx.hasHandlers('disco_info')) {
    info = (await ctx.runFilter('disco_info', info, { host: ctx.host, target: 'server', from: host, to: host })) as DiscoInfo;
  }
  info = { ...info, features: [...new Set(info.features)] }; // the disco module answers each feature once
  // Hash what goes on the wire: the same elements, read back the way a client reads them.
  const q = xml('query', { xmlns: NS_DISCO_INFO });
  for (const i of info.identities) q.c('identity', { category: i.category, type: i.type, ...(i.name ? { name: i.name } : {}) });
  for (const f of info.features) q.c('feature', { var: f });
  const data = parseDiscoInfo(q);
  for (const form of info.forms) if (form.is('x', NS_DATA)) data.forms.push(parseForm(form));
  const ver = caps1Ver(data, 'sha-1');
  return ver === null ? null : { info, ver };
}

/** The stream feature element for `ver`. */
export const capsFeature = (ver: string) => xml('c', { xmlns: NS_CAPS, hash: 'sha-1', node: SERVER_NODE, ver });
