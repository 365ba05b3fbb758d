// Per-connection shaper (DESIGN.md "Access control"): a byte rate and a stanza rate, in the manner of
// ejabberd's c2s_shaper/s2s_shaper. Over a rate a connection is SLOWED (read later), not refused; only
// max_burst, a hard cap on how long it may stay over, ends it (RFC 6120 §4.9.3.14 <policy-violation/>).
import { TokenBucket } from './token-bucket.js';

export type ShapedKind = 'bytes' | 'stanzas';

export interface ShaperOptions {
  /** Bytes read per second; 0 or absent: unlimited. One second's worth may arrive at once (the burst). */
  bytesPerSecond?: number;
  /** Stanzas (top-level elements) processed per second; 0 or absent: unlimited. */
  stanzasPerSecond?: number;
  /**
   * Seconds a connection may stay over a rate without a break — counting what it has already sent and
   * must still wait for — before onOverrun; 0 or absent: never (it is only slowed).
   */
  maxBurst?: number;
  /** A run over a rate begins (once per run, not per delayed read: a run ends when the bucket is full again). */
  onThrottle?: (kind: ShapedKind) => void;
  /** Over a rate for longer than maxBurst seconds: the owner should end the connection. Called once. */
  onOverrun?: (kind: ShapedKind) => void;
}

/** Reads are handed out in slices of about a tenth of a second's worth while a connection is held back. */
const sliceOf = (b: TokenBucket): number => Math.max(1, Math.min(b.capacity, Math.max(256, Math.floor(b.rate / 10))));

export class Shaper {
  private readonly buckets: Record<ShapedKind, TokenBucket | null>;
  /** When the current run over each rate began; null while within the rate. */
  private readonly overSince: Record<ShapedKind, number | null> = { bytes: null, stanzas: null };
  private overrun = false;

  constructor(private readonly opts: ShaperOptions, now = performance.now()) {
    const bucket = (rate = 0) => (rate > 0 ? new TokenBucket(rate, Math.max(rate, 1), now) : null);
    this.buckets = { bytes: bucket(opts.bytesPerSecond), stanzas: bucket(opts.stanzasPerSecond) };
  }

  get unlimited(): boolean {
    return !this.buckets.bytes && !this.buckets.stanzas;
  }

  get limitsBytes(): boolean {
    return this.buckets.bytes !== null;
  }

  get limitsStanzas(): boolean {
    return this.buckets.stanzas !== null;
  }

  /**
   * `wanted` bytes have been received: how many may be passed on now (n), and when not all of them, the
   * milliseconds until the next slice may follow (wait). For readers that hold data back (ShapedReader).
   */
  grantBytes(wanted: number, now = performance.now()): { n: number; wait: number } {
    const b = this.buckets.bytes;
    if (!b) return { n: wanted, wait: 0 };
    if (b.isFull(now)) this.overSince.bytes = null;
    const n = Math.min(wanted, Math.max(0, Math.floor(b.level(now))));
    if (n > 0) b.take(n, now);
    if (n === wanted) return { n, wait: 0 };
    const wait = b.waitFor(Math.min(wanted - n, sliceOf(b)), now);
    this.throttled('bytes', now, ((wanted - n) / b.rate) * 1000);
    return { n, wait };
  }

  /** n bytes were read already: milliseconds to stop reading for (ejabberd's model: read, then pause). */
  onBytes(n: number, now = performance.now()): number {
    return this.spend('bytes', n, now);
  }

  /** A stanza arrived: milliseconds to hold it (and further reading) back; 0 within the rate. */
  onStanza(now = performance.now()): number {
    return this.spend('stanzas', 1, now);
  }

  /** Milliseconds until the stanza rate is paid off (0 when it is). */
  stanzaWait(now = performance.now()): number {
    return this.buckets.stanzas?.waitFor(0, now) ?? 0;
  }

  private spend(kind: ShapedKind, n: number, now: number): number {
    const b = this.buckets[kind];
    if (!b) return 0;
    if (b.isFull(now)) this.overSince[kind] = null;
    b.take(n, now);
    const wait = b.waitFor(0, now);
    if (wait > 0) this.throttled(kind, now, wait);
    return wait;
  }

  /** `behind`: how long, from now, what was already sent keeps the connection over the rate. */
  private throttled(kind: ShapedKind, now: number, behind: number): void {
    let since = this.overSince[kind];
    if (since === null) {
      since = this.overSince[kind] = now;
      this.opts.onThrottle?.(kind);
    }
    const cap = (this.opts.maxBurst ?? 0) * 1000;
    if (cap > 0 && !this.overrun && now + behind - since > cap) {
      this.overrun = true;
      this.opts.onOverrun?.(kind);
    }
  }
}
