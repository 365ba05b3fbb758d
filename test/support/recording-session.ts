// A Session (src/core/session.ts) that records what it was sent and how it was closed: the interface
// boundary between the core and a stream, for unit tests of the router and session manager.
import type { Element } from '@xmpp/xml';
import xml from '@xmpp/xml';
import { Jid } from '../../src/core/jid.js';
import type { StreamError } from '../../src/core/errors.js';
import type { Session } from '../../src/core/session.js';
import { OutboundChain, type OutboundFilter } from '../../src/core/outbound-chain.js';

let seq = 0;

export class RecordingSession implements Session {
  readonly id = `rec-${++seq}`;
  readonly jid: Jid;
  readonly host: string;
  readonly ip = '127.0.0.1';
  readonly secure = true;
  readonly authMechanism = 'PLAIN';
  readonly startedAt = Date.now();
  priority = 0;
  presence: Element | null = null;
  readonly sent: Element[] = [];
  /** Nonzas written past the outbound filters. */
  readonly nonzas: Element[] = [];
  private readonly outbound = new OutboundChain((el) => this.sent.push(el));
  closedWith: StreamError | undefined | null = null; // null: still open

  /** `priority` undefined: no available presence yet; a number: available with that priority. */
  constructor(full: string, priority?: number) {
    this.jid = Jid.parse(full);
    this.host = this.jid.domain;
    if (priority !== undefined) this.available(priority);
  }

  available(priority: number): this {
    this.priority = priority;
    this.presence = xml('presence', {}, xml('priority', {}, String(priority)));
    return this;
  }

  send(el: Element): void {
    this.outbound.send(el);
  }

  addOutboundFilter(fn: OutboundFilter, priority?: number): () => void {
    return this.outbound.add(fn, priority);
  }

  writeNonza(el: Element): void {
    this.nonzas.push(el);
  }

  close(error?: StreamError): void {
    this.closedWith = error;
  }

  readonly marks = new Set<string>();
  async mark(name: string, on: boolean): Promise<void> {
    if (on) this.marks.add(name);
    else this.marks.delete(name);
  }

  handOver(): void {}
  readonly detached = false;
  setDetachable(): void {}
  setInboundCounter(): void {}
}
