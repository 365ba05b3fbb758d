// XEP-0115 Entity Capabilities and XEP-0390 Entity Capabilities 2.0 for local clients: follows the caps
// in their available presence, verifies hashes against their disco#info before caching them server-wide,
// offers CAPS_SERVICE (featuresOf, wantsNotify) and runs caps_updated; advertises the server's own caps.
import { defineModule, opt, CAPS_SERVICE, type Jid } from '../../src/sdk.js';
import { CapsCache } from './caps-cache.js';
import { CapsTracker } from './caps-tracker.js';
import { capsFeature, serverCaps, SERVER_NODE } from './server-caps.js';

export default defineModule({
  name: 'caps',
  description: 'Entity capabilities of local clients, verified and cached (XEP-0115, XEP-0390)',
  xeps: ['XEP-0115', 'XEP-0390'],
  optional: ['disco', 'presence'],
  options: {
    /** Seconds to wait for a client's disco#info answer before giving up on its caps. */
    query_timeout: opt.number(10, { min: 1, max: 300 }),
  },
  start(ctx) {
    const results = ctx.counter({
      name: 'xmppd_caps_lookups_total',
      help: 'Client capabilities looked up by result: hit/miss (verified cache), verification_failure (hash does not match the disco#info answer), query_failure (error or timeout)',
      labelNames: ['host', 'result'],
    });
    const tracker = new CapsTracker(ctx, new CapsCache(ctx), results, ctx.options.query_timeout * 1000);
    ctx.onStop(() => tracker.stop());

    ctx.provide(CAPS_SERVICE, {
      featuresOf: (full: Jid) => tracker.featuresOf(full),
      wantsNotify: (full: Jid, node: string) => tracker.featuresOf(full)?.has(`${node}+notify`) ?? false,
    });

    // Broadcast available presence only (a directed presence's caps are for its recipient); after the
    // presence module (priority 50), so a presence it refused is not followed. The stanza is not changed.
    ctx.hook('c2s_presence_out', (el, { session, to }) => {
      if (to === null && el.attrs.type === undefined) tracker.observe(session, el);
      return undefined;
    }, 10);
    ctx.hook('user_unavailable', ({ session }) => tracker.forget(session));
    ctx.hook('session_closed', ({ session }) => tracker.forget(session));

    // XEP-0115 §6.3: the server's caps in the stream features once the client can query them.
    ctx.hook('c2s_stream_features', async (features, { stage }) => {
      if (stage !== 'post-auth') return undefined;
      const caps = await serverCaps(ctx);
      return caps ? [...features, capsFeature(caps.ver)] : undefined;
    });
    // ...and disco#info on node#ver answers as the plain disco#info does (while the hash still holds).
    ctx.hook('disco_info', async (_info, { target, node }) => {
      if (target !== 'server' || !node?.startsWith(`${SERVER_NODE}#`)) return undefined;
      const caps = await serverCaps(ctx);
      return caps && node === `${SERVER_NODE}#${caps.ver}` ? caps.info : undefined;
    });

    // Loaded at runtime: the clients already online are followed from their last presence.
    for (const s of ctx.hostSessions()) if (s.presence) tracker.observe(s, s.presence);
  },
});
