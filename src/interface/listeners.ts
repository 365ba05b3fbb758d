// Listeners of the interface layer: c2s and s2s on TCP with STARTTLS (RFC 6120 §5) and over direct TLS
// (XEP-0368, ALPN "xmpp-client" / "xmpp-server"), XEP-0114 components, HTTP and HTTPS (/metrics, admin API,
// XMPP over WebSocket, BOSH and XEP-0156 discovery).
// Every listener accepts plain TCP and passes each connection through a ConnectionGate (per-address count,
// TLS handshake deadline) before TLS or the protocol sees it. Tracks live c2s connections for status and shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Core } from '../core/core.js';
import type { ListenerConfig } from '../core/config/types.js';
import { ConfigError } from '../core/config/load-config.js';
import { StreamError } from '../core/errors.js';
import type { TlsContexts } from './tls/tls-contexts.js';
import { C2SConnection } from './c2s/c2s-connection.js';
import type { S2SManager } from './s2s/s2s-manager.js';
import type { ComponentRegistry } from './component/component-registry.js';
import { httpHandler } from './http/http-api.js';
import { ConnectionGate } from './connection-gate.js';
import type { StreamTransport } from './stream/transport.js';
import { WebSocketEndpoint, type AcceptedWebSocket } from './http/websocket-endpoint.js';
import { hostMetaHandler } from './http/host-meta.js';
import { BoshEndpoint } from './http/bosh-endpoint.js';
import { afterClientHello } from './tls/after-client-hello.js';

export interface BoundListener { type: string; ip: string; port: number }

export class Listeners {
  private readonly servers: Server[] = [];
  /** The TCP servers of http/https listeners (health, metrics and the admin API stay up during a drain). */
  private readonly webServers: Server[] = [];
  private readonly httpServers: HttpServer[] = [];
  /** No new XMPP stream is accepted (a drain or a shutdown is under way). */
  private stopping = false;
  /** HTTP connections are refused too (the end of a shutdown). */
  private httpStopped = false;
  /** End-of-session work of the connections a shutdown closed (C2SConnection.closing). */
  private readonly sessionsEnding: Promise<void>[] = [];
  private allClosed: (() => void) | null = null;
  readonly bound: BoundListener[] = [];
  readonly connections = new Set<C2SConnection>();

  constructor(
    private readonly core: Core,
    private readonly tls: TlsContexts,
    private readonly s2s: S2SManager | null = null,
    private readonly components: ComponentRegistry | null = null,
  ) {}

