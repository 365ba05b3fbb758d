// One BOSH session (XEP-0124 with XEP-0206) as a StreamTransport under a c2s stream: request ids (§14) with a
// window, a response cache for replays and a buffer for requests that arrive early, held requests (§11) answered
// with what the server queued (several stanzas per response) or empty when 'wait' runs out, inactivity (§7.1)
// and pause (§10). Payloads go to the one stream parser; the session creation and xmpp:restart stand for the
// stream headers (XEP-0206 §3, §5), the closing tag for type='terminate'. It frames bytes, nothing more.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { escapeXML } from '@xmpp/xml';
import { NS } from '../../core/ns.js';
import type { StreamError } from '../../core/errors.js';
import type { HeaderAttrs } from '../stream/stream-header.js';
import type { StreamFraming, StreamTransport } from '../stream/transport.js';
import { withNamespaces } from './websocket-transport.js';

export const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const NS_XBOSH = 'urn:xmpp:xbosh';
const CLOSE = '</stream:stream>';
const BODY_OPEN = `<body xmlns='${NS_HTTPBIND}' xmlns:stream='${NS.STREAM}'`;

/** A terminal binding condition (XEP-0124 §17.2) as the body that reports it. */
export const terminateBody = (condition: string, inner = ''): string =>
  inner ? `${BODY_OPEN} type='terminate' condition='${condition}'>${inner}</body>` : `${BODY_OPEN} type='terminate' condition='${condition}'/>`;
const EMPTY = `${BODY_OPEN}/>`;

/** What the client asked for at creation, bounded by the configuration (XEP-0124 §7.1). */
export interface BoshParams {
  sid: string;
  rid: number;
  to: string;
  lang: string | undefined;
  wait: number;
  hold: number;
  inactivity: number;
  maxPause: number;
  ver: string;
  secure: boolean;
}

interface Held {
  rid: number;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

export class BoshSession extends EventEmitter implements StreamTransport {
  readonly framing: StreamFraming;
  onFramingError: ((err: StreamError) => void) | null = null;
  /** The last rid whose payload went to the stream (§14.2). */
  private lastRid: number;
  private readonly held: Held[] = [];
  /** Requests that came early (a gap below them), with their payloads: handled when the gap is filled. */
  private readonly early = new Map<number, { payload: Buffer[]; res: ServerResponse }>();
  /** The answers to the last `requests` rids, for a client that sends one again (§14.3). */
  private readonly cache = new Map<number, string>();
  private queue: string[] = [];
  private queuedChars = 0;
  /** The creation response is the first answer: it carries the session's attributes (§7.1). */
  private created = false;
  private streamFrom = '';
  private authid = '';
  private corked = 0;
  private paused = false;
  private pausedData: Buffer[] = [];
  private inactivityTimer: NodeJS.Timeout | null = null;
  /** Seconds without a request before the session ends: 'inactivity', or a client's pause (§10). */
  private idleLimit: number;
  private closed = false;
  /** SASL succeeded and the client's restart has not come yet. */
  private restartDue = false;
  /** The body the last answer of an ended session carries; given to a request that comes after. */
  private finalBody: string | null = null;

  constructor(readonly params: BoshParams, readonly remoteAddress: string | undefined, private readonly onGone: (s: BoshSession) => void) {
    super();
    this.lastRid = params.rid - 1;
    this.idleLimit = params.inactivity;
    const self = this;
    this.framing = {
      // XEP-0206 §3: the stream header's attributes travel in the creation response's <body/>.
      open(h: HeaderAttrs): string {
        self.authid = h.id ?? '';
        self.streamFrom = h.from ?? '';
        return '';
      },
      close: CLOSE,
    };
  }

  get sid(): string {
    return this.params.sid;
  }

