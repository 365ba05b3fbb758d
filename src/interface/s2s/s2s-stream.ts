// What inbound and outbound server-to-server streams share (RFC 6120 §4): socket and parser plumbing,
// stream restarts (§4.3.3), stream errors and closing (§4.4, §4.9), TLS facts, idle accounting.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { escapeXML } from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { StreamError } from '../../core/errors.js';
import { NS } from '../../core/ns.js';
import type { Core } from '../../core/core.js';
import type { Logger } from '../../core/log.js';
import { StreamParser } from '../xml/stream-parser.js';
import { parserLimits } from '../xml/parser-limits.js';
import { CLOSING_TAG } from '../c2s/stream-header.js';
import { NS_DIALBACK } from './dialback.js';
import { qualifiedName, type QualifiedName } from './qualified-name.js';
import { S2sTls, type PeerCertificateStatus, type TlsDescription } from './s2s-tls.js';
import type { ShapedReader } from '../../core/limits/shaped-reader.js';

export type AuthMethod = 'EXTERNAL' | 'dialback';

/** One row of `xmppd s2s` (admin command s2s.list). */
export interface S2sStreamInfo {
  id: string;
  direction: 'in' | 'out';
  local: string;
  remote: string;
  state: string;
  auth: AuthMethod | '';
  tls: TlsDescription | null;
  ip: string;
  since: string;
  queued: number;
}

/** A stream header for jabber:server with the dialback prefix declared (XEP-0220 §2.1.1). */
export function s2sHeader(attrs: { id?: string; from: string; to?: string }): string {
  const id = attrs.id ? ` id='${attrs.id}'` : '';
  const to = attrs.to ? ` to='${escapeXML(attrs.to)}'` : '';
  return `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS_DIALBACK}'` +
    `${id} from='${escapeXML(attrs.from)}'${to} version='1.0' xml:lang='en'>`;
}

export const newStreamId = (): string => randomBytes(12).toString('base64url');

export abstract class S2SStream {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  abstract readonly direction: 'in' | 'out';
  secure = false;
  tlsInfo: TlsDescription | null = null;
  peerCert: PeerCertificateStatus | null = null;
  authMethod: AuthMethod | '' = '';
  ip = '';
  /** Attributes of the peer's current stream header (namespace declarations included). */
  protected streamAttrs: Record<string, string> = {};
  protected socket: Socket | null = null;
  protected parser: StreamParser | null = null;
  /** Our closing tag was sent: nothing more may be written (RFC 6120 §4.4). */
  protected closing = false;
  /** We closed with a stream error: whatever the peer still sends is ignored. */
  protected errored = false;
  protected ended = false;
  protected reader: ShapedReader | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private sendQueueCheck: NodeJS.Immediate | null = null;
  protected log: Logger;

  constructor(protected readonly core: Core, logBindings: Record<string, unknown>) {
    this.log = core.log.child({ s2s: this.id.slice(0, 8), ...logBindings });
  }

  abstract info(): S2sStreamInfo;

  isEnded(): boolean {
    return this.ended;
  }
  /** The peer's stream header (after every restart). */
  protected abstract onStreamStart(attrs: Record<string, string>): void;
  protected abstract onElement(el: Element, qn: QualifiedName): void;
  /** The TCP connection is gone (whatever the cause); called once. */
  protected abstract onEnded(reason: string): void;

  // ---- socket ---------------------------------------------------------------------------------------

  protected attach(socket: Socket): void {
    this.socket = socket;
    this.ip ||= socket.remoteAddress ?? '';
    socket.setNoDelay(true);
    // limits.s2s shapes what a peer may send (bytes/s), like c2s; the reader survives STARTTLS.
    (this.reader ??= this.core.limits.reader('s2s', { ip: this.ip }, (chunk) => this.parser?.write(chunk), (err) => this.close(err))).attach(socket);
    socket.on('error', (err) => {
      this.log.debug('socket error', { err: err.message });
      socket.destroy();
    });
    socket.on('close', () => this.ended_('connection closed'));
    // node:tls reports a bad record on a TLSSocket no tls.Server made only through '_tlsError'.
    socket.on('_tlsError', (err: Error) => {
      this.log.debug('TLS error', { err: err.message });
      socket.destroy();
    });
  }

  /** Detach the plain socket before a STARTTLS handshake takes it over (RFC 6120 §5.4.3.3). */
  protected detachForTls(): Socket {
    const raw = this.socket!;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    raw.on('error', () => {});
    this.parser = null;
    return raw;
  }

