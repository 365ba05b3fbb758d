// A test client that behaves like a real mobile client on a cluster (XEP-0198): stream management with
// resumption, <a/> for every <r/>, and on a stream error (see-other-host, system-shutdown) or a lost connection
// it reconnects — to the see-other-host address, else to the next node, as a load balancer would — and resumes
// (§5), or binds again and re-sends what the server never acknowledged (same ids). It keeps the tally the
// rolling-restart test checks: what the server acknowledged, what arrived, and how long each failover took.
import xmlPkg from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { RawClient } from './raw-client.js';

const { Parser } = xmlPkg as unknown as { Parser: new () => NodeJS.EventEmitter & { write(s: string): void } };
const SM = 'urn:xmpp:sm:3';
const STREAM_HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

export interface Received {
  id: string; from: string; body: string; via: 'live' | 'offline' | 'resent';
  /** For an offline message: when it was stored (XEP-0203 stamp), and the logins of this client before it arrived. */
  stamp?: number; logins?: number[];
}
export interface Failover { reason: string; at: number; back: number | null; firstMessage: number | null; how: 'resumed' | 'login' | null; to: number }

export class SmClient {
  /** Server ports of the nodes, in load-balancer order. */
  node = 0;
  private c: RawClient | null = null;
  private previd: string | null = null;
  /** Stanzas received on the current SM session (h, XEP-0198 §4). */
  private inH = 0;
  /** Outbound stanzas (messages) since enable/resume: the server acknowledges a prefix. */
  private outQueue: Array<{ id: string | null; xml: string }> = [];
  private outBase = 0;
  up = false;
  stopped = false;
  /** Ids of messages the server acknowledged (XEP-0198 <a/> or <resumed h/>). */
  readonly acked = new Set<string>();
  readonly sent = new Set<string>();
  readonly received: Received[] = [];
  readonly failovers: Failover[] = [];
  private waiters: Array<{ test: (el: Element) => boolean; resolve: (el: Element) => void; reject: (err: Error) => void }> = [];
  /** During the first messages after <resumed/>, what arrives before any new traffic is the server's re-sends. */
  private resentWindow = false;
  errors: string[] = [];
  /** When each fresh session (bind + initial presence) began. */
  readonly logins: number[] = [];

  constructor(readonly user: string, readonly host: string, readonly resource: string, readonly ports: () => number[], start: number) {
    this.node = start;
  }

  get bare(): string {
    return `${this.user}@${this.host}`;
  }

  async connect(): Promise<void> {
    await this.session(this.ports()[this.node]!, null);
  }

