// Listeners of the interface layer: c2s and s2s on TCP with STARTTLS (RFC 6120 §5) and over direct TLS
// (XEP-0368, ALPN "xmpp-client" / "xmpp-server"), XEP-0114 components. Tracks live c2s connections for status
// and shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Core } from '../core/core.js';
import type { ListenerConfig } from '../core/config/types.js';
import { ConfigError } from '../core/config/load-config.js';
import { StreamError } from '../core/errors.js';
import type { TlsContexts } from './tls/tls-contexts.js';
import { C2SConnection } from './c2s/c2s-connection.js';
import type { S2SManager } from './s2s/s2s-manager.js';
import type { ComponentRegistry } from './component/component-registry.js';
import { createServer as createHttpServer } from 'node:http';
import { httpHandler } from './http/http-api.js';

export interface BoundListener { type: string; ip: string; port: number }

export class Listeners {
  private readonly servers: Server[] = [];
  readonly bound: BoundListener[] = [];
  readonly connections = new Set<C2SConnection>();

  constructor(
    private readonly core: Core,
    private readonly tls: TlsContexts,
    private readonly s2s: S2SManager | null = null,
    private readonly components: ComponentRegistry | null = null,
  ) {}

  async start(configs: ListenerConfig[]): Promise<void> {
    for (const [i, cfg] of configs.entries()) {
      const server = this.createServer(cfg, i);
      if (cfg.type === 'c2s_tls' || cfg.type === 's2s_tls') {
        server.on('tlsClientError', (err: Error) => this.core.log.debug('TLS handshake failed', { err: err.message, type: cfg.type }));
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new ConfigError(this.core.config.path, `listen[${i}]`, `cannot listen on [${cfg.ip}]:${cfg.port}: ${err.code ?? err.message}`)));
        server.listen({ port: cfg.port, host: cfg.ip, backlog: 4096 }, () => resolve());
      });
      server.on('error', (err) => this.core.log.error('listener error', { err, type: cfg.type }));
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
      this.servers.push(server);
      this.bound.push({ type: cfg.type, ip: cfg.ip, port });
      this.core.log.info('listening', { type: cfg.type, ip: cfg.ip, port });
    }
  }

  private createServer(cfg: ListenerConfig, i: number): Server {
    switch (cfg.type) {
      case 'c2s':
        return createServer((sock) => this.accept(sock, cfg, false));
      case 'c2s_tls':
        return createTlsServer({
          ...this.tls.serverOptions(),
          ALPNProtocols: ['xmpp-client'],
          // a handshake left half done must not hold a socket for Node's default 120 s
          handshakeTimeout: this.core.config.c2s_negotiation_timeout * 1000,
        }, (sock) => this.accept(sock, cfg, true));
      case 's2s':
      case 's2s_tls': {
        const s2s = this.s2s;
        if (!s2s || !this.core.config.s2s.enabled) {
          throw new ConfigError(this.core.config.path, `listen[${i}].type`, `an ${cfg.type} listener needs federation (s2s.enabled is false)`);
        }
        if (cfg.type === 's2s') return createServer((sock) => s2s.acceptInbound(sock, { starttlsRequired: cfg.starttls_required, directTls: false }));
        return createTlsServer({
          ...s2s.tls.serverOptions(),
          ALPNProtocols: ['xmpp-server'],
          handshakeTimeout: this.core.config.s2s.connect_timeout * 1000,
        }, (sock) => s2s.acceptInbound(sock, { starttlsRequired: true, directTls: true }));
      }
      case 'component': {
        // XEP-0114 jabber:component:accept (plaintext: keep it on loopback or a private network)
        const components = this.components;
        if (!components) throw new ConfigError(this.core.config.path, `listen[${i}].type`, 'a component listener needs at least one entry under components');
        return createServer((sock) => components.accept(sock));
      }
      case 'http':
        // /metrics and the REST admin API; put it on loopback or behind a TLS-terminating proxy.
        return createHttpServer(httpHandler(this.core, this.core.admin ?? { core: this.core }));
      default:
        throw new ConfigError(this.core.config.path, `listen[${i}].type`, `"${cfg.type}" listeners are not available in this version (c2s, c2s_tls, s2s, s2s_tls, http, component)`);
    }
  }

  private accept(sock: Socket | TLSSocket, cfg: ListenerConfig, directTls: boolean): void {
    this.core.metrics.connectionsTotal.inc({ type: cfg.type });
    this.core.metrics.connections.inc({ type: cfg.type });
    const conn = new C2SConnection(sock, {
      core: this.core,
      tls: this.tls,
      starttlsRequired: cfg.starttls_required,
      directTls,
      listenerType: cfg.type,
      onClose: (c) => {
        if (this.connections.delete(c)) this.core.metrics.connections.dec({ type: cfg.type });
      },
    });
    this.connections.add(conn);
  }

  /** Stop accepting, then end every stream with system-shutdown (RFC 6120 §4.9.3.19). */
  async stop(): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const c of [...this.connections]) c.close(new StreamError('system-shutdown', 'the server is shutting down'));
    const s2s = this.s2s?.stop() ?? Promise.resolve();
    const components = this.components?.stop() ?? Promise.resolve();
    await Promise.race([Promise.all([...closing, s2s, components]), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}