  /** The number of requests the client may have open at once (§7.1 'requests'). */
  get window(): number {
    return this.params.hold + 1;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  get writableLength(): number {
    return this.queuedChars;
  }

  /** After the c2s stream is attached: the creation request stands for the client's stream header. */
  start(res: ServerResponse): void {
    this.hold(this.params.rid, res);
    this.lastRid = this.params.rid;
    this.emitData(Buffer.from(this.header()));
  }

  private header(): string {
    const lang = this.params.lang ? ` xml:lang='${escapeXML(this.params.lang)}'` : '';
    return `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' to='${escapeXML(this.params.to)}' version='1.0'${lang}>`;
  }

  /**
   * A request of this session (§14): in order, its payload goes to the stream and the request is held; a
   * replay is answered from the cache; an early one waits for the gap; one outside the window ends the session.
   */
  request(rid: number, payload: Buffer[], flags: { restart: boolean; terminate: boolean; pause: number | null }, res: ServerResponse): void {
    if (this.finalBody !== null) return void answer(res, this.finalBody);
    if (this.closed) return void answer(res, terminateBody('item-not-found'));
    if (rid <= this.lastRid) {
      const cached = this.cache.get(rid);
      if (cached !== undefined) return void answer(res, cached);
      const waiting = this.held.find((h) => h.rid === rid);
      if (waiting) { // the client gave up on that connection and asks again: the answer goes to the new one
        waiting.res = res;
        return;
      }
      return this.fail('item-not-found', res);
    }
    if (rid > this.lastRid + this.window) return this.fail('item-not-found', res);
    if (rid > this.lastRid + 1) {
      if (this.early.has(rid)) return this.fail('item-not-found', res);
      this.early.set(rid, { payload, res }); // (if the gap is never filled, inactivity ends the session)
      return;
    }
    this.handle(rid, payload, flags, res);
    for (let next = this.early.get(this.lastRid + 1); next; next = this.early.get(this.lastRid + 1)) {
      this.early.delete(this.lastRid + 1);
      this.handle(this.lastRid + 1, next.payload, { restart: false, terminate: false, pause: null }, next.res);
    }
  }

  private handle(rid: number, payload: Buffer[], flags: { restart: boolean; terminate: boolean; pause: number | null }, res: ServerResponse): void {
    this.lastRid = rid;
    if (this.held.length >= this.window) return this.fail('policy-violation', res); // more open requests than 'requests'
    this.hold(rid, res);
    if (flags.pause !== null) {
      if (flags.pause > this.params.maxPause) return this.fail('policy-violation', res);
      // §10: every held request is answered now; the session waits up to 'pause' seconds for the next one.
      this.idleLimit = flags.pause;
      this.respondAll(EMPTY);
      return;
    }
    this.idleLimit = this.params.inactivity;
    if (flags.restart) {
      // XEP-0206 §5: a restart stands for the new stream's header, which the stream expects after SASL success only.
      if (!this.restartDue) return this.fail('bad-request', res);
      this.restartDue = false;
      this.emitData(Buffer.from(this.header()));
    }
    for (const chunk of payload) this.emitData(chunk);
    if (flags.terminate) this.emitData(Buffer.from(CLOSE)); // §13: the client closes the stream
    this.deliver();
  }

  private hold(rid: number, res: ServerResponse): void {
    this.stopInactivity();
    const h: Held = { rid, res, timer: setTimeout(() => this.expire(h), this.params.wait * 1000) };
    h.timer.unref();
    this.held.push(h);
    res.once('close', () => {
      if (!res.writableFinished && h.res === res) h.res = null as unknown as ServerResponse; // gone: its answer stays in the cache
    });
  }

  /** 'wait' ran out with nothing to send: the request is answered with an empty body (§7.1). */
  private expire(h: Held): void {
    const i = this.held.indexOf(h);
    if (i === -1) return;
    // The creation request waits for the stream's features rather than answering without its attributes.
    if (!this.created) return;
    this.held.splice(i, 1);
    this.respond(h, EMPTY);
  }

  // ---- writing (the stream base's send queue) ---------------------------------------------------------

  write(data: string): boolean {
    if (this.closed || data === '') return true;
    if (data.startsWith('<success') && data.slice(0, 60).includes(NS.SASL)) this.restartDue = true; // not SASL2's
    this.queue.push(data === CLOSE ? data : withNamespaces(data));
    this.queuedChars += data.length;
    if (!this.corked) this.deliver();
    return true;
  }

  // Stanzas written in one turn of the event loop go out in one response.
  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.deliver();
  }

  /** The oldest held request takes everything queued; beyond 'hold', the oldest ones are answered (§11). */
  private deliver(): void {
    if (this.corked || this.closed) return;
    if (this.queue.length && this.held.length) {
      const items = this.queue;
      this.queue = [];
      this.queuedChars = 0;
      const closing = items[items.length - 1] === CLOSE;
      if (closing) items.pop();
      const body = closing ? this.terminateWith(items) : this.body(items.join(''));
      this.respond(this.held.shift()!, body);
      if (closing) return this.finish(body);
    }
    while (this.created && this.held.length > this.params.hold) this.respond(this.held.shift()!, EMPTY);
  }

