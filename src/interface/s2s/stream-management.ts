// XEP-0198 acknowledgements on s2s streams, without resumption: the receiving side counts handled
// stanzas (h, mod 2^32, §4); the sending side keeps what the peer has not acknowledged, so a stream that
// dies does not lose stanzas silently (they are retried on a new stream or bounced).
export const NS_SM = 'urn:xmpp:sm:3';

const MOD = 2 ** 32;

export class StreamManagement<T = unknown> {
  inboundEnabled = false;
  outboundEnabled = false;
  private hIn = 0;
  private acked = 0;
  private unacked: T[] = [];

  enableInbound(): void {
    this.inboundEnabled = true;
    this.hIn = 0;
  }

  /** A stanza received and handled (counted only once <enable/> was answered). */
  handled(): void {
    if (this.inboundEnabled) this.hIn = (this.hIn + 1) % MOD;
  }

  handledIn(): number {
    return this.hIn;
  }

  /** We sent <enable/>: stanzas from now on are counted and kept until acknowledged. */
  enableOutbound(): void {
    this.outboundEnabled = true;
    this.acked = 0;
  }

  sent(item: T): void {
    if (this.outboundEnabled) this.unacked.push(item);
  }

  /** Apply <a h='…'/>; returns false when h acknowledges more than was sent (a protocol error). */
  ack(h: number): boolean {
    const n = (h - this.acked + MOD) % MOD;
    if (n > this.unacked.length) return false;
    this.unacked.splice(0, n);
    this.acked = h;
    return true;
  }

  pending(): number {
    return this.unacked.length;
  }

  /** Everything never acknowledged (the stream is gone). */
  takeUnacked(): T[] {
    const out = this.unacked;
    this.unacked = [];
    return out;
  }
}
