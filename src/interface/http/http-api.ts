// HTTP interface: /healthz and /readyz (health.ts), Prometheus /metrics and the REST admin API (POST /api/<command> with a JSON body,
// bearer token, JSON answers, clear 4xx errors) over the same command registry as the CLI, then the routes
// modules add (src/core/http-routes.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Core } from '../../core/core.js';
import { OperatorError } from '../../core/errors.js';
import { registryOf, runAudited, CommandError, type AdminTarget, type CommandErrorKind } from '../../core/admin/commands.js';
import { HEALTH_PATHS, serveHealth } from './health.js';

const MAX_BODY = 1024 * 1024;


type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

export function httpHandler(core: Core, admin: AdminTarget) {
  const log = core.log.child({ part: 'http' });
  // Accepted tokens come from core.config on each request (a config reload swaps them); their digests are
  // recomputed only when the list changes. 'sha256:<hex>' keeps the token itself out of the config.
  let tokensSeen: string[] | null = null;
  let digests: Buffer[] = [];
  const currentDigests = (): Buffer[] => {
    const tokens = core.config.api_tokens;
    if (tokens !== tokensSeen) {
      tokensSeen = tokens;
      digests = tokens.map((t) => (t.startsWith('sha256:') ? Buffer.from(t.slice(7), 'hex') : sha256(t)));
    }
    return digests;
  };

  const authorized = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization;
    if (!h || !h.startsWith('Bearer ')) return false;
    const d = sha256(h.slice(7).trim());
    return currentDigests().some((x) => x.length === d.length && timingSafeEqual(x, d));
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send: Send = (status, body, headers = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', ...headers });
      res.end(text);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (HEALTH_PATHS.has(url.pathname)) return serveHealth(core, req, res, url.pathname);
      if (url.pathname === '/metrics') {
        if (req.method !== 'GET') return send(405, { error: 'use GET' }, { allow: 'GET' });
        const text = await core.metrics.registry.metrics();
        return send(200, text, { 'content-type': core.metrics.registry.contentType });
      }
      if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return await api(req, url.pathname.slice(5), send);
      // Routes modules add (ctx.httpRoute: XEP-0363 uploads); they answer for themselves.
      const route = core.http?.match(req.method ?? 'GET', url.pathname);
      if (route && 'handler' in route) return await route.handler(req, res, route.rest);
      if (route) return send(405, { error: `use ${route.allow.join(', ')}` }, { allow: route.allow.join(', ') });
      send(404, { error: 'not found' });
    } catch (err) {
      log.error('HTTP request failed', { err, path: url.pathname });
      if (!res.headersSent) send(500, { error: 'internal error' });
      else res.destroy(); // a body half sent cannot be taken back
    }
  };

  async function api(req: IncomingMessage, name: string, send: Send): Promise<void> {
    if (!currentDigests().length) return send(403, { error: 'the admin API is disabled: set api_tokens in the configuration' });
    const unauthorized = () => send(401, { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer realm="xmppd"' });
    // No credentials at all is not a guess; a presented one goes through the throttle (limits.auth, per address).
    if (req.headers.authorization === undefined) return unauthorized();
    const admission = core.limits.auth.begin('http', req.socket.remoteAddress ?? '');
    if (admission.refused) {
      // RFC 6585 §4: 429 with Retry-After; the token is not looked at.
      const seconds = Math.ceil(admission.retryAfterMs / 1000);
      return send(429, { error: `too many failed attempts from your address; try again in ${seconds} s` }, { 'retry-after': String(seconds) });
    }
    if (!authorized(req)) {
      const delay = admission.attempt.failed('wrong bearer token');
      if (delay > 0) await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
      return unauthorized();
    }
    admission.attempt.succeeded();
    if (name === '') {
      if (req.method !== 'GET') return send(405, { error: 'use GET' }, { allow: 'GET' });
      return send(200, { commands: registryOf(admin).list() });
    }
    const cmd = registryOf(admin).get(name); // module commands come and go: looked up per request
    if (!cmd) return send(404, { error: `unknown command "${name}"` });
    if (req.method !== 'POST') return send(405, { error: 'use POST with a JSON object body' }, { allow: 'POST' });
    let args: Record<string, unknown>;
    try {
      args = await readJson(req);
    } catch (err) {
      return send((err as HttpError).status ?? 400, { error: (err as Error).message });
    }
    const missing = cmd.args.filter((a) => !a.endsWith('?') && (args[a] === undefined || args[a] === ''));
    if (missing.length) return send(400, { error: `missing argument(s): ${missing.join(', ')}` });
    // A client that hangs up cancels long work (an import stops between two users, an export or backup
    // leaves no file); REST callers read and write files only inside admin_files_dir.
    const cancel = new AbortController();
    const onClose = () => cancel.abort();
    req.socket.once('close', onClose);
    try {
      const result = await runAudited(admin, cmd, args, { origin: 'rest', signal: cancel.signal }); // logged with its target
      send(200, { ok: true, result });
    } catch (err) {
      if (cancel.signal.aborted) return void log.info('admin API command cancelled: the client went away', { cmd: name });
      if (err instanceof CommandError) return send(STATUS_OF[err.kind], { error: err.message });
      if (err instanceof OperatorError) return send(400, { error: err.message, code: err.code });
      throw err;
    } finally {
      req.socket.off('close', onClose);
    }
  }
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new HttpError(415, 'send the arguments as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  let v: unknown;
  try {
    v = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the body must be a JSON object of arguments');
  return v as Record<string, unknown>;
}

/** Registry errors as statuses a client can act on. */
const STATUS_OF: Record<CommandErrorKind, number> = { invalid: 400, 'not-found': 404, conflict: 409, unavailable: 503 };

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
