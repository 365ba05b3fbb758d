// XEP-0092 Software Version: name and version of the server; the OS only when the operator opts in.
import { release, type } from 'node:os';
import { defineModule, NS, opt, xml, StanzaError } from '../../src/sdk.js';

export default defineModule({
  name: 'version',
  xeps: ['XEP-0092'],
  features: [NS.VERSION],
  options: {
    name: opt.string('xmppd'),
    show_os: opt.boolean(false),
  },
  start(ctx) {
    ctx.iq('host', NS.VERSION, (req) => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'version is read-only');
      const q = xml('query', { xmlns: NS.VERSION }, xml('name', {}, ctx.options.name), xml('version', {}, ctx.serverVersion));
      if (ctx.options.show_os) q.c('os').t(`${type()} ${release()}; Node.js ${process.version}`);
      return q;
    });
  },
});
