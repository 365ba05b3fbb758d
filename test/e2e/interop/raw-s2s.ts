// A hand-driven peer server for s2s protocol tests (RFC 6120 §4-§6, XEP-0178): open a jabber:server stream,
// STARTTLS presenting a client certificate, SASL EXTERNAL, then raw writes and waits on what arrives.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class RawS2s {
  buffer = '';
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(public socket: Socket) {
    this.attach(socket);
  }

  static async connect(port: number): Promise<RawS2s> {
    const sock = netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    return new RawS2s(sock);
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

  send(data: string): void {
    this.socket.write(data);
  }

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
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`connection still open; got: ${this.buffer.slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buffer;
  }

  openStream(from: string | null, to: string): void {
    const f = from ? ` from='${from}'` : '';
    this.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'${f} to='${to}' version='1.0'>`);
  }

  async features(): Promise<string> {
    return (await this.expect(/<stream:features>[\s\S]*?<\/stream:features>|<stream:features\/>/))[0];
  }

  /** STARTTLS presenting `cert` (PEM) as the client certificate. */
  async starttls(servername: string, cert?: { certPem: string; keyPem: string }): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.expect(/<proceed xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']\/>/);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const tls = tlsConnect({ socket: raw, servername, rejectUnauthorized: false, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) });
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

  /** Full negotiation up to an authenticated stream via SASL EXTERNAL (XEP-0178). */
  static async authenticated(port: number, from: string, to: string, cert: { certPem: string; keyPem: string }): Promise<RawS2s> {
    const s = await RawS2s.connect(port);
    s.openStream(from, to);
    await s.features();
    await s.starttls(to, cert);
    s.openStream(from, to);
    const f = await s.features();
    if (!f.includes('EXTERNAL')) throw new Error(`EXTERNAL not offered: ${f}`);
    s.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from(from).toString('base64')}</auth>`);
    await s.expect(/<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    s.openStream(from, to);
    await s.features();
    return s;
  }

  close(): void {
    this.socket.destroy();
  }
}
