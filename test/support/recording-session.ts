// A Session (src/core/session.ts) that records what it was sent and how it was closed: the interface
// boundary between the core and a stream, for unit tests of the router and session manager.
import type { Element } from '@xmpp/xml';
import xml from '@xmpp/xml';
import { Jid } from '../../src/core/jid.js';
import type { StreamError } from '../../src/core/errors.js';
import type { Session } from '../../src/core/session.js';

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
    this.sent.push(el);
  }

  close(error?: StreamError): void {
    this.closedWith = error;
  }
}