  /** Our closing tag: type='terminate'; after a stream error, condition='remote-stream-error' (XEP-0206 §7). */
  private terminateWith(items: string[]): string {
    const inner = items.join('');
    const condition = items.some((s) => s.startsWith('<stream:error')) ? " condition='remote-stream-error'" : '';
    return `${BODY_OPEN} type='terminate'${condition}>${inner}</body>`;
  }

  private body(inner: string): string {
    if (this.created) return inner ? `${BODY_OPEN}>${inner}</body>` : EMPTY;
    this.created = true;
    const p = this.params;
    // §7.1 and XEP-0206 §3: the session's parameters and the stream header's attributes.
    const attrs = ` sid='${p.sid}' wait='${p.wait}' requests='${this.window}' hold='${p.hold}' inactivity='${p.inactivity}' polling='${Math.min(2, p.inactivity)}'`
      + ` maxpause='${p.maxPause}' ver='${p.ver}' from='${escapeXML(this.streamFrom || p.to)}' authid='${this.authid}' secure='${p.secure}'`
      + ` xmlns:xmpp='${NS_XBOSH}' xmpp:version='1.0' xmpp:restartlogic='true'`;
    return inner ? `${BODY_OPEN}${attrs}>${inner}</body>` : `${BODY_OPEN}${attrs}/>`;
  }

  private respond(h: Held, body: string): void {
    clearTimeout(h.timer);
    this.cache.set(h.rid, body);
    for (const rid of this.cache.keys()) if (rid <= this.lastRid - this.window) this.cache.delete(rid);
    if (h.res) answer(h.res, body);
    if (!this.held.length && !this.closed) this.startInactivity();
  }

  private respondAll(body: string): void {
    while (this.held.length) this.respond(this.held.shift()!, body);
  }

  // ---- the end ------------------------------------------------------------------------------------------

  /** A terminal condition found here (§17.2): the session ends and the stream with it, without a closing tag. */
  private fail(condition: string, res: ServerResponse): void {
    const body = terminateBody(condition);
    answer(res, body);
    this.finish(body);
  }

  /** The session is over: held requests get `body`, later ones too for a while, and the stream is told. */
  private finish(body: string): void {
    if (this.closed) return;
    this.closed = true;
    this.finalBody = body;
    this.stopInactivity();
    for (const h of this.held.splice(0)) {
      clearTimeout(h.timer);
      if (h.res) answer(h.res, body);
    }
    for (const e of this.early.values()) answer(e.res, body);
    this.early.clear();
    this.queue = [];
    this.queuedChars = 0;
    this.onGone(this);
    this.emit('close');
  }

  /** After our closing tag (the stream base ends the transport): what is queued goes out as the terminate. */
  end(): void {
    if (this.closed) return;
    if (this.queue.length && this.queue[this.queue.length - 1] === CLOSE && this.held.length) return this.deliver();
    // No request to carry it: the next one gets it.
    const items = this.queue.filter((s) => s !== CLOSE);
    this.finish(this.terminateWith(items));
  }

  destroy(): void {
    this.finish(terminateBody('remote-connection-failed'));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const data = this.pausedData;
    this.pausedData = [];
    for (const d of data) if (!this.closed) this.emit('data', d);
  }

  /** The c2s idle timeout does not apply: 'inactivity' is this transport's idle rule. */
  setTimeout(): this {
    return this;
  }

  private emitData(chunk: Buffer): void {
    if (this.paused) this.pausedData.push(chunk);
    else this.emit('data', chunk);
  }

  private startInactivity(): void {
    this.stopInactivity();
    this.inactivityTimer = setTimeout(() => {
      // No request for that long: the connection is gone (with stream management the session waits for resumption).
      this.finish(terminateBody('item-not-found'));
    }, this.idleLimit * 1000);
    this.inactivityTimer.unref();
  }

  private stopInactivity(): void {
    if (this.inactivityTimer) clearTimeout(this.inactivityTimer);
    this.inactivityTimer = null;
  }
}

/** An HTTP answer carrying one <body/> (XEP-0124 §8: text/xml; charset=utf-8). */
function answer(res: ServerResponse, body: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
