// XEP-0215 External Service Discovery (urn:xmpp:extdisco:2): the STUN/TURN services clients use for
// Jingle media, with time-limited TURN credentials (TURN REST API shared secret, as coturn checks them).
import { defineModule, opt, xml, StanzaError, type Element, type IqRequest } from '../../src/sdk.js';
import { resolveServices, servicesOpt, type ExternalService } from './services-option.js';
import { turnCredentials } from './turn-credentials.js';

export const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

export default defineModule({
  name: 'external_services',
  xeps: ['XEP-0215'],
  features: [NS_EXTDISCO],
  options: {
    services: servicesOpt(),
    /** The TURN server's static-auth-secret; never logged. Empty: no restricted services. */
    turn_secret: opt.string(''),
    credential_ttl: opt.number(86_400, { min: 1, max: 31_536_000, integer: true }),
  },
  start(ctx) {
    const services = resolveServices(ctx.options.services);
    const secret = ctx.options.turn_secret;
    const ttl = ctx.options.credential_ttl;
    const unusable = services.findIndex((s) => s.restricted && !secret);
    if (unusable >= 0) {
      throw new Error(`modules.external_services.turn_secret: must be set (the TURN server's static-auth-secret) while services[${unusable}] is restricted`);
    }

    /** A service element; restricted ones carry fresh credentials for `user` (XEP-0215 §3.1, §3.3). */
    const serviceEl = (s: ExternalService, user: string): Element => {
      const attrs: Record<string, string> = { type: s.type, host: s.host, port: String(s.port), transport: s.transport };
      if (s.name) attrs.name = s.name;
      if (s.restricted) {
        const c = turnCredentials(secret, user, ttl);
        Object.assign(attrs, { restricted: 'true', username: c.username, password: c.password, expires: c.expires });
      }
      return xml('service', attrs);
    };

    ctx.iq('host', NS_EXTDISCO, (req: IqRequest) => {
      // Only this host's own accounts get the relays (and credentials): §3.1 "forbidden" for anyone else.
      if (!req.from.local || req.from.domain !== ctx.host) throw new StanzaError('forbidden', 'external services are offered to this server\'s own users');
      if (req.type !== 'get') throw new StanzaError('bad-request', 'external service discovery is read-only (type get)');
      const user = req.from.bare().toString();
      const p = req.payload;
      if (p.name === 'services') {
        const type = p.attrs.type as string | undefined;
        const listed = type === undefined ? services : services.filter((s) => s.type === type);
        return xml('services', { xmlns: NS_EXTDISCO, ...(type !== undefined && { type }) }, ...listed.map((s) => serviceEl(s, user)));
      }
      if (p.name === 'credentials') {
        // §3.3: the service is named by host and type (port when several share them).
        const want = p.getChild('service');
        if (!want || !want.attrs.host || !want.attrs.type) throw new StanzaError('bad-request', 'credentials need a <service/> with host and type');
        const port = want.attrs.port;
        const found = services.find((s) => s.host === want.attrs.host && s.type === want.attrs.type && (port === undefined || String(s.port) === port));
        if (!found) throw new StanzaError('item-not-found', 'no such service');
        return xml('credentials', { xmlns: NS_EXTDISCO }, serviceEl(found, user));
      }
      throw new StanzaError('bad-request', 'expected <services/> or <credentials/>');
    });
    ctx.log.info('external services offered', { count: services.length, restricted: services.filter((s) => s.restricted).length, credential_ttl: ttl });
  },
});
