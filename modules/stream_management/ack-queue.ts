// XEP-0198 §4 acknowledgements for one session: what the server wrote and the client has not acknowledged
// yet, and the count of stanzas the client sent (h). Counters wrap at 2^32 (§4).
import { xml, type Element, type Session } from '../../src/sdk.js';

export const NS_SM = 'urn:xmpp:sm:3';

type Next = (el: Element) => void;

export class AckQueue {
  /** Stanzas received from the client (the h we acknowledge). */
  handled = 0;
  /** Stanzas written to the client, acknowledged or not. */
  private sent = 0;
  /** Written, not yet acknowledged, oldest first. */
  unacked: Element[] = [];
  /** An <r/> is out and no <a/> came back since. */
  private requested = false;
  /** The rest of the outbound chain (toward the stream), kept to re-send on resumption. */
  private next: Next | null = null;

  constructor(
    readonly session: Session,
    private readonly ackAfter: number,
    private readonly maxUnacked: number,
    private readonly overflow: () => void,
  ) {}

  /** The outbound filter: counts exactly what goes to the stream (registered next to the wire). */
  readonly filter = (el: Element, next: Next): void => {
    this.next = next;
    this.unacked.push(el);
    this.sent = (this.sent + 1) >>> 0;
    next(el);
    if (this.unacked.length > this.maxUnacked) return this.overflow();
    if (!this.requested && this.unacked.length >= this.ackAfter) this.request();
  };

  readonly countInbound = (): void => {
    this.handled = (this.handled + 1) >>> 0;
  };

  /** Ask the client for an acknowledgement (§4 <r/>), unless it has no transport. */
  request(): void {
    if (this.session.detached) return;
    this.requested = true;
    this.session.writeNonza(xml('r', { xmlns: NS_SM }));
  }

  /** How many stanzas an <a h='h'/> acknowledges now; -1 if h is more than was sent (§4 handled-count-too-high). */
  acknowledges(h: number): number {
    const n = (h - ((this.sent - this.unacked.length) >>> 0)) >>> 0;
    return n > this.unacked.length ? -1 : n;
  }

  /** Drop what h acknowledges; false when h is too high (nothing changes then). */
  ack(h: number): boolean {
    const n = this.acknowledges(h);
    if (n < 0) return false;
    this.unacked.splice(0, n);
    this.requested = false;
    return true;
  }

  /** A session handed over by another cluster node: the counters go on from there (its h, and the client's). */
  restore(handled: number, acknowledged: number): void {
    this.handled = handled >>> 0;
    this.sent = acknowledged >>> 0;
  }

  /** On resumption (§5): write the unacknowledged stanzas again, counted again from the client's h. */
  resend(): void {
    const pending = this.unacked;
    if (!pending.length || !this.next) return;
    this.unacked = [];
    this.sent = (this.sent - pending.length) >>> 0;
    this.requested = false;
    for (const el of pending) this.filter(el, this.next);
  }
}

/** A valid h attribute (xs:unsignedInt), or null. */
export function parseH(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return null;
  const n = Number(v);
  return n <= 0xffffffff ? n : null;
}
