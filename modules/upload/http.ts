// The HTTP side of XEP-0363 (§6-7): PUT stores a slot's file (signature, expiry, exact length and type
// checked before a byte is written; streamed to storage), GET/HEAD serve it with its type, ranges (RFC 9110
// §14), validators and safe headers; CORS (with OPTIONS preflight) for web clients.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ModuleContext } from '../../src/sdk.js';
import type { Signer } from './signing.js';
import type { Ledger } from './ledger.js';
import { SizeMismatchError, type FileStore } from './storage.js';
import { mediaType, typeAllowed } from './slot.js';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, PUT, OPTIONS',
  'access-control-allow-headers': 'Content-Type',
  'access-control-expose-headers': 'Content-Length, Content-Range, ETag',
};
/** Silence that long ends a download (a reader that stopped reading); uploads follow limits.http_request_timeout. */
const IDLE_MS = 60_000;

export interface HttpSide {
  store: FileStore;
  signer: Signer;
  ledger: Ledger;
  allowedTypes: string[];
  quota: number;
  /** Seconds a file lives (0: for ever). */
  expireAfter: number;
  uploaded(bytes: number): void;
  /** In a cluster: wait until this node has applied every write so far (a file uploaded through another node). */
  catchUp?: () => Promise<void>;
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { ...CORS, 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${text}\n`);
}

/** `<token>/<name>` of a URL path: the file id (null when the token is not this server's) and the name. */
function target(s: HttpSide, rest: string): { id: string; name: string } | null {
  const parts = rest.split('/');
  if (parts.length !== 2) return null;
  const id = s.signer.idOf(parts[0]!);
  if (!id) return null;
  try {
    return { id, name: decodeURIComponent(parts[1]!) };
  } catch {
    return null;
  }
}

export function preflight(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(204, { ...CORS, 'access-control-max-age': '86400' });
  res.end();
}

export function putHandler(ctx: ModuleContext<any>, s: HttpSide) {
  return async (req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> => {
    // Refusals come before the body is read: close the connection rather than read it all.
    const refuse = (status: number, text: string) => answer(res, status, text, { connection: 'close' });
    const t = target(s, rest);
    const claims = t && s.signer.verifyPut(t.id, t.name, new URL(req.url ?? '/', 'http://x').searchParams);
    if (!t || !claims) return refuse(403, 'this upload URL is not valid');
    if (claims.exp * 1000 < Date.now()) return refuse(403, 'this upload URL has expired; request a new slot');
    const length = req.headers['content-length'];
    if (length === undefined) return refuse(411, `send the file with Content-Length: ${claims.size}`);
    if (Number(length) !== claims.size) return refuse(Number(length) > claims.size ? 413 : 400, `the slot is for exactly ${claims.size} bytes`);
    const sent = mediaType(req.headers['content-type']) ?? (req.headers['content-type'] === undefined ? '' : null);
    let type = claims.type;
    if (type) {
      if (sent !== type) return refuse(415, `the slot is for Content-Type: ${type}`);
    } else {
      if (sent === null) return refuse(415, 'Content-Type is not a media type');
      type = sent || 'application/octet-stream';
      if (!typeAllowed(type, s.allowedTypes)) return refuse(415, `files of type ${type} are not accepted here`);
    }
    if (await s.store.stat(t.id)) return refuse(409, 'this slot has been used');
    if (s.quota > 0 && (await s.ledger.usageOf(claims.owner)).bytes + claims.size > s.quota) return refuse(413, 'quota reached');
    // A body that stalls is closed by the listener (limits.http_request_timeout of silence); put() then keeps nothing.
    try {
      await s.store.put(t.id, req, { name: t.name, type, size: claims.size, created: Date.now() });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return refuse(409, 'this slot is being used');
      if (err instanceof SizeMismatchError || req.destroyed) return refuse(400, `the body was not ${claims.size} bytes`);
      throw err;
    }
    // Recorded (and counted against the quota) before the client hears of it.
    if (!(await s.ledger.add(t.id, claims.owner, claims.size, s.quota))) {
      await s.store.delete(t.id);
      return answer(res, 413, 'quota reached');
    }
    s.uploaded(claims.size);
    ctx.log.debug('file uploaded', { id: t.id, size: claims.size });
    answer(res, 201, 'created');
  };
}

/** A single "bytes=" range of a file of `size` bytes: the range, 'unsatisfiable', or null (serve it all). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // absent, several ranges or another unit: ignored (RFC 9110 §14.2)
  let start: number, end: number;
  if (m[1] === '') {
    const n = Number(m[2]); // the last n bytes
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignored
  }
  return start >= size ? 'unsatisfiable' : { start, end };
}

/** Content-Disposition: images are shown, anything else (scripts, HTML, SVG) is downloaded. */
function disposition(type: string, name: string): string | null {
  const inline = type.startsWith('image/') && type !== 'image/svg+xml';
  if (inline) return null;
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export function getHandler(s: HttpSide) {
  return async (req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> => {
    const t = target(s, rest);
    // Only a link this server signed may wait for the replica to catch up.
    const known = t && ((await s.ledger.has(t.id)) || (s.catchUp && (await s.catchUp(), await s.ledger.has(t.id))));
    const meta = t && known ? await s.store.stat(t.id) : null;
    const expired = meta && s.expireAfter > 0 && meta.created + s.expireAfter * 1000 <= Date.now();
    if (!t || !meta || meta.name !== t.name || expired) return answer(res, 404, 'no such file');
    const etag = `"${t.id}"`;
    const headers: Record<string, string> = {
      ...CORS,
      'content-type': meta.type,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'accept-ranges': 'bytes',
      etag,
      'last-modified': new Date(meta.created).toUTCString(),
    };
    const disp = disposition(meta.type, meta.name);
    if (disp) headers['content-disposition'] = disp;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, meta.size) : null;
    if (range === 'unsatisfiable') return answer(res, 416, 'range not satisfiable', { 'content-range': `bytes */${meta.size}` });
    const status = range ? 206 : 200;
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${meta.size}`;
    headers['content-length'] = String(range ? range.end - range.start + 1 : meta.size);
    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      return void res.end();
    }
    const file = await s.store.get(t.id, range ?? undefined);
    if (!file) return answer(res, 404, 'no such file');
    res.writeHead(status, headers);
    res.setTimeout(IDLE_MS, () => res.destroy());
    try {
      await pipeline(file.stream, res);
    } catch {
      // the client went away: nothing to answer
    }
  };
}
