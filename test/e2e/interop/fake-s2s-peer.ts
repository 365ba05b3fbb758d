// A scripted Receiving Server for s2s tests: STARTTLS, accepts any dialback key (XEP-0220) and offers XEP-0198,
// then records the stanzas of each connection; per connection it may withhold acks and drop the TCP
// connection after N stanzas, to show what the sending server does with unacknowledged stanzas.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import { StreamParser } from '../../../src/interface/xml/stream-parser.js';

export interface FakeBehaviour {
  /** Answer <r/> with <a/>. */
  ack: boolean;
  /** Destroy the connection after this many stanzas. */
  closeAfter?: number;
}

export class FakeS2sPeer {
  /** Stanzas received, per connection. */
  readonly received: string[][] = [];
  /** What happened on each connection (for assertion messages). */
  readonly events: string[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly domain: string,
    private readonly cert: { certPem: string; keyPem: string },
    /** Behaviour of the 1st, 2nd, ... connection; the last one repeats. */
    private readonly behaviours: FakeBehaviour[],
  ) {}

  async start(port = 0): Promise<number> {
    const srv = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = srv;
    this.port = (srv.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }

  private accept(raw: Socket): void {
    const n = this.received.length;
    this.received.push([]);
    const behaviour = this.behaviours[Math.min(n, this.behaviours.length - 1)]!;
    this.sockets.add(raw);
    this.events.push(`#${n} accepted`);
    raw.on('close', () => {
      this.sockets.delete(raw);
      this.events.push(`#${n} closed after ${this.received[n]!.length} stanzas`);
    });
    raw.on('error', () => {});
    this.stream(raw, false, n, behaviour);
  }

  private stream(sock: Socket, secure: boolean, n: number, behaviour: FakeBehaviour): void {
    let h = 0;
    const parser = new StreamParser({
      streamStart: (_name, attrs) => {
        sock.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='fake${n}${secure ? 's' : ''}' from='${this.domain}' to='${attrs.from ?? ''}' version='1.0'>`);
        sock.write(secure
          ? "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>"
          : "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
      },
      stanza: (el) => {
        if (el.name === 'starttls') {
          sock.removeAllListeners('data');
          sock.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
          const tls = new TLSSocket(sock, { isServer: true, secureContext: createSecureContext({ cert: this.cert.certPem, key: this.cert.keyPem }) });
          tls.on('error', (err) => this.events.push(`#${n} TLS error ${err.message}`));
          tls.once('secure', () => this.stream(tls, true, n, behaviour));
        } else if (el.name === 'db:result') {
          sock.write(`<db:result from='${el.attrs.to}' to='${el.attrs.from}' type='valid'/>`);
        } else if (el.name === 'enable') {
          sock.write("<enabled xmlns='urn:xmpp:sm:3'/>");
        } else if (el.name === 'r') {
          if (behaviour.ack) sock.write(`<a xmlns='urn:xmpp:sm:3' h='${h}'/>`);
        } else if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') {
          h++;
          this.received[n]!.push(el.toString());
          if (behaviour.closeAfter !== undefined && h >= behaviour.closeAfter) sock.destroy();
        } else {
          this.events.push(`#${n} <${el.name}/>`);
        }
      },
      streamEnd: () => {
        this.events.push(`#${n} stream end`);
        sock.end('</stream:stream>');
      },
      error: (condition, text) => {
        this.events.push(`#${n} parse error ${condition}: ${text}`);
        sock.destroy();
      },
    });
    sock.on('data', (d: Buffer) => parser.write(d));
  }
}