  /** One connection: STARTTLS, SASL, then resume the previous session or bind, enable and go available. */
  private async session(port: number, failover: Failover | null): Promise<void> {
    const c = await RawClient.secured(port, { host: this.host });
    this.c = c;
    const r = await c.authScram('SCRAM-SHA-256', this.user, `pw-${this.user}`);
    if (!r.startsWith('<success')) throw new Error(`login failed: ${r}`);
    c.openStream(this.host);
    await c.features();
    const parser = new Parser();
    parser.on('element', (el: Element) => this.onElement(c, el));
    parser.on('error', () => c.close());
    parser.write(STREAM_HEADER + c.buffer);
    c.buffer = '';
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: string) => parser.write(d));
    c.socket.on('close', () => this.onLost(c, 'connection lost'));
    if (c.closed) throw new Error('closed during login');

    if (this.previd) {
      c.send(`<resume xmlns='${SM}' previd='${this.previd}' h='${this.inH}'/>`);
      const a = await this.wait((el) => el.attrs.xmlns === SM && (el.name === 'resumed' || el.name === 'failed'));
      if (a.name === 'resumed') {
        this.ackUpTo(Number(a.attrs.h));
        this.resentWindow = true;
        this.up = true;
        if (failover) { failover.back = Date.now(); failover.how = 'resumed'; }
        // §5: the client re-sends what the server had not acknowledged.
        const pending = this.outQueue.filter((m) => m.id !== null);
        this.outQueue = [];
        for (const m of pending) this.write(m.id, m.xml);
        this.c.send(`<r xmlns='${SM}'/>`);
        return;
      }
    }
    // A fresh session (first login, or resumption refused): what the old one never acknowledged is sent again.
    const pending = this.outQueue.filter((m) => m.id !== null);
    this.outQueue = [];
    this.outBase = 0;
    this.inH = 0;
    this.previd = null;
    c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${this.resource}</resource></bind></iq>`);
    const b = await this.wait((el) => el.name === 'iq' && el.attrs.id === 'bind');
    if (b.attrs.type !== 'result') throw new Error(`bind failed: ${b.toString()}`);
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    const e = await this.wait((el) => el.attrs.xmlns === SM && (el.name === 'enabled' || el.name === 'failed'));
    if (e.name !== 'enabled') throw new Error(`enable failed: ${e.toString()}`);
    this.previd = e.attrs.id ?? null;
    this.resentWindow = false;
    this.up = true;
    this.logins.push(Date.now());
    this.write(null, '<presence/>'); // initial presence (counted by the server's h): offline messages come now
    if (failover) { failover.back = Date.now(); failover.how = 'login'; }
    for (const m of pending) this.write(m.id, m.xml);
    if (pending.length) c.send(`<r xmlns='${SM}'/>`);
  }

  private wait(test: (el: Element) => boolean, ms = 20_000): Promise<Element> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.bare}: timed out waiting for an answer`));
      }, ms);
      const w = { test, resolve: (el: Element) => { clearTimeout(t); resolve(el); }, reject: (err: Error) => { clearTimeout(t); reject(err); } };
      this.waiters.push(w);
    });
  }

  private onElement(c: RawClient, el: Element): void {
    if (c !== this.c) return;
    const w = this.waiters.find((x) => x.test(el));
    if (w) this.waiters = this.waiters.filter((x) => x !== w);
    if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') {
      if (this.previd) this.inH++;
      if (el.name === 'message' && el.getChildText('body') !== null) {
        const delay = el.getChild('delay', 'urn:xmpp:delay');
        this.received.push({
          id: el.attrs.id, from: el.attrs.from, body: el.getChildText('body')!, via: delay ? 'offline' : this.resentWindow ? 'resent' : 'live',
          ...(delay ? { stamp: Date.parse(delay.attrs.stamp), logins: [...this.logins] } : {}),
        });
        const f = this.failovers.at(-1);
        if (f && f.back !== null && f.firstMessage === null) f.firstMessage = Date.now();
      }
    } else if (el.attrs.xmlns === SM && el.name === 'r') {
      c.send(`<a xmlns='${SM}' h='${this.inH}'/>`);
      this.resentWindow = false; // the server's re-sends came before its first new request
    } else if (el.attrs.xmlns === SM && el.name === 'a') {
      this.ackUpTo(Number(el.attrs.h));
    } else if (el.name === 'stream:error') {
      const soh = el.getChildText('see-other-host', 'urn:ietf:params:xml:ns:xmpp-streams');
      const cond = el.children.find((x) => typeof x !== 'string' && x.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-streams') as Element | undefined;
      this.onLost(c, cond?.name ?? 'stream error', soh ? Number(soh.split(':').at(-1)) : undefined);
    }
    w?.resolve(el);
  }

  /** h counts the stanzas of this SM session the server handled: outQueue holds those after the first outBase. */
  private ackUpTo(h: number): void {
    const n = h - this.outBase;
    if (n > this.outQueue.length || n < 0) {
      this.errors.push(`h=${h}: ${this.outBase} acknowledged and ${this.outQueue.length} waiting`);
      return;
    }
    for (const m of this.outQueue.splice(0, n)) if (m.id !== null) this.acked.add(m.id);
    this.outBase = h;
  }

  private write(id: string | null, x: string): void {
    this.outQueue.push({ id, xml: x });
    this.c!.send(x);
  }

  /** A chat message to `to` (bare JID); the client asks for an acknowledgement every 5. */
  send(to: string, id: string, body: string): boolean {
    if (!this.up || !this.c) return false;
    this.sent.add(id);
    this.write(id, `<message to='${to}' type='chat' id='${id}'><body>${body}</body></message>`);
    if ((this.outBase + this.outQueue.length) % 5 === 0) this.c.send(`<r xmlns='${SM}'/>`);
    return true;
  }

  requestAck(): void {
    if (this.up && this.c) this.c.send(`<r xmlns='${SM}'/>`);
  }

  private onLost(c: RawClient, reason: string, seeOther?: number): void {
    if (c !== this.c || this.stopped) return;
    if (!this.up) {
      // Lost while logging in or resuming: the attempt fails, reconnect() tries the next node.
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x.reject(new Error(`${reason} during login`));
      return;
    }
    this.up = false;
    this.c = null;
    c.close();
    const ports = this.ports();
    let next = seeOther !== undefined ? ports.indexOf(seeOther) : -1;
    if (next < 0) next = (this.node + 1) % ports.length;
    const f: Failover = { reason, at: Date.now(), back: null, firstMessage: null, how: null, to: next };
    this.failovers.push(f);
    void this.reconnect(f, next);
  }

  /** Reconnect until a node takes the client: the load balancer's next node when one refuses. */
  private async reconnect(f: Failover, first: number): Promise<void> {
    let node = first;
    for (let attempt = 0; !this.stopped; attempt++) {
      this.node = node;
      try {
        await this.session(this.ports()[node]!, f);
        f.to = node;
        return;
      } catch {
        const c = this.c;
        this.c = null;
        this.up = false;
        c?.close();
        node = (node + 1) % this.ports().length;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }

  /** The network goes away under the client (no closing tag): it reconnects to the next node and resumes. */
  drop(): void {
    this.c?.socket.destroy();
  }

  close(): void {
    this.stopped = true;
    this.up = false;
    this.c?.close();
  }
}
