// XEP-0199 XMPP Ping: the server answers pings to its domain (and to an account's bare JID), and pings
// quiet client sessions itself (§4.2) to find connections that no longer answer (keepalive.ts).
import { defineModule, opt, NS } from '../../src/sdk.js';
import { startKeepalive } from './keepalive.js';

export default defineModule({
  name: 'ping',
  xeps: ['XEP-0199'],
  features: [NS.PING],
  options: {
    /** Seconds a client session may stay quiet before the server pings it; 0: the server never pings. */
    ping_interval: opt.number(300, { min: 0, max: 86_400, integer: true }),
    /** Seconds to wait for the answer to a server ping. */
    ping_timeout: opt.number(60, { min: 1, max: 3600, integer: true }),
    /** What an unanswered ping does: close the session (connection-timeout), or nothing but count it. */
    timeout_action: opt.oneOf(['close', 'none'] as const, 'close'),
  },
  start(ctx) {
    const pong = () => null; // an empty result is the answer (XEP-0199 §4.2)
    ctx.iq('host', NS.PING, pong);
    ctx.iq('account', NS.PING, pong);
    startKeepalive(ctx);
  },
});
