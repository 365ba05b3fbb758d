// What inbound and outbound server-to-server streams share on top of the stream base (RFC 6120 §4): the
// jabber:server header with dialback declared, qualified names of elements, the peer's stream errors, TLS
// facts and idle accounting.
import type { TLSSocket } from 'node:tls';
import type { Element } from '@xmpp/xml';
import { NS } from '../../core/ns.js';
import type { Core } from '../../core/core.js';
import { XmlStreamBase } from '../stream/xml-stream-base.js';
import type { HeaderAttrs } from '../stream/stream-header.js';
import { peerStreamError } from '../stream/stream-error.js';
import { NS_DIALBACK } from './dialback.js';
import { qualifiedName, type QualifiedName } from './qualified-name.js';
import { S2sTls, type PeerCertificateStatus, type TlsDescription } from './s2s-tls.js';

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
export function s2sHeader(attrs: { from: string; to?: string }): HeaderAttrs {
  return { contentNs: NS.SERVER, prefixes: { db: NS_DIALBACK }, from: attrs.from, to: attrs.to };
}

export abstract class S2SStream extends XmlStreamBase {
  abstract readonly direction: 'in' | 'out';
  secure = false;
  tlsInfo: TlsDescription | null = null;
  peerCert: PeerCertificateStatus | null = null;
  authMethod: AuthMethod | '' = '';
  /** Attributes of the peer's current stream header (namespace declarations included). */
  protected streamAttrs: Record<string, string> = {};
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(core: Core, logBindings: Record<string, unknown>) {
    super(core, (id) => core.log.child({ s2s: id.slice(0, 8), ...logBindings }), 's2s');
    this.readsAfterClose = true;
  }

  abstract info(): S2sStreamInfo;

  /** The peer's stream header (after every restart). */
  protected abstract onS2sStreamStart(attrs: Record<string, string>): void;
  protected abstract onS2sElement(el: Element, qn: QualifiedName): void;
  /** The TCP connection is gone (whatever the cause); called once. */
  protected abstract onS2sEnded(reason: string): void;

  protected onStreamStart(attrs: Record<string, string>): void {
    this.streamAttrs = attrs;
    this.onS2sStreamStart(attrs);
  }

  protected onEnded(reason: string): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    // One line per server-to-server connection, as for clients: why it ended, how long, how much.
    this.log.info('s2s stream closed', {
      auth: this.authMethod || 'none', reason: this.endReason ?? (reason === 'connection closed' ? 'the peer closed the connection' : reason),
      duration_s: Math.round((Date.now() - this.startedAt) / 100) / 10, bytes_in: this.bytesIn, bytes_out: this.bytesOut,
    });
    this.onS2sEnded(reason);
  }

  protected secured(sock: TLSSocket, isServer: boolean): void {
    this.secure = true;
    this.tlsInfo = S2sTls.describe(sock);
    this.peerCert = S2sTls.peerStatus(sock, isServer);
  }

  protected onElement(el: Element): void {
    const qn = qualifiedName(el, this.streamAttrs);
    if (qn.ns === NS.STREAM && qn.local === 'error') {
      const { condition, text } = peerStreamError(el);
      this.log.info('stream error from peer', { condition, text });
      this.peerError(condition);
      this.close();
      return;
    }
    this.onS2sElement(el, qn);
  }

  /** The peer sent a stream error (it will close the stream next). */
  protected peerError(_condition: string): void {}

  protected send(el: Element): void {
    this.write(el.toString());
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
