// XEP-0114 external components: the configured component domains (`components` section), the connection that
// serves each one, the router's component route (checked before the remote branch), and the server's
// disco#items entries for connected components (XEP-0030 §4 via the disco_items hook).
import type { Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import type { Core } from '../../core/core.js';
import { StanzaError, StreamError } from '../../core/errors.js';
import type { Jid } from '../../core/jid.js';
import type { ComponentRoutes } from '../../core/router.js';
import type { DiscoItem } from '../../../hooks/index.js';
import { ComponentConnection, type ComponentHost, type ComponentInfo } from './component-connection.js';

/** Not connected: Prosody 0.12 answers the same (mod_component: wait/remote-server-timeout "Component unavailable"). */
const NOT_CONNECTED = 'remote-server-timeout' as const;

export class ComponentRegistry implements ComponentHost, ComponentRoutes {
  /** Authenticated connection per component domain. */
  private readonly connected = new Map<string, ComponentConnection>();
  /** Every open connection, authenticated or not (for shutdown). */
  private readonly connections = new Set<ComponentConnection>();
  private readonly releaseDisco: () => void;
  private stopping = false;

  constructor(readonly core: Core) {
    // The server's disco#items lists the connected components (ejabberd and Prosody list them too): under
    // the host they are a subdomain of, or under every host when they are a subdomain of none.
    this.releaseDisco = core.hooks.on('disco_items', (items, ctx) => {
      if (items === null || ctx.target !== 'server' || ctx.node !== undefined) return undefined;
      const mine = [...this.connected.keys()].filter((d) => this.listedUnder(d, ctx.host));
      if (!mine.length) return undefined;
      return [...items, ...mine.sort().map((jid): DiscoItem => ({ jid }))];
    }, 40, 'component');
  }

  private listedUnder(domain: string, host: string): boolean {
    if (domain.endsWith(`.${host}`)) return true;
    return !this.core.config.hosts.some((h) => domain.endsWith(`.${h}`));
  }

  // ---- the router's component route ----------------------------------------------------------------------

  /** A configured component domain, connected or not. */
  has(domain: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.core.config.components, domain);
  }

  /** Deliver to the connected component, else bounce (never silently). */
  route = async (el: Element, from: Jid, to: Jid): Promise<void> => {
    const conn = this.connected.get(to.domain);
    if (conn && !conn.isEnded()) return conn.deliver(el, from, to);
    this.core.router.bounce(el, from, to, new StanzaError(NOT_CONNECTED, `the component ${to.domain} is not connected`));
  };

  // ---- connections ---------------------------------------------------------------------------------------

  secretOf(domain: string): string | undefined {
    return this.has(domain) ? this.core.config.components[domain]!.secret : undefined;
  }

  register(conn: ComponentConnection): boolean {
    const holder = this.connected.get(conn.domain);
    if (holder && !holder.isEnded()) return false;
    this.connected.set(conn.domain, conn);
    return true;
  }

  ended(conn: ComponentConnection): void {
    this.connections.delete(conn);
    if (this.connected.get(conn.domain) === conn) this.connected.delete(conn.domain);
    this.core.metrics.connections.dec({ type: 'component' });
  }

  /** A TCP connection on a `component` listener. */
  accept(sock: Socket): void {
    if (this.stopping) {
      sock.destroy();
      return;
    }
    this.core.metrics.connectionsTotal.inc({ type: 'component' });
    this.core.metrics.connections.inc({ type: 'component' });
    const conn = new ComponentConnection(sock, this);
    this.connections.add(conn);
  }

  /** Connected components (admin and status). */
  list(): ComponentInfo[] {
    return [...this.connected.values()].map((c) => c.info());
  }

  /** Shutdown: system-shutdown on every component stream (RFC 6120 §4.9.3.19). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.releaseDisco();
    const all = [...this.connections];
    for (const c of all) c.close(new StreamError('system-shutdown', 'the server is shutting down'));
    const deadline = Date.now() + 2500;
    while (all.some((c) => !c.isEnded()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}
