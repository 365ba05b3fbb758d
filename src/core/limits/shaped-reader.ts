// Reading a stream socket through a Shaper: bytes reach the parser no faster than the byte rate (the rest
// waits here while the socket is paused, so TCP flow control pushes back on the sender), and the stanza
// rate pauses reading too. It is also the one owner of pause/resume, so one reason to stop reading (the
// rate, a processing backlog) is never undone by another. Until the stream has authenticated it also
// counts the bytes read against a budget (limits.pre_auth_bytes).
import type { Shaper } from './shaper.js';

/** What the reader reads from: a node:net Socket, or a WebSocket transport that emits one message per 'data'. */
interface Socket {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Why reading is held: the byte rate, the stanza rate, or the owner's own backlog of unprocessed stanzas. */
export type HoldReason = 'bytes' | 'stanzas' | 'backlog';

/** Bytes a stream may send before it authenticates; `exceeded` is called once, after reading has stopped. */
export interface PreAuthBudget { bytes: number; exceeded(): void }
const BIT: Record<HoldReason, number> = { bytes: 1, stanzas: 2, backlog: 4 };

export class ShapedReader {
  private socket: Socket | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private drainTimer: NodeJS.Timeout | null = null;
  private stanzaTimer: NodeJS.Timeout | null = null;
  private holds = 0;
  private stopped = false;
  private readonly onData = (chunk: Buffer): void => this.push(chunk);

  /**
   * @param shaper null: nothing is shaped (exempt or unlimited); the reader then only owns pause/resume
   * @param deliver where the bytes go (the stream parser)
   * @param budget bytes allowed until authenticated() (null: no bound)
   */
  constructor(private shaper: Shaper | null, private readonly deliver: (chunk: Buffer) => void, private budget: PreAuthBudget | null = null) {
    if (shaper?.unlimited) this.shaper = null;
  }

  /** The stream has authenticated: the pre-authentication byte budget no longer applies. */
  authenticated(): void {
    this.budget = null;
  }

  /** Read from this socket (again after STARTTLS: bytes held from the old socket are dropped, never fed to the new stream). */
  attach(socket: Socket): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.clearDrain();
    this.holds &= ~BIT.bytes;
    this.socket = socket;
    socket.on('data', this.onData);
    if (this.holds) socket.pause();
  }

  /** Stop reading for a reason of the owner's (e.g. 'backlog'); reading resumes when no reason is left. */
  hold(reason: HoldReason): void {
    const was = this.holds;
    this.holds |= BIT[reason];
    if (!was && this.socket && !this.stopped) this.socket.pause();
  }

  release(reason: HoldReason): void {
    if (!(this.holds & BIT[reason])) return;
    this.holds &= ~BIT[reason];
    if (!this.holds && this.socket && !this.stopped) this.socket.resume();
  }

  /**
   * A stanza was parsed: milliseconds it must wait before being processed (0 within the stanza rate).
   * Reading is held for that long as well, so a flood waits in TCP buffers, not in server memory.
   */
  stanza(): number {
    if (!this.shaper?.limitsStanzas || this.stopped) return 0;
    const wait = this.shaper.onStanza();
    if (wait > 0 && !this.stopped) {
      this.hold('stanzas');
      this.stanzaTimer ??= this.stanzaRelease(wait);
    }
    return wait;
  }

  /** Lift shaping from here on (e.g. an exempt account has bound): what is held back is passed on now. */
  unlimit(): void {
    this.shaper = null;
    this.budget = null;
    this.clearDrain();
    if (this.stanzaTimer) clearTimeout(this.stanzaTimer);
    this.stanzaTimer = null;
    const held = this.takePending(this.pendingBytes);
    this.release('bytes');
    this.release('stanzas');
    if (held) this.deliver(held);
  }

  /** The connection is closing: drop held data and timers. */
  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.clearDrain();
    if (this.stanzaTimer) clearTimeout(this.stanzaTimer);
    this.stanzaTimer = null;
  }

  private push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.budget) {
      this.budget.bytes -= chunk.length;
      if (this.budget.bytes < 0) {
        const { exceeded } = this.budget;
        this.budget = null;
        this.stop();
        this.socket?.pause();
        return exceeded();
      }
    }
    if (!this.shaper?.limitsBytes) return this.deliver(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (!this.drainTimer) this.drain();
  }

  private drain(): void {
    this.drainTimer = null;
    if (this.stopped || !this.shaper) return;
    const { n, wait } = this.shaper.grantBytes(this.pendingBytes);
    if (this.stopped) return; // the shaper's overrun callback closed the connection
    const slice = this.takePending(n);
    if (slice) this.deliver(slice);
    if (this.stopped || !this.shaper) return;
    if (this.pendingBytes === 0) return this.release('bytes');
    this.hold('bytes');
    this.drainTimer = setTimeout(() => this.drain(), Math.max(1, Math.ceil(wait)));
    this.drainTimer.unref();
  }

  private stanzaRelease(wait: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.stanzaTimer = null;
      const left = this.shaper?.stanzaWait() ?? 0;
      if (left > 0 && !this.stopped) this.stanzaTimer = this.stanzaRelease(left);
      else this.release('stanzas');
    }, Math.max(1, Math.ceil(wait)));
    t.unref();
    return t;
  }

  private takePending(n: number): Buffer | null {
    if (n <= 0) return null;
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0 && this.pending.length) {
      const head = this.pending[0]!;
      if (head.length <= left) {
        parts.push(head);
        this.pending.shift();
        left -= head.length;
      } else {
        parts.push(head.subarray(0, left));
        this.pending[0] = head.subarray(left);
        left = 0;
      }
    }
    this.pendingBytes -= n - left;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private clearDrain(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
  }
}
