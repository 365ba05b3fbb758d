// STARTTLS (RFC 6120 §5.4.3.3): put the TLS layer on a socket only once the client's first bytes (its
// ClientHello) have been read. node:tls then hands them to OpenSSL from JS, and its encrypted-input buffer is
// sized by them (a few hundred bytes, at least 1 KiB) instead of by libuv's 64 KiB read suggestion: a buffer
// every TLS connection keeps for as long as it lives, which made idle TLS sessions cost several times a plain one.
import type { Socket } from 'node:net';

/**
 * Calls `ready` once bytes wait in `raw`'s read buffer (wrap it in a TLSSocket then: node:tls feeds them to
 * the handshake), or `gone` if the socket closes first. Exactly one of the two is called.
 */
export function afterClientHello(raw: Socket, ready: () => void, gone: () => void): void {
  const onReadable = (): void => {
    if (raw.readableLength === 0) return; // the end of the stream: 'close' follows
    raw.off('readable', onReadable);
    raw.off('close', onClose);
    ready();
  };
  const onClose = (): void => {
    raw.off('readable', onReadable);
    gone();
  };
  raw.on('readable', onReadable);
  raw.once('close', onClose);
}
