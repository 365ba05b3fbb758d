// Liveness and readiness for orchestrators (Kubernetes probes, load balancer checks): GET /healthz answers 200
// while the event loop runs; GET /readyz answers 200 or 503 with the reasons of core.readiness (src/core/readiness.ts).
// No authentication: nothing in them is secret (check names and reasons only).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../../core/core.js';

export const HEALTH_PATHS = new Set(['/healthz', '/readyz']);

/** Answer a health request (the caller checked the path is one of HEALTH_PATHS). */
export function serveHealth(core: Core, req: IncomingMessage, res: ServerResponse, path: string): void {
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    // Never cached: a probe must see the state now.
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ error: 'use GET' }));
  }
  if (path === '/healthz') return send(200, { alive: true });
  const state = core.readiness?.state() ?? { ready: true, reasons: {} };
  if (state.ready) return send(200, { ready: true });
  send(503, { ready: false, reasons: state.reasons });
}
