// XEP-0115 Entity Capabilities and XEP-0390 Entity Capabilities 2.0 for local clients: follows the caps
// in their available presence, verifies hashes against their disco#info before caching them server-wide,
// offers CAPS_SERVICE (featuresOf, wantsNotify) and runs caps_updated; advertises the server's own caps.
import { defineModule, opt, CAPS_SERVICE, type Jid } from '../../src/sdk.js';
import { CapsCache } from './caps-cache.js';
import { CacheUpkeep } from './cache-upkeep.js';
import { CapsTracker } from './caps-tracker.js';
import { capsFeature, serverCaps, SERVER_NODE } from './server-caps.js';

/**
 * The trackers of this server's hosts, by data store (one per server; tests run several in one process): a
 * client's caps are followed by its own host's instance, and CAPS_SERVICE on any host answers for the clients
 * of all of them (PEP on one host notifies contacts on another, XEP-0163 §4.3).
 */
const TRACKERS = new WeakMap<object, Map<string, CapsTracker>>();

export default defineModule({
  name: 'caps',
  description: 'Entity capabilities of local clients, verified and cached (XEP-0115, XEP-0390)',
  xeps: ['XEP-0115', 'XEP-0390'],
  optional: ['disco', 'presence'],
  options: {
    /** Seconds to wait for a client's disco#info answer before giving up on its caps. */
    query_timeout: opt.number(10, { min: 1, max: 300 }),
    /** Seconds a cached hash may go unused (no client announcing it) before the sweep removes it (30 days). */
    cache_expire_after: opt.number(2_592_000, { min: 3600, integer: true }),
    /** Rows the shared cache may hold; past it, new verified caps are kept for their session only. */
    cache_max_rows: opt.number(100_000, { min: 0, integer: true }),
  },
  start(ctx) {
    const results = ctx.counter({
      name: 'xmppd_caps_lookups_total',
      help: 'Client capabilities looked up by result: hit/miss (verified cache), verification_failure (hash does not match the disco#info answer: used for that session only, not cached), query_failure (error or timeout)',
      labelNames: ['host', 'result'],
    });
    const expireAfterMs = ctx.options.cache_expire_after * 1000;
    const upkeep = CacheUpkeep.join(ctx, expireAfterMs);
    const cache = new CapsCache(ctx, upkeep, { expireAfterMs, maxRows: ctx.options.cache_max_rows });
    const tracker = new CapsTracker(ctx, cache, results, ctx.options.query_timeout * 1000);
    ctx.onStop(() => tracker.stop());
    ctx.gauge({
      name: 'xmppd_caps_cache_rows', help: 'Rows of the verified capabilities cache (server-wide table caps_cache)',
      collect() {
        this.set(upkeep.rows);
      },
    });
    // The table is server-wide: the leading instance sweeps it, hourly (or more often for a short expiry).
    ctx.setInterval(() => {
      if (upkeep.leads(ctx)) upkeep.sweep().catch((err) => ctx.log.error('capabilities cache sweep failed', { err }));
    }, Math.min(3_600_000, expireAfterMs / 4));
    ctx.command({
      name: 'caps.cache_sweep', description: 'Remove the cached capabilities unused for cache_expire_after now; returns removed and rows', args: [],
      run: () => upkeep.sweep(),
    });

    let trackers = TRACKERS.get(ctx.store);
    if (!trackers) TRACKERS.set(ctx.store, (trackers = new Map()));
    const hosts = trackers;
    hosts.set(ctx.host, tracker);
    ctx.onStop(() => void (hosts.get(ctx.host) === tracker && hosts.delete(ctx.host)));
    const trackerOf = (full: Jid) => (full.domain === ctx.host ? tracker : hosts.get(full.domain));
    const featuresOf = (full: Jid) => trackerOf(full)?.featuresOf(full);
    ctx.provide(CAPS_SERVICE, {
      featuresOf,
      clientOf: (full: Jid) => (full.domain === ctx.host ? tracker : hosts.get(full.domain))?.clientOf(full),
      wantsNotify: (full: Jid, node: string) => featuresOf(full)?.has(`${node}+notify`) ?? false,
      load: async (full: Jid) => trackerOf(full)?.load(full),
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
