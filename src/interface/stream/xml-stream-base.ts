// What every XML stream shares (RFC 6120 §4), as ejabberd's xmpp_stream_in does for all of its streams: the
// socket and its reader (limits), the parser wiring, in-order processing (§10.1), the send queue with its
// back-pressure and max-queue rule (§13.12), the header and stream-error path (§4.7, §4.9) and closing (§4.4).
// c2s, s2s (in and out) and component streams extend it and keep only their protocol.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import { StreamError } from '../../core/errors.js';
import type { Core } from '../../core/core.js';
import type { Logger } from '../../core/log.js';
import type { StreamKind } from '../../core/limits/limits.js';
import type { ShapedReader } from '../../core/limits/shaped-reader.js';
import { StreamParser } from '../xml/stream-parser.js';
import { parserLimits } from '../xml/parser-limits.js';
import { OrderedQueue } from './ordered-queue.js';
import { SendQueue } from './send-queue.js';
import { CLOSING_TAG, newStreamId, openingTag, type HeaderAttrs } from './stream-header.js';
import type { StreamFraming, StreamTransport } from './transport.js';

/** RFC 6120 framing: stream headers and the closing tag on a TCP (or TLS) byte stream. */
const TCP_FRAMING: StreamFraming = { open: openingTag, close: CLOSING_TAG };

/** How long a closed stream waits for the peer's closing tag before the connection is destroyed (§4.4). */
export const LINGER_MS = 2000;

export abstract class XmlStreamBase {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  ip = '';
  /** Bytes read from and written to the peer (after TLS), for the closing log line. */
  bytesIn = 0;
  get bytesOut(): number {
    return this.out.bytesWritten;
  }
  /** Why the stream ended, as the log says it: the first of our stream error, the peer's closing tag, or the transport. */
  protected endReason: string | null = null;
  protected socket: StreamTransport | null = null;
  /** How the transport opens and closes a stream (RFC 6120 headers, or RFC 7395 <open/> and <close/>). */
  protected framing: StreamFraming = TCP_FRAMING;
  protected parser: StreamParser | null = null;
  /** Reads the socket (limits.<kind> shaping, limits.pre_auth_bytes until authenticated) and owns pause/resume. */
  protected reader!: ShapedReader;
  /** The ID of the header we sent on the current stream ('' before, and after a restart). */
  protected streamId = '';
  protected headerSent = false;
  /** Our closing tag was sent: nothing more may be written (RFC 6120 §4.4). */
  protected closeSent = false;
  /** We closed with a stream error: whatever the peer still sends is ignored. */
  protected errored = false;
  /** The stream is over for the server (the TCP connection is gone, or it overflowed). */
  protected ended = false;
  /** Elements the peer sends after our closing tag are still handled (s2s: the peer may be mid-stanza). */
  protected readsAfterClose = false;
  /** Level of the log line for a stream error we send (clients make many; servers and components few). */
  protected errorLogLevel: 'debug' | 'info' = 'info';
  protected lingerMs = LINGER_MS;
  private lingerTimer: NodeJS.Timeout | null = null;

  /** Outgoing data, in order (back-pressure and max_send_queue). */
  protected readonly out = new SendQueue({
    maxQueued: () => this.core.config.max_send_queue,
    overflow: (queued) => this.overflowed(queued),
  });
  /** Incoming elements, handled one after the other; a flooding peer is read no further past a backlog. */
  protected readonly inbound = new OrderedQueue({
    hold: () => this.reader.hold('backlog'),
    release: () => this.reader.release('backlog'),
    failed: (err) => {
      this.log.error('stanza handling failed', { err });
      this.close(new StreamError('internal-server-error'));
    },
  });

  protected log: Logger;

  /**
   * @param log the stream's logger, made from its id
   * @param readerKind limits.<kind> shapes what the peer may send ('component': not shaped); every kind has
   *   the same pre-authentication byte budget (limits.pre_auth_bytes) until the subclass calls reader.authenticated()
   */
  constructor(protected readonly core: Core, log: (id: string) => Logger, private readonly readerKind: StreamKind | 'component') {
    this.log = log(this.id);
  }

  /** The peer's stream header (after every restart). */
  protected abstract onStreamStart(attrs: Record<string, string>): void;
  /** A top-level element (stanza or nonza). */
  protected abstract onElement(el: Element): void;
  /** The stream is over (whatever the cause); called once. */
  protected abstract onEnded(reason: string): void;
  /** The header to send before a stream error when none was sent yet (RFC 6120 §4.9.1.2); null: none. */
  protected abstract errorHeader(): HeaderAttrs | null;

  isEnded(): boolean {
    return this.ended;
  }

  // ---- socket ---------------------------------------------------------------------------------------