  protected secured(sock: TLSSocket, isServer: boolean): void {
    this.secure = true;
    this.tlsInfo = S2sTls.describe(sock);
    this.peerCert = S2sTls.peerStatus(sock, isServer);
  }

  /** A fresh parser for a new stream (start, after TLS, after SASL). */
  protected newParser(): void {
    this.parser = new StreamParser(
      {
        streamStart: (_name, attrs) => {
          this.streamAttrs = attrs;
          this.onStreamStart(attrs);
        },
        stanza: (el) => this.element(el),
        streamEnd: () => this.close(),
        error: (condition, text) => this.close(new StreamError(condition, text)),
      },
      parserLimits(this.core.config),
    );
  }

  private element(el: Element): void {
    if (this.ended || this.errored) return;
    const qn = qualifiedName(el, this.streamAttrs);
    if (qn.ns === NS.STREAM && qn.local === 'error') {
      const condition = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS && c.name !== 'text')?.name ?? 'undefined-condition';
      this.log.info('stream error from peer', { condition, text: el.getChildText('text', NS.STREAMS) ?? undefined });
      this.peerError(condition);
      this.close();
      return;
    }
    this.onElement(el, qn);
  }

  /** The peer sent a stream error (it will close the stream next). */
  protected peerError(_condition: string): void {}

  protected write(data: string): void {
    if (this.closing || this.ended || !this.socket || this.socket.destroyed) return;
    this.socket.write(data);
    // A peer that stops reading must not make us buffer without bound (max_send_queue). A burst written in
    // one turn of the event loop looks the same until the kernel has taken what it can, so judge what is
    // still queued once the burst has been handed over (as c2s does).
    if (this.socket.writableLength > this.core.config.max_send_queue && !this.sendQueueCheck) {
      const sock = this.socket;
      this.sendQueueCheck = setImmediate(() => {
        this.sendQueueCheck = null;
        if (sock.destroyed || sock.writableLength <= this.core.config.max_send_queue) return;
        this.log.warn('peer is not reading; dropping the connection', { queued: sock.writableLength });
        this.core.metrics.streamErrors.inc({ condition: 'policy-violation' });
        sock.destroy();
      });
    }
  }

  protected send(el: Element): void {
    this.write(el.toString());
  }

  /** End the stream: optional stream error, closing tag, TCP end; destroy if the peer lingers. */
  close(error?: StreamError): void {
    if (this.closing || this.ended) return;
    if (error) {
      this.errored = true;
      this.core.metrics.streamErrors.inc({ condition: error.condition });
      this.log.info('closing the stream with an error', { condition: error.condition, text: error.text });
      this.beforeError();
      this.write(error.toElement().toString());
    }
    this.write(CLOSING_TAG);
    this.closing = true;
    this.closingStarted();
    if (!this.socket) return this.ended_('closed before connecting');
    this.socket.end();
    setTimeout(() => this.socket?.destroy(), 2000).unref();
  }

  /** A stream error may need our header first (RFC 6120 §4.9.1.2). */
  protected beforeError(): void {}
  /** Our closing tag went out. */
  protected closingStarted(): void {}

  private ended_(reason: string): void {
    if (this.ended) return;
    this.reader?.stop();
    this.ended = true;
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.sendQueueCheck) clearImmediate(this.sendQueueCheck);
    this.sendQueueCheck = null;
    this.onEnded(reason);
  }

  // ---- idle ----------------------------------------------------------------------------------------

  /**
   * Idle periods (of s2s.idle_timeout) before the stream is closed. The sending side decides when it is
   * done (1); an inbound stream only closes after twice as long, so that we do not close it under a
   * stanza the peer is sending (which we could then no longer acknowledge).
   */
  protected idleFactor = 1;

  /** Stanza traffic keeps a stream open; without it for the idle time the stream is closed. */
  protected touch(): void {
    if (this.ended) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => this.onIdle(), this.core.config.s2s.idle_timeout * 1000 * this.idleFactor);
    this.idleTimer.unref();
  }

  protected onIdle(): void {
    this.idleTimer = null;
    this.log.debug('idle stream closed');
    this.close();
  }

  protected baseInfo(): Pick<S2sStreamInfo, 'id' | 'auth' | 'tls' | 'ip' | 'since'> {
    return { id: this.id, auth: this.authMethod, tls: this.tlsInfo, ip: this.ip, since: new Date(this.startedAt).toISOString() };
  }
}
