// Test-only XEP-0115 provider of CAPS_SERVICE (loaded through module_paths by the PEP tests until the caps
// module exists): a client's broadcast presence with <c/> makes the server ask it for disco#info (node#ver),
// the features it answers become its caps, and caps_updated runs. Hashes are not verified here.
import { defineModule, xml, CAPS_SERVICE, NS, type Jid } from '../../../src/sdk.js';

const NS_CAPS = 'http://jabber.org/protocol/caps';
/** Full JID -> features, shared by the instances of every host (PEP on one host asks about clients of another). */
const known = new Map<string, Set<string>>();
const asked = new Map<string, string>();

export default defineModule({
  name: 'caps_probe',
  options: {},
  start(ctx) {
    ctx.provide(CAPS_SERVICE, {
      featuresOf: (full: Jid) => known.get(full.toString()),
      wantsNotify: (full: Jid, node: string) => known.get(full.toString())?.has(`${node}+notify`) ?? false,
    });
    ctx.hook('c2s_presence_out', (el, { session, to }) => {
      const c = el.getChild('c', NS_CAPS);
      if (to !== null || el.attrs.type !== undefined || !c) return undefined;
      const key = session.jid.toString();
      const ver = `${c.attrs.node}#${c.attrs.ver}`;
      if (asked.get(key) === ver) return undefined;
      asked.set(key, ver);
      void ctx.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS.DISCO_INFO, node: ver })), session.jid, 5000).then(async (res) => {
        if (res.attrs.type !== 'result') return;
        const features = new Set(res.getChild('query')?.getChildren('feature').map((f) => f.attrs.var as string) ?? []);
        known.set(key, features);
        await ctx.runNotify('caps_updated', { jid: session.jid, features });
      }, () => undefined);
      return undefined;
    });
    ctx.hook('session_closed', ({ session }) => {
      known.delete(session.jid.toString());
      asked.delete(session.jid.toString());
    });
  },
});
