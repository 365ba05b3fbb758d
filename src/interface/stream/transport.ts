// The byte/frame layer under every XML stream (DESIGN.md "Stanza flow"): a TCP or TLS socket as it is, or a
// WebSocket connection (RFC 7395) that frames one element per message. The stream base, its reader and its send
// queue see only this; a transport frames bytes and never negotiates.
import type { HeaderAttrs } from './stream-header.js';
import type { StreamError } from '../../core/errors.js';

/** The part of a node:net Socket a stream uses (a Socket is one as it is). */
export interface StreamTransport {
  readonly remoteAddress?: string | undefined;
  readonly destroyed: boolean;
  /** Bytes the transport holds that the kernel has not taken yet (max_send_queue counts them). */
  readonly writableLength: number;
  /** false: back-pressure, wait for 'drain'. */
  write(data: string): boolean;
  cork(): void;
  uncork(): void;
  /** Close after what was written (TCP FIN; a WebSocket close frame). */
  end(): void;
  destroy(): void;
  pause(): unknown;
  resume(): unknown;
  setTimeout(ms: number, cb?: () => void): unknown;
  setNoDelay?(noDelay?: boolean): unknown;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: string, fn: (...args: any[]) => void): unknown;
  once(event: string, fn: (...args: any[]) => void): unknown;
  off(event: string, fn: (...args: any[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  /** How this transport opens and closes a stream; absent: RFC 6120 stream headers. */
  readonly framing?: StreamFraming;
  /** A framing violation the transport found (e.g. a binary WebSocket message): the stream closes with it. */
  onFramingError?: ((err: StreamError) => void) | null;
}

/** The stream's opening and closing as this transport writes them (RFC 6120 §4.2/§4.4, or RFC 7395 §3.4/§3.6). */
export interface StreamFraming {
  open(h: HeaderAttrs): string;
  readonly close: string;
}
