// HTTP routes modules add to the http/https listeners (ctx.httpRoute, released on stop), and the public
// base URL of those listeners (ctx.httpBaseUrl) for links a module hands out, such as XEP-0363 upload slots.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Serves one request; `rest` is the (still percent-encoded) part of the path after the route's prefix. */
export type HttpRouteHandler = (req: IncomingMessage, res: ServerResponse, rest: string) => void | Promise<void>;

/** A bound http/https listener, as the interface layer reports it once it listens. */
export interface HttpEndpoint { tls: boolean; ip: string; port: number }

interface Route { method: string; prefix: string; handler: HttpRouteHandler }

export type RouteMatch = { handler: HttpRouteHandler; rest: string } | { allow: string[] };

export class HttpRoutes {
  private readonly routes: Route[] = [];
  /** The bound http/https listeners in configuration order (set by the listeners; none before they listen). */
  endpoints: () => HttpEndpoint[] = () => [];

  /** Serve `method` for every path under `prefix` (which starts and ends with "/"); one owner per method and prefix. */
  add(method: string, prefix: string, handler: HttpRouteHandler): () => void {
    const m = method.toUpperCase();
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`an HTTP route prefix starts and ends with "/" (got "${prefix}")`);
    if (this.routes.some((r) => r.method === m && r.prefix === prefix)) throw new Error(`HTTP route ${m} ${prefix} is already served`);
    const route: Route = { method: m, prefix, handler };
    this.routes.push(route);
    return () => {
      const i = this.routes.indexOf(route);
      if (i >= 0) this.routes.splice(i, 1);
    };
  }

  /**
   * The handler for a request (longest matching prefix), or the methods served under that prefix when the
   * request's method is not one of them (a 405 with Allow), or null when no route covers the path.
   */
  match(method: string, path: string): RouteMatch | null {
    let best: Route[] = [];
    for (const r of this.routes) {
      if (!path.startsWith(r.prefix)) continue;
      if (!best.length || r.prefix.length > best[0]!.prefix.length) best = [r];
      else if (r.prefix.length === best[0]!.prefix.length) best.push(r);
    }
    if (!best.length) return null;
    const m = method.toUpperCase();
    const hit = best.find((r) => r.method === m);
    return hit ? { handler: hit.handler, rest: path.slice(hit.prefix.length) } : { allow: best.map((r) => r.method) };
  }

  size(): number {
    return this.routes.length;
  }

  /**
   * The URL a client reaches the first http/https listener at, for `host`: https names the virtual host
   * (its certificate does); http names the listener's address, or the host when it listens on every address.
   * Null without such a listener. Behind a proxy, modules take a configured public URL instead.
   */
  baseUrl(host: string): string | null {
    const e = this.endpoints()[0];
    if (!e) return null;
    const any = e.ip === '0.0.0.0' || e.ip === '::' || e.ip === '';
    const name = e.tls || any ? host : e.ip.includes(':') ? `[${e.ip}]` : e.ip;
    const port = e.port === (e.tls ? 443 : 80) ? '' : `:${e.port}`;
    return `${e.tls ? 'https' : 'http'}://${name}${port}`;
  }
}