  /** Read from and write to this transport (the first socket, the TLS socket after STARTTLS, or a WebSocket). */
  protected attach(socket: StreamTransport): void {
    this.socket = socket;
    this.framing = socket.framing ?? TCP_FRAMING;
    if (socket.framing) socket.onFramingError = (err) => this.close(err);
    this.ip ||= socket.remoteAddress ?? '';
    socket.setNoDelay?.(true);
    this.reader ??= this.core.limits.reader(this.readerKind, { ip: this.ip }, (chunk) => {
      this.bytesIn += chunk.length;
      this.parser?.write(chunk);
    }, (err) => this.close(err));
    this.reader.attach(socket);
    this.out.attach(socket);
    socket.on('error', (err) => {
      this.log.debug('socket error', { err: err.message });
      socket.destroy(); // node:tls reports a bad record after the handshake but leaves the socket open
    });
    socket.on('close', () => {
      // Without this every closed connection stayed reachable from the timer for the linger time.
      if (this.lingerTimer) clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
      this.end('connection closed');
    });
    // node:tls reports a bad record on a TLSSocket no tls.Server made only through '_tlsError' (never 'error').
    socket.on('_tlsError', (err: Error) => {
      this.log.debug('TLS error', { err: err.message });
      socket.destroy();
    });
  }

  /** Detach the plain socket before a STARTTLS handshake takes it over (RFC 6120 §5.4.3.3). */
  protected detachForTls(): Socket {
    this.out.flush(); // <proceed/> must reach the wire before the handshake starts on the same socket
    const raw = this.socket as Socket; // STARTTLS exists on TCP only
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    raw.on('error', () => {});
    raw.setTimeout(0);
    this.parser = null;
    return raw;
  }

  /** A fresh parser for a new stream (start, after TLS, after SASL; RFC 6120 §4.3.3). */
  protected newParser(): void {
    this.headerSent = false; // a restarted stream needs its own header before any error (§4.9.1.2)
    this.streamId = '';
    this.parser = new StreamParser(
      {
        streamStart: (_name, attrs) => this.onStreamStart(attrs),
        stanza: (el) => {
          if (this.ended || this.errored || (this.closeSent && !this.readsAfterClose)) return;
          this.onElement(el);
        },
        streamEnd: () => {
          this.endReason ??= 'the peer closed the stream';
          this.close();
        },
        error: (condition, text) => this.close(new StreamError(condition, text)),
      },
      parserLimits(this.core.config),
    );
  }

  // ---- writing --------------------------------------------------------------------------------------

  /**
   * Our stream header; `withId` (receiving side, §4.7.3) gives it a fresh stream ID. `withNext`: it goes out
   * with the next write (the features that always follow), not on its own.
   */
  protected openStream(h: HeaderAttrs, withId = true, withNext = false): void {
    if (withId) this.streamId = newStreamId();
    this.headerSent = true;
    const text = this.framing.open(withId ? { ...h, id: this.streamId } : h);
    if (withNext && !this.closeSent && !this.ended && this.socket) this.out.hold(text);
    else this.write(text);
  }

  protected write(data: string): void {
    if (this.closeSent || this.ended || !this.socket) return;
    this.out.write(data);
  }

  // ---- closing --------------------------------------------------------------------------------------

  /**
   * End the stream: an optional stream error (after our header if none was sent, §4.9.1.2), the closing tag,
   * TCP end; the connection is destroyed if the peer has not closed its side within `lingerMs` (§4.4).
   */
  close(error?: StreamError, lingerMs = this.lingerMs): void {
    if (this.closeSent || this.ended) return;
    this.endReason ??= error ? `${error.condition}${error.text ? `: ${error.text}` : ''}` : 'closed by the server';
    if (error) {
      this.errored = true;
      this.core.metrics.streamErrors.inc({ condition: error.condition });
      this.log[this.errorLogLevel]('closing the stream with an error', { condition: error.condition, text: error.text });
      if (!this.headerSent) {
        const h = this.errorHeader();
        if (h) this.openStream(h);
      }
      this.write(error.toElement().toString());
    }
    this.write(this.framing.close);
    this.closeSent = true;
    this.closingStarted();
    if (!this.socket) return this.end('closed before connecting');
    this.out.end();
    this.lingerTimer = setTimeout(() => this.socket?.destroy(), lingerMs);
    this.lingerTimer.unref();
  }

  /** Our closing tag went out (nothing more is written from now on). */
  protected closingStarted(): void {}

  /**
   * max_send_queue is exceeded once the kernel took what it could: the peer is not reading. What waits is
   * dropped, the stream error goes after what the socket already holds (a peer that reads again in time sees
   * it), and the stream is over for the server now: the owner's end-of-stream work (a session leaves, unacked
   * s2s stanzas are retried) does not wait for a peer that may never read its closing tag.
   */
  private overflowed(queued: number): void {
    if (this.closeSent || this.ended) return;
    const max = this.core.config.max_send_queue;
    this.log.warn('peer is not reading; closing the stream', { queued, max_send_queue: max });
    this.out.discard();
    this.close(new StreamError('policy-violation', `more than ${max} bytes wait to be sent: the peer is not reading`));
    this.end('the peer is not reading');
  }

  /** The transport closed while no socket listener was attached (between STARTTLS's <proceed/> and the handshake). */
  protected transportClosed(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.end('connection closed');
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.closeSent = true;
    this.reader?.stop();
    this.out.stop();
    this.onEnded(reason);
  }
}
