// The ordered outgoing queue of one stream (RFC 6120 §13.12 resource exhaustion): writes batched per turn of
// the event loop, back-pressure (while the socket's buffer is full, writes wait here until 'drain') and one
// max-queue rule (max_send_queue), judged once a burst has been handed to the kernel.
import type { StreamTransport } from './transport.js';

export interface SendQueueOptions {
  /** Characters that may wait (here and in the socket's buffer) before the peer counts as not reading. */
  maxQueued: () => number;
  /** Over the limit once the kernel took what it could: the owner closes the stream. Called once. */
  overflow: (queued: number) => void;
}

export class SendQueue {
  private socket: StreamTransport | null = null;
  /** Writes that wait for 'drain', in order. */
  private waiting: string[] = [];
  private waitingChars = 0;
  private paused = false;
  private corked = false;
  /**
   * On a byte stream (TCP, TLS): what this turn wrote, joined into one string and written once at the end of
   * the turn (cheaper than corking: no buffered request per write, no writev). null: nothing pending. A
   * framed transport (WebSocket: one element per message) is corked instead.
   */
  private batch: string | null = null;
  private joinable = false;
  /** What goes out with the next write (hold()). */
  private held: string | null = null;
  private readonly writeBatch = (): void => {
    const data = this.batch;
    this.batch = null;
    const sock = this.socket;
    if (data === null || this.stopped || !sock || sock.destroyed) return;
    if (!this.put(sock, data)) this.pause();
  };
  private stopped = false;
  /** end() was asked while writes still waited: the socket ends once they are written. */
  private ending = false;
  private check: NodeJS.Immediate | null = null;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket?.uncork();
  };
  private readonly drained = (): void => this.onDrain();

  /** Bytes handed to the transports so far (UTF-8; before TLS), for the stream's closing log line. */
  bytesWritten = 0;

  constructor(private readonly opts: SendQueueOptions) {}

  /** Counted here, once per write to the socket (a turn's joined batch), not once per stanza. */
  private put(sock: StreamTransport, data: string): boolean {
    this.bytesWritten += Buffer.byteLength(data);
    return sock.write(data);
  }

  /** Write to this socket from now on (the first one, or the TLS socket after STARTTLS). */
  attach(socket: StreamTransport): void {
    this.flush();
    this.socket?.off('drain', this.drained);
    this.socket = socket;
    this.joinable = socket.framing === undefined;
    this.paused = false;
    if (this.waiting.length) this.onDrain();
  }

  /** Characters waiting: here and in the socket's own buffer (not yet taken by the kernel). */
  queued(): number {
    return this.waitingChars + (this.batch?.length ?? 0) + (this.socket?.writableLength ?? 0);
  }

  /**
   * Send `data` with the next write rather than on its own: a stream header whose features are still being
   * built by a hook chain (a later turn) then leaves in the same segment, one syscall fewer per stream. The
   * next write, a flush or an end sends it.
   */
  hold(data: string): void {
    if (!this.joinable) return this.write(data); // a framed transport: one element per message
    this.held = this.held === null ? data : this.held + data;
  }

  write(data: string): void {
    const sock = this.socket;
    if (this.stopped || !sock || sock.destroyed) return;
    if (this.held !== null) {
      data = this.held + data;
      this.held = null;
    }
    if (this.paused) {
      this.waiting.push(data);
      this.waitingChars += data.length;
    } else if (this.joinable) {
      // Everything written during this turn of the event loop goes out in one syscall (at load, one
      // write per stanza dominated CPU).
      if (this.batch === null) {
        this.batch = data;
        process.nextTick(this.writeBatch);
      } else {
        this.batch += data;
      }
    } else {
      if (!this.corked) {
        this.corked = true;
        sock.cork();
        process.nextTick(this.uncork);
      }
      if (!this.put(sock, data)) this.pause();
    }
    // A burst to a peer that reads looks like a peer that does not until the kernel has taken what it can:
    // judge what still waits after this turn's writes were flushed.
    if (!this.check && this.queued() > this.opts.maxQueued()) this.check = setImmediate(() => this.judge());
  }

  /** Hand what this turn wrote to the kernel now (before a TLS handshake takes the socket over). */
  flush(): void {
    if (this.held !== null) this.write('');
    this.uncork();
    this.writeBatch();
    if (this.waiting.length && this.socket && !this.socket.destroyed) {
      this.put(this.socket, this.take());
    }
  }

  /** End the socket after everything written so far (RFC 6120 §4.4: the closing tag is the last thing sent). */
  end(): void {
    if (!this.socket || this.socket.destroyed) return;
    if (this.held !== null) this.write('');
    this.writeBatch();
    if (this.waiting.length) this.ending = true;
    else this.socket.end();
  }

  /** Drop what waits here (the stream closes because the peer does not read it). */
  discard(): void {
    this.batch = null;
    this.held = null;
    this.waiting = [];
    this.waitingChars = 0;
    this.paused = false;
  }

  /** The stream ended for the server: nothing more is queued, timers are cleared. */
  stop(): void {
    // What still waits (after an overflow: the stream error and the closing tag) goes to the socket's
    // buffer as it is, and a pending end() happens now.
    this.flush();
    if (this.ending && this.socket && !this.socket.destroyed) this.socket.end();
    this.ending = false;
    this.stopped = true;
    this.discard();
    if (this.check) clearImmediate(this.check);
    this.check = null;
    this.socket?.off('drain', this.drained);
  }

  private pause(): void {
    this.paused = true;
    this.socket!.once('drain', this.drained);
  }

  private onDrain(): void {
    this.paused = false;
    const sock = this.socket;
    if (!sock || sock.destroyed || !this.waiting.length) return;
    // One write for everything that waited: one syscall, and the socket's buffer holds it in order.
    if (!this.put(sock, this.take())) this.pause();
    if (this.ending && !this.waiting.length) {
      this.ending = false;
      sock.end();
    }
  }

  private take(): string {
    const data = this.waiting.length === 1 ? this.waiting[0]! : this.waiting.join('');
    this.waiting = [];
    this.waitingChars = 0;
    return data;
  }

  private judge(): void {
    this.check = null;
    if (this.stopped || !this.socket || this.socket.destroyed) return;
    const queued = this.queued();
    if (queued > this.opts.maxQueued()) this.opts.overflow(queued);
  }
}
