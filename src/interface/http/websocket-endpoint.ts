// The WebSocket endpoint of an http/https listener (RFC 7395 §3.1-§3.2): the HTTP upgrade is checked (path,
// the 'xmpp' subprotocol, the page's Origin) and then handed to `ws` (noServer, on the listener's own
// node:http(s) server); each accepted connection becomes a c2s stream over a WebSocketTransport.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv4, isIPv6, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { escapeXML } from '@xmpp/xml';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import type { WebSocketConfig } from '../../core/config/websocket-config.js';
import { newStreamId } from '../stream/stream-header.js';
import { NS_FRAMING, WS_FRAMING, WebSocketTransport } from './websocket-transport.js';

/** Beyond max_stanza_size a message is refused with a stream error; beyond this `ws` stops reading the frame. */
const FRAME_SLACK = 64 * 1024;

export interface AcceptedWebSocket {
  transport: WebSocketTransport;
  /** Counts as encrypted: wss://, or ws:// from loopback or with consider_secure. */
  secure: boolean;
  /** wss://: the TLS connection under it (channel binding). */
  tlsSocket?: TLSSocket;
}

export class WebSocketEndpoint {
  private readonly wss: WebSocketServer;
  private readonly proxies: BlockList | null = null;

  constructor(
    private readonly core: Core,
    private readonly cfg: WebSocketConfig,
    /** The listener is https (the connection is TLS already). */
    private readonly tls: boolean,
    private readonly accept: (ws: AcceptedWebSocket) => void,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false, // compression of attacker-chosen text next to secrets invites CRIME-style attacks
      maxPayload: core.config.max_stanza_size + FRAME_SLACK,
      handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
    });
    if (cfg.trusted_proxies.length) {
      this.proxies = new BlockList();
      for (const v of cfg.trusted_proxies) {
        const [addr, bits] = v.split('/') as [string, string | undefined];
        const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
        if (bits !== undefined) this.proxies.addSubnet(addr, Number(bits), type);
        else this.proxies.addAddress(addr, type);
      }
    }
  }

  /** Whether this endpoint serves `pathname`. */
  serves(pathname: string): boolean {
    return this.cfg.enabled && pathname === this.cfg.path;
  }

  /** The server's 'upgrade' event. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!this.serves(path)) return refuse(socket, 404, 'no WebSocket endpoint here');
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    // RFC 7395 §3.2: the client names the 'xmpp' subprotocol; without it this is not an XMPP connection.
    if (!protocols.includes('xmpp')) return refuse(socket, 400, "the WebSocket subprotocol 'xmpp' is required (RFC 7395 §3.2)");
    const origin = req.headers.origin;
    if (origin !== undefined && this.cfg.origins && !this.cfg.origins.includes(origin)) {
      this.core.log.debug('WebSocket origin refused', { origin, ip: req.socket.remoteAddress });
      return refuse(socket, 403, 'this origin may not connect');
    }
    const raw = socket as Socket;
    const ip = this.proxies ? clientAddress(raw.remoteAddress, req.headers['x-forwarded-for'], this.proxies) : raw.remoteAddress;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.cfg.see_other_uri) return seeOther(ws, this.cfg.see_other_uri);
      const transport = new WebSocketTransport(ws, raw, ip, { maxMessage: this.core.config.max_stanza_size, pingInterval: this.cfg.ping_interval });
      // A proxy on this machine (loopback peer) counts as terminating TLS, as a loopback client does.
      this.accept({
        transport,
        secure: this.tls || this.cfg.consider_secure || isLoopback(raw.remoteAddress),
        ...(raw instanceof TLSSocket ? { tlsSocket: raw } : {}),
      });
    });
  }
}

/**
 * RFC 7395 §3.6.1: this endpoint sends every client elsewhere. The client's <open/> is answered with ours and
 * a <close/> naming the other endpoint; no stream is negotiated here, so no c2s stream is made.
 */
function seeOther(ws: WebSocket, uri: string): void {
  const timer = setTimeout(() => ws.terminate(), 10_000).unref();
  ws.once('message', () => {
    clearTimeout(timer);
    ws.send(WS_FRAMING.open({ contentNs: '', id: newStreamId() }));
    ws.send(`<close xmlns='${NS_FRAMING}' see-other-uri='${escapeXML(uri)}'/>`);
    ws.close(1000);
  });
  ws.on('error', () => ws.terminate());
  ws.once('close', () => clearTimeout(timer));
}

/**
 * The client's address behind trusted proxies: X-Forwarded-For read from the right (each proxy appends the
 * address it saw), skipping trusted proxies; the first other address is the client. Anything left of it could
 * have been written by the client itself and is ignored.
 */
export function clientAddress(peer: string | undefined, header: string | string[] | undefined, proxies: BlockList): string | undefined {
  if (!peer || !isTrusted(peer, proxies) || header === undefined) return peer;
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!isIP(hop)) return peer; // a malformed entry: nothing to its left can be trusted
    if (!isTrusted(hop, proxies)) return hop;
  }
  return peer;
}

function isTrusted(ip: string, proxies: BlockList): boolean {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  return isIPv4(v4) ? proxies.check(v4, 'ipv4') : isIPv6(v4) && proxies.check(v4, 'ipv6');
}

export function isLoopback(ip: string | undefined): boolean {
  return !!ip && (ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.'));
}

function refuse(socket: Duplex, status: number, text: string): void {
  // node:http no longer listens for errors on an upgraded socket: a reset while we answer must not throw.
  socket.on('error', () => socket.destroy());
  const reason = status === 400 ? 'Bad Request' : status === 403 ? 'Forbidden' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