  async start(configs: ListenerConfig[]): Promise<void> {
    // Where modules' HTTP routes are reached (ctx.httpBaseUrl): the bound http/https listeners.
    if (this.core.http) {
      this.core.http.endpoints = () => this.bound.filter((b) => b.type === 'http' || b.type === 'https').map((b) => ({ tls: b.type === 'https', ip: b.ip, port: b.port }));
    }
    for (const [i, cfg] of configs.entries()) {
      const gate = new ConnectionGate(this.core, cfg.type);
      const serve = this.protocol(cfg, i, gate);
      const server = createServer((raw) => gate.admit(raw, serve));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new ConfigError(this.core.config.path, `listen[${i}]`, `cannot listen on [${cfg.ip}]:${cfg.port}: ${err.code ?? err.message}`)));
        server.listen({ port: cfg.port, host: cfg.ip, backlog: 4096 }, () => resolve());
      });
      server.on('error', (err) => this.core.log.error('listener error', { err, type: cfg.type }));
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
      // HTTP listeners close last: /readyz answers 503 while the node drains (health.ts).
      (cfg.type === 'http' || cfg.type === 'https' ? this.webServers : this.servers).push(server);
      this.bound.push({ type: cfg.type, ip: cfg.ip, port });
      this.core.log.info('listening', { type: cfg.type, ip: cfg.ip, port });
    }
  }

  /** What serves an admitted TCP connection of a listener: the stream code, or TLS first and then it. */
  private protocol(cfg: ListenerConfig, i: number, gate: ConnectionGate): (raw: Socket) => void {
    switch (cfg.type) {
      case 'c2s':
        return (sock) => this.accept(sock, cfg, false);
      case 'c2s_tls': {
        const server = createTlsServer({ ...this.tls.serverOptions(), ALPNProtocols: ['xmpp-client'] }, (sock) => this.accept(sock, cfg, true));
        this.tls.follow(server); // a renewed certificate is served to the next connection
        return this.overTls(server, cfg, gate);
      }
      case 's2s':
      case 's2s_tls': {
        const s2s = this.s2s;
        if (!s2s || !this.core.config.s2s.enabled) {
          throw new ConfigError(this.core.config.path, `listen[${i}].type`, `an ${cfg.type} listener needs federation (s2s.enabled is false)`);
        }
        if (cfg.type === 's2s') return (sock) => s2s.acceptInbound(sock, { starttlsRequired: cfg.starttls_required, directTls: false });
        const server = createTlsServer({ ...s2s.tls.serverOptions(), ALPNProtocols: ['xmpp-server'] },
          (sock) => s2s.acceptInbound(sock, { starttlsRequired: true, directTls: true }));
        s2s.tls.follow(server);
        return this.overTls(server, cfg, gate);
      }
      case 'component': {
        // XEP-0114 jabber:component:accept (plaintext: keep it on loopback or a private network)
        const components = this.components;
        if (!components) throw new ConfigError(this.core.config.path, `listen[${i}].type`, 'a component listener needs at least one entry under components');
        return (sock) => components.accept(sock);
      }
      case 'http': {
        // /metrics and the REST admin API; put it on loopback or behind a TLS-terminating proxy, or use https.
        const server = this.boundHttp(createHttpServer(this.webHandler(cfg, false)), cfg);
        this.webSocket(server, cfg, false);
        return (sock) => {
          this.httpTimeouts(server);
          this.handOver(server, sock, true);
        };
      }
      case 'https': {
        // The same over TLS with the certificates of the `tls` settings (SNI per host as for c2s).
        const server = this.boundHttp(createHttpsServer(this.tls.serverOptions(), this.webHandler(cfg, true)), cfg);
        this.tls.follow(server);
        this.webSocket(server, cfg, true);
        const serve = this.overTls(server, cfg, gate, true);
        return (sock) => {
          this.httpTimeouts(server);
          serve(sock);
        };
      }
      default:
        throw new ConfigError(this.core.config.path, `listen[${i}].type`, `"${cfg.type}" listeners are not available in this version (c2s, c2s_tls, s2s, s2s_tls, http, https, component)`);
    }
  }

  /** HTTP requests: XEP-0156 host-meta, BOSH, a plain GET on the WebSocket path, then /metrics and the admin API. */
  private webHandler(cfg: ListenerConfig, tls: boolean): (req: IncomingMessage, res: ServerResponse) => void {
    const api = httpHandler(this.core, this.core.admin ?? { core: this.core });
    const hostMeta = hostMetaHandler(this.core, cfg.websocket, tls, cfg.bosh);
    const wsPath = cfg.websocket?.enabled ? cfg.websocket.path : null;
    const bosh = this.bosh(cfg, tls);
    return (req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (hostMeta(req, res, pathname)) return;
      if (bosh?.serves(pathname)) return bosh.handle(req, res);
      if (pathname === wsPath) {
        res.writeHead(426, { upgrade: 'websocket', connection: 'Upgrade', 'content-type': 'text/plain; charset=utf-8' }).end('XMPP over WebSocket: connect with the xmpp subprotocol (RFC 7395)\n');
        return;
      }
      void api(req, res);
    };
  }

  /** XMPP over BOSH on an http/https listener (XEP-0206): each session is a c2s stream like TCP. */
  private bosh(cfg: ListenerConfig, tls: boolean): BoshEndpoint | null {
    if (!cfg.bosh?.enabled) return null;
    const type = `${cfg.type}_bosh`; // the metrics' transport label: http_bosh, https_bosh
    return new BoshEndpoint(this.core, cfg.bosh, tls, ({ session, secure }) => {
      if (this.stopping) return session.destroy();
      this.accept(session, { ...cfg, starttls_required: false }, false, { type, secure, starttls: false });
    });
  }

  /** XMPP over WebSocket on an http/https listener (RFC 7395): each connection is a c2s stream like TCP. */
  private webSocket(server: HttpServer, cfg: ListenerConfig, tls: boolean): void {
    const ws = cfg.websocket;
    if (!ws?.enabled) return;
    const type = `${cfg.type}_websocket`; // the metrics' transport label: http_websocket, https_websocket
    const endpoint = new WebSocketEndpoint(this.core, ws, tls, ({ transport, secure, tlsSocket }: AcceptedWebSocket) => {
      if (this.stopping) return transport.destroy();
      this.accept(transport, { ...cfg, starttls_required: false }, false, { type, secure, starttls: false, ...(tlsSocket ? { tlsSocket } : {}) });
    });
    server.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => endpoint.upgrade(req, sock, head));
  }

  /**
   * A tls.Server that never listens itself: admitted sockets are handed to it. A failed handshake is
   * logged and its socket destroyed (node:tls only reports it, and leaves the socket open).
   */
  private overTls(server: TlsServer, cfg: ListenerConfig, gate: ConnectionGate, web = false): (raw: Socket) => void {
    server.on('secureConnection', (sock: TLSSocket) => gate.handshakeDone(sock));
    server.on('tlsClientError', (err: Error, sock: TLSSocket) => {
      this.core.log.debug('TLS handshake failed', { err: err.message, type: cfg.type });
      sock.destroy();
    });
    // Handed over once the ClientHello is read (after-client-hello.ts): node:tls then keeps a ~1 KiB input
    // buffer for the connection's life instead of 64 KiB. A socket gone before is the gate's to count.
    return (raw) => afterClientHello(raw, () => this.handOver(server, raw, web), () => {});
  }

  /** limits.http_request_timeout as it is now (a reloaded configuration applies from the next connection on). */
  private httpTimeouts(server: HttpServer): void {
    const ms = this.core.config.limits.http_request_timeout * 1000;
    if (server.timeout === ms) return;
    server.timeout = ms; // no byte for this long (before, between or inside requests): closed
    server.headersTimeout = ms;
    // No bound on a whole request: an upload body (XEP-0363 PUT) may take minutes. A body that stalls is
    // closed by the idle timeout above (boundHttp), the head by headersTimeout.
    server.requestTimeout = 0;
  }

  private handOver(server: TlsServer | HttpServer, raw: Socket, web = false): void {
    if (web ? this.httpStopped : this.stopping) {
      raw.destroy();
      return;
    }
    server.emit('connection', raw);
  }

  /** HTTP(S) on a connection: a request must come within limits.http_request_timeout (Node's default waits forever). */
  private boundHttp<T extends HttpServer>(server: T, cfg: ListenerConfig): T {
    this.httpTimeouts(server);
    // A request being answered (a long admin command) is not idle, whatever its socket says; one whose
    // body has not all arrived yet is.
    const answering = new Map<Socket, IncomingMessage>();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      answering.set(req.socket, req);
      res.once('close', () => answering.delete(req.socket));
    });
    server.on('timeout', (sock: Socket) => {
      if (answering.get(sock)?.complete) return;
      this.core.limits.violation('http_request_timeout');
      this.core.log.debug('HTTP connection idle for too long', { type: cfg.type, ip: sock.remoteAddress });
      sock.destroy();
    });
    this.httpServers.push(server);
    return server;
  }

  private accept(sock: Socket | TLSSocket | StreamTransport, cfg: ListenerConfig, directTls: boolean, web?: { type: string; secure: boolean; starttls: false; tlsSocket?: TLSSocket }): void {
    const type = web?.type ?? cfg.type;
    this.core.metrics.connectionsTotal.inc({ type });
    this.core.metrics.connections.inc({ type });
    const conn = new C2SConnection(sock, {
      core: this.core,
      tls: this.tls,
      starttlsRequired: cfg.starttls_required,
      directTls,
      ...(web ? { secure: web.secure, starttls: web.starttls, ...(web.tlsSocket ? { tlsSocket: web.tlsSocket } : {}) } : {}),
      listenerType: type,
      onClose: (c) => {
        if (this.connections.delete(c)) this.core.metrics.connections.dec({ type });
        if (this.stopping) {
          this.sessionsEnding.push(c.closing);
          if (this.connections.size === 0) this.allClosed?.();
        }
      },
    });
    this.connections.add(conn);
  }

  /**
   * Stop accepting XMPP streams, then end every client stream with `shutdown` (system-shutdown unless the
   * caller gives see-other-host, RFC 6120 §4.9.3.19) and wait for the sessions' end-of-session work. The
   * HTTP listeners keep answering (/readyz says 503) until closeHttp().
   */
  async stop(shutdown: (c: C2SConnection) => StreamError = () => new StreamError('system-shutdown', 'the server is shutting down')): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const c of [...this.connections]) c.close(shutdown(c));
    const s2s = this.s2s?.stop() ?? Promise.resolve();
    const components = this.components?.stop() ?? Promise.resolve();
    await Promise.race([Promise.all([...closing, s2s, components]), new Promise((r) => setTimeout(r, 3000).unref())]);
    // Streams end when the peer answers with its closing tag or the linger runs out (RFC 6120 §4.4); the
    // sessions they carried still write (last activity, presence) after that. Let both finish before the
    // modules stop and the store closes, within the same bound.
    const deadline = new Promise((r) => setTimeout(r, 3000).unref());
    const allClosed = this.connections.size === 0 ? Promise.resolve() : new Promise<void>((r) => { this.allClosed = r; });
    await Promise.race([allClosed, deadline]);
    await Promise.race([Promise.all(this.sessionsEnding), deadline]);
  }

  /** The last step of a shutdown: the HTTP listeners stop too (after stop()). */
  async closeHttp(): Promise<void> {
    this.stopping = true;
    this.httpStopped = true;
    const closing = this.webServers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const h of this.httpServers) h.closeAllConnections();
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}
