// The door of every listener: each TCP connection is counted per address and listener kind as it is
// accepted (before any TLS handshake, XEP-0205 §3), one too many is refused, and a direct-TLS connection
// that has not completed its handshake within limits.tls_handshake_timeout is destroyed.
import type { Socket } from 'node:net';
import type { Core } from '../core/core.js';
import type { ListenerType } from '../core/config/types.js';
import type { ConnectionKind } from '../core/limits/limits.js';
import type { StreamError } from '../core/errors.js';
import { NS } from '../core/ns.js';
import { CLOSING_TAG, newStreamId, openingTag } from './stream/stream-header.js';

export const CONNECTION_KIND: Record<ListenerType, ConnectionKind> = {
  c2s: 'c2s', c2s_tls: 'c2s', s2s: 's2s', s2s_tls: 's2s', component: 'component', http: 'http', https: 'http',
};

/** The content namespace of a refused plaintext XMPP stream (RFC 6120 §4.8.2, XEP-0114 §3). */
const CONTENT_NS: Partial<Record<ListenerType, string>> = { c2s: NS.CLIENT, s2s: NS.SERVER, component: 'jabber:component:accept' };

/** How long a refused connection may linger after our closing tag (RFC 6120 §4.4) before it is destroyed. */
const LINGER_MS = 2000;

/**
 * Run `fn` once the socket has closed. The stream code takes a plain socket over for STARTTLS with
 * removeAllListeners('close') (its own handler must not see the raw socket go); node:net does not report
 * every listener removed that way (no 'removeListener' event for each), so this socket's removeAllListeners
 * puts this one back, and the connection's count is still given back when it ends.
 */
export function whenClosed(sock: Socket, fn: () => void): void {
  let done = false;
  const onClose = (): void => {
    if (done) return;
    done = true;
    fn();
  };
  sock.on('close', onClose);
  const removeAll = sock.removeAllListeners;
  sock.removeAllListeners = function (this: Socket, ...args: [event?: string | symbol]) {
    const result = removeAll.apply(this, args);
    if (!done && (args.length === 0 || args[0] === 'close')) this.on('close', onClose);
    return result;
  };
}

export class ConnectionGate {
  /** Direct-TLS connections still in their handshake: "address|port" -> the timer that ends them. */
  private readonly handshaking = new Map<string, NodeJS.Timeout>();

  constructor(private readonly core: Core, private readonly type: ListenerType) {}

  /** A new TCP connection: count it and hand it on, or refuse it. */
  admit(raw: Socket, serve: (raw: Socket) => void): void {
    raw.on('error', () => raw.destroy()); // a reset before the stream code has attached its own handlers
    const slot = this.core.limits.openListenerConnection(CONNECTION_KIND[this.type], raw.remoteAddress ?? '');
    if (slot.refusal) return this.refuse(raw, slot.refusal);
    whenClosed(raw, () => slot.release());
    if (this.type === 'c2s_tls' || this.type === 's2s_tls' || this.type === 'https') this.startHandshakeTimer(raw);
    serve(raw);
  }

  /** The TLS handshake of a connection has completed (the TLS socket the tls.Server made for it). */
  handshakeDone(sock: Socket): void {
    const key = `${sock.remoteAddress}|${sock.remotePort}`;
    const timer = this.handshaking.get(key);
    if (timer) clearTimeout(timer);
    this.handshaking.delete(key);
  }

  private startHandshakeTimer(raw: Socket): void {
    const key = `${raw.remoteAddress}|${raw.remotePort}`;
    const secs = this.core.config.limits.tls_handshake_timeout;
    const timer = setTimeout(() => {
      this.handshaking.delete(key);
      this.core.limits.violation('tls_handshake_timeout');
      this.core.log.debug('TLS handshake not completed in time', { type: this.type, ip: raw.remoteAddress, seconds: secs });
      raw.destroy();
    }, secs * 1000);
    timer.unref();
    this.handshaking.set(key, timer);
    raw.once('close', () => {
      clearTimeout(timer);
      if (this.handshaking.get(key) === timer) this.handshaking.delete(key);
    });
  }

  /**
   * Over the per-address limit. A plaintext XMPP stream gets our header and a <policy-violation/> stream
   * error (RFC 6120 §4.9.1.2, §4.9.3.14) and plain HTTP a 429; before a TLS handshake nothing can be said
   * without doing the handshake's work for the refused connection, so it is just closed.
   */
  private refuse(raw: Socket, error: StreamError): void {
    const ns = CONTENT_NS[this.type];
    this.core.log.debug('connection refused', { type: this.type, ip: raw.remoteAddress, reason: error.text });
    if (ns) {
      this.core.metrics.streamErrors.inc({ condition: error.condition });
      const header = openingTag({ contentNs: ns, id: newStreamId(), from: this.core.config.hosts[0]!, version: this.type !== 'component' });
      raw.end(`${header}${error.toElement().toString()}${CLOSING_TAG}`);
    } else if (this.type === 'http') {
      const body = `${error.text ?? 'too many connections'}\n`;
      raw.end(`HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 10\r\nconnection: close\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    } else {
      raw.destroy();
      return;
    }
    raw.resume(); // read and discard whatever the peer still sends until it closes
    setTimeout(() => raw.destroy(), LINGER_MS).unref();
  }
}
