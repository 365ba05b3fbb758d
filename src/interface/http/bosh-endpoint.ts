// The BOSH connection manager of an http/https listener (XEP-0124, XEP-0206): POSTed <body/> wrappers are read
// (at most max_stanza_size plus the wrapper), checked and handed to their session by 'sid'; a session creation
// request makes a BoshSession and a c2s stream over it. CORS (§4 of the Fetch standard) for web pages.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parse } from 'ltx';
import type { Element } from '@xmpp/xml';
import type { Core } from '../../core/core.js';
import type { BoshConfig } from '../../core/config/bosh-config.js';
import { BoshSession, NS_HTTPBIND, NS_XBOSH, terminateBody } from './bosh-session.js';
import { isLoopback } from './websocket-endpoint.js';

/** Room for the <body/> wrapper around a payload of max_stanza_size. */
const WRAPPER_SLACK = 4096;
/** XEP-0124 §6: the protocol version this manager speaks. */
const VERSION = '1.11';

export interface AcceptedBosh {
  session: BoshSession;
  secure: boolean;
}

export class BoshEndpoint {
  private readonly sessions = new Map<string, BoshSession>();

  constructor(
    private readonly core: Core,
    private readonly cfg: BoshConfig,
    private readonly tls: boolean,
    private readonly accept: (s: AcceptedBosh) => void,
  ) {}

  serves(pathname: string): boolean {
    return this.cfg.enabled && pathname === this.cfg.path;
  }

  get count(): number {
    return this.sessions.size;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (this.cfg.origins && !this.cfg.origins.includes(origin)) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('this origin may not use this BOSH service\n');
        req.resume();
        return;
      }
      res.setHeader('access-control-allow-origin', this.cfg.origins ? origin : '*');
      if (this.cfg.origins) res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'Content-Type',
        'access-control-max-age': '86400',
      }).end();
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('XMPP over BOSH (XEP-0124, XEP-0206): POST <body/> elements here\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST, OPTIONS' }).end();
      return;
    }
    const max = this.core.config.max_stanza_size + WRAPPER_SLACK;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // §17.2 policy-violation; the connection is closed rather than read to its end.
        const body = terminateBody('policy-violation');
        res.writeHead(413, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size <= max) this.body(Buffer.concat(chunks), req, res);
    });
  }

  private body(bytes: Buffer, req: IncomingMessage, res: ServerResponse): void {
    let el: Element;
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      // ltx skips comments, processing instructions and DOCTYPEs: XMPP forbids them (RFC 6120 §11.1).
      if (/<!--|<!DOCTYPE|<\?(?!xml[\s?])/i.test(text)) throw new Error('restricted XML');
      el = parse(text);
    } catch {
      return badRequest(res);
    }
    const a = el.attrs as Record<string, string | undefined>;
    if (el.name !== 'body' || a.xmlns !== NS_HTTPBIND || !a.rid || !/^\d{1,16}$/.test(a.rid)) return badRequest(res);
    const rid = Number(a.rid);
    if (!Number.isSafeInteger(rid)) return badRequest(res);
    if (a.sid === undefined) return this.create(el, rid, req, res);
    const session = this.sessions.get(a.sid);
    if (!session) return send(res, terminateBody('item-not-found')); // §17.2: an unknown or expired sid
    const payload = (el.children as Array<Element | string>)
      .filter((c): c is Element => typeof c !== 'string')
      .map((c) => Buffer.from(c.toString()));
    let pause: number | null = null;
    if (a.pause !== undefined) {
      pause = /^\d{1,6}$/.test(a.pause) ? Number(a.pause) : NaN;
      if (Number.isNaN(pause)) return badRequest(res);
    }
    session.request(rid, payload, { restart: a['xmpp:restart'] === 'true', terminate: a.type === 'terminate', pause }, res);
  }

  /** §7.1 and XEP-0206 §3: a new session with the client's parameters, bounded by ours. */
  private create(el: Element, rid: number, req: IncomingMessage, res: ServerResponse): void {
    const a = el.attrs as Record<string, string | undefined>;
    const to = (a.to ?? '').toLowerCase();
    const wait = Number(a.wait ?? NaN);
    const hold = Number(a.hold ?? NaN);
    if (!Number.isInteger(wait) || wait < 0 || !Number.isInteger(hold) || hold < 0) return badRequest(res);
    if (!to) return badRequest(res);
    if (!this.core.config.hosts.includes(to)) return send(res, terminateBody('host-unknown'));
    // XEP-0206 §3: xmpp:version names the XMPP version; without it the client does not speak XMPP 1.0 over BOSH.
    const xmppVersion = Object.entries(a).find(([k, v]) => k.endsWith(':version') && v !== undefined && el.attrs[`xmlns:${k.split(':')[0]}`] === NS_XBOSH);
    if (!xmppVersion) return badRequest(res);
    const peer = req.socket.remoteAddress;
    // A BOSH session is a c2s connection: it counts against limits.max_connections_per_ip like a TCP one.
    const slot = this.core.limits.openListenerConnection('c2s', peer ?? '');
    if (slot.refusal) return send(res, terminateBody('policy-violation'));
    const sid = randomBytes(18).toString('base64url');
    const secure = this.tls || this.cfg.consider_secure || isLoopback(peer);
    const session = new BoshSession({
      sid,
      rid,
      to,
      lang: a['xml:lang'],
      wait: Math.min(wait, this.cfg.max_wait),
      hold: Math.min(hold, this.cfg.max_hold), // 0: polling, every request is answered at once
      inactivity: this.cfg.inactivity,
      maxPause: this.cfg.max_pause,
      ver: minVersion(a.ver),
      secure,
    }, peer, (s) => {
      this.sessions.delete(s.sid);
      slot.release();
    });
    this.sessions.set(sid, session);
    this.accept({ session, secure });
    session.start(res);
  }

  /** The server stops: sessions end with their streams (the c2s close path); nothing is left here. */
  clear(): void {
    this.sessions.clear();
  }
}

function minVersion(ver: string | undefined): string {
  const m = ver ? /^(\d+)\.(\d+)$/.exec(ver) : null;
  if (!m) return VERSION;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj < 1 || (maj === 1 && min < 11) ? `${maj}.${min}` : VERSION;
}

function badRequest(res: ServerResponse): void {
  send(res, terminateBody('bad-request'));
}

function send(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
}
