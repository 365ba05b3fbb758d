// XMPP over WebSocket framing (RFC 7395 §3.3-§3.8) as a StreamTransport: one XML element per text message;
// <open/> and <close/> in urn:ietf:params:xml:ns:xmpp-framing stand for the stream header and closing tag. Incoming
// messages are handed to the one stream parser (with its limits) as the stream they stand for; outgoing elements
// get the namespaces a stream header would have declared (§3.3.3). Keepalive by WebSocket ping/pong.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { parse } from 'ltx';
import { escapeXML, type Element } from '@xmpp/xml';
import type { WebSocket } from 'ws';
import { StreamError } from '../../core/errors.js';
import { NS } from '../../core/ns.js';
import type { HeaderAttrs } from '../stream/stream-header.js';
import type { StreamFraming, StreamTransport } from '../stream/transport.js';

export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

const STREAM_PREFIX = `<stream:`;
const STREAM_DECL = ` xmlns:stream='${NS.STREAM}'`;
const CLIENT_DECL = ` xmlns='${NS.CLIENT}'`;
const STREAM_END = Buffer.from('</stream:stream>');
const MAX_FRAMING_ELEMENT = 4096;

/** RFC 7395 §3.4 / §3.6: the server's <open/> and <close/>. */
export const WS_FRAMING: StreamFraming = {
  open(h: HeaderAttrs): string {
    let s = `<open xmlns='${NS_FRAMING}'`;
    if (h.id) s += ` id='${h.id}'`;
    if (h.from) s += ` from='${escapeXML(h.from)}'`;
    if (h.to) s += ` to='${escapeXML(h.to)}'`;
    return `${s} version='1.0' xml:lang='en'/>`;
  },
  close: `<close xmlns='${NS_FRAMING}'/>`,
};

const attr = (name: string, v: string | undefined): string => (v === undefined ? '' : ` ${name}='${escapeXML(v)}'`);

export interface WebSocketTransportOptions {
  /** Largest message accepted (max_stanza_size): a larger one ends the stream with policy-violation. */
  maxMessage: number;
  /** Seconds between pings; a peer that has not answered the previous one by then is gone. 0: no pings. */
  pingInterval: number;
}

export class WebSocketTransport extends EventEmitter implements StreamTransport {
  readonly framing = WS_FRAMING;
  onFramingError: ((err: StreamError) => void) | null = null;
  readonly remoteAddress: string | undefined;
  private pingTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private closed = false;

  constructor(private readonly ws: WebSocket, private readonly raw: Socket, remoteAddress: string | undefined, private readonly opts: WebSocketTransportOptions) {
    super();
    this.remoteAddress = remoteAddress;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.message(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = null;
      this.emit('close');
    });
    ws.on('error', (err: Error) => this.emit('error', err));
    ws.on('pong', () => { this.awaitingPong = false; });
    if (opts.pingInterval > 0) {
      this.pingTimer = setInterval(() => this.ping(), opts.pingInterval * 1000);
      this.pingTimer.unref();
    }
  }

  get destroyed(): boolean {
    return this.closed || this.raw.destroyed;
  }

  get writableLength(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * One element per message (the stream base writes one element per call). Stanzas and stream-level elements
   * carry the namespaces of the stream header a WebSocket stream does not have (RFC 7395 §3.3.3). Never asks
   * for 'drain': what the socket cannot take yet counts against max_send_queue through writableLength.
   */
  write(data: string): boolean {
    if (this.closed || this.ws.readyState !== 1) return true;
    this.ws.send(withNamespaces(data));
    return true;
  }

  // Frames written in one turn of the event loop go out in one syscall, as on TCP.
  cork(): void {
    this.raw.cork();
  }

  uncork(): void {
    this.raw.uncork();
  }

  /** After our <close/>: the WebSocket closing handshake (RFC 7395 §3.6). */
  end(): void {
    if (!this.closed) this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** The connection idle timeout: pings and pongs count as activity, as whitespace keepalives do on TCP. */
  setTimeout(ms: number, cb?: () => void): this {
    this.raw.setTimeout(ms, cb);
    return this;
  }

  private ping(): void {
    if (this.closed) return;
    if (this.awaitingPong) {
      this.ws.terminate(); // no pong for a whole interval: the connection is gone (the session may be resumed)
      return;
    }
    this.awaitingPong = true;
    this.ws.ping();
  }

  private message(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) return this.fail(new StreamError('unsupported-encoding', 'XMPP over WebSocket uses text messages only (RFC 7395 §3.3.1)'));
    if (data.length > this.opts.maxMessage) {
      return this.fail(new StreamError('policy-violation', `a message may have at most ${this.opts.maxMessage} bytes`));
    }
    // <open/> and <close/> are recognised by their start; everything else goes to the stream parser as it is.
    let i = 0;
    while (i < data.length && (data[i] === 0x20 || data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x09)) i++;
    // (An <open/> or <close/> is a few hundred bytes: anything longer is left to the parser and its limits.)
    if (data.length - i <= MAX_FRAMING_ELEMENT && data[i] === 0x3c && ((data[i + 1] === 0x6f && data[i + 2] === 0x70) || (data[i + 1] === 0x63 && data[i + 2] === 0x6c))) {
      const framed = this.framingElement(data);
      if (framed !== undefined) {
        if (framed) this.emit('data', framed);
        return;
      }
    }
    this.emit('data', data);
  }

  /**
   * An <open/> becomes the stream header it stands for (the parser then checks 'to' and 'version' as for TCP);
   * a <close/> the closing tag. undefined: not a framing element (e.g. a stanza named <close> in another
   * namespace is passed on); null: handled here (an error was raised).
   */
  private framingElement(data: Buffer): Buffer | null | undefined {
    let el: Element;
    try {
      el = parse(data.toString('utf8'));
    } catch {
      return undefined; // the stream parser reports it with the proper condition
    }
    if (el.name !== 'open' && el.name !== 'close') return undefined;
    const a = el.attrs as Record<string, string | undefined>;
    if (a.xmlns !== NS_FRAMING) return undefined;
    if (el.name === 'close') return STREAM_END;
    const header = `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}'${attr('to', a.to)}${attr('from', a.from)}${attr('version', a.version)}${attr('xml:lang', a['xml:lang'])}>`;
    return Buffer.from(header);
  }

  private fail(err: StreamError): void {
    if (this.onFramingError) this.onFramingError(err);
    else this.ws.terminate();
  }
}

/** `<message ...>` without xmlns gets jabber:client; `<stream:error>`/`<stream:features>` their prefix's declaration. */
export function withNamespaces(data: string): string {
  if (data.startsWith(STREAM_PREFIX)) {
    const at = nameEnd(data);
    return data.slice(0, at) + STREAM_DECL + data.slice(at);
  }
  if (data.startsWith('<message') || data.startsWith('<presence') || data.startsWith('<iq')) {
    const tagEnd = data.indexOf('>'); // attribute values are escaped: the first '>' ends the start tag
    const xmlnsAt = data.indexOf(' xmlns=');
    if (xmlnsAt === -1 || xmlnsAt > tagEnd) {
      const at = nameEnd(data);
      return data.slice(0, at) + CLIENT_DECL + data.slice(at);
    }
  }
  return data;
}

function nameEnd(data: string): number {
  let i = 1;
  while (i < data.length) {
    const c = data.charCodeAt(i);
    if (c === 0x20 || c === 0x3e || c === 0x2f || c === 0x0a || c === 0x09 || c === 0x0d) break;
    i++;
  }
  return i;
}
