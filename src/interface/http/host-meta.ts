// XEP-0156 connection discovery over HTTP: /.well-known/host-meta (XRD, RFC 6415) and host-meta.json list the
// WebSocket endpoint (urn:xmpp:alt-connections:websocket) and the BOSH one (urn:xmpp:alt-connections:xbosh) of the virtual host the Host header names, with CORS
// so that web clients on other origins can read them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../../core/core.js';
import type { WebSocketConfig } from '../../core/config/websocket-config.js';
import type { BoshConfig } from '../../core/config/bosh-config.js';

const REL_WEBSOCKET = 'urn:xmpp:alt-connections:websocket';
const REL_BOSH = 'urn:xmpp:alt-connections:xbosh';
const CORS = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD, OPTIONS' };

/** Answers host-meta requests (true) or leaves the request to others (false). */
export function hostMetaHandler(core: Core, ws: WebSocketConfig | undefined, tls: boolean, bosh?: BoshConfig) {
  return (req: IncomingMessage, res: ServerResponse, pathname: string): boolean => {
    if (pathname !== '/.well-known/host-meta' && pathname !== '/.well-known/host-meta.json') return false;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS).end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS', ...CORS }).end();
      return true;
    }
    const hostHeader = req.headers.host ?? '';
    const hostname = hostHeader.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (!core.config.hosts.includes(hostname)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...CORS }).end(`this server does not serve ${hostname || 'an unnamed host'}\n`);
      return true;
    }
    const links: Array<{ rel: string; href: string }> = [];
    if (ws?.enabled) links.push({ rel: REL_WEBSOCKET, href: `${tls ? 'wss' : 'ws'}://${hostHeader}${ws.path}` });
    if (bosh?.enabled) links.push({ rel: REL_BOSH, href: `${tls ? 'https' : 'http'}://${hostHeader}${bosh.path}` });
    let body: string;
    let type: string;
    if (pathname.endsWith('.json')) {
      body = JSON.stringify({ links });
      type = 'application/json';
    } else {
      const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
      body = `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n${links.map((l) => `  <Link rel="${l.rel}" href="${esc(l.href)}"/>\n`).join('')}</XRD>\n`;
      type = 'application/xrd+xml; charset=utf-8';
    }
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...CORS });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
