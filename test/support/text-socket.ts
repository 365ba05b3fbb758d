// The transcript side of the hand-driven test peers (RawClient for c2s, RawS2s for s2s): collects what
// arrives as text, waits for a pattern or for the close, and upgrades the socket for STARTTLS.
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export class TextSocket {
  buffer = '';
  closed = false;
  private waiters: Array<() => void> = [];

  protected constructor(public socket: Socket) {
    this.attach(socket);
  }

  private attach(sock: Socket): void {
    this.socket = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Wait until the received text matches; returns the match and consumes everything up to its end. */
  async expect(re: RegExp, timeoutMs = 5000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m.index + m[0].length);
        return m;
      }
      if (this.closed) throw new Error(`connection closed while waiting for ${re}; got: ${this.buffer.slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; got: ${this.buffer.slice(0, 500)}`);
      await this.wait(left);
    }
  }

  /** Wait for the other side to close the TCP connection; returns what was left unread. */
  async waitClosed(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open; got: ${this.buffer.slice(0, 500)}`);
      await this.wait(left);
    }
    return this.buffer;
  }

  async features(): Promise<string> {
    return (await this.expect(/<stream:features>[\s\S]*?<\/stream:features>|<stream:features\/>/))[0];
  }

  /** Send <starttls/>, wait for <proceed/>, and run TLS on the same socket (RFC 6120 §5.4). */
  protected async upgradeToTls(options: ConnectionOptions): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.expect(/<proceed xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']\/>/);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const tls = tlsConnect({ socket: raw, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', () => resolve());
      tls.once('error', reject);
    });
    this.buffer = '';
    this.attach(tls);
  }

  get tlsSocket(): TLSSocket {
    return this.socket as TLSSocket;
  }

  close(): void {
    this.socket.destroy();
  }
}
