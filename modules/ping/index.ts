// XEP-0199 XMPP Ping: the server answers pings to its domain (and to an account's bare JID).
import { defineModule, NS } from '../../src/sdk.js';

export default defineModule({
  name: 'ping',
  xeps: ['XEP-0199'],
  features: [NS.PING],
  start(ctx) {
    const pong = () => null; // an empty result is the answer (XEP-0199 §4.2)
    ctx.iq('host', NS.PING, pong);
    ctx.iq('account', NS.PING, pong);
  },
});
