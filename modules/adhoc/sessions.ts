// XEP-0050 §3.3 (Session Lifetime): command sessions with unique ids, bound to one requester, ended by
// completion, cancellation or an inactivity timeout; ids this instance issued but no longer holds are
// recognisably "expired" (<session-expired/>) rather than unknown (<bad-sessionid/>).
import { randomBytes } from 'node:crypto';

export interface CommandSession {
  readonly id: string;
  readonly node: string;
  /** The full JID that started it: a session is valid between one requester/responder pair. */
  readonly owner: string;
  expiresAt: number;
  timer: NodeJS.Timeout;
  /** Aborted when the session ends (cancel, the requester's stream closing, module stop): a running command stops. */
  readonly cancel: AbortController;
}

export type Lookup =
  | { state: 'active'; session: CommandSession }
  | { state: 'ended' }
  | { state: 'unknown' };

export class SessionTable {
  private readonly sessions = new Map<string, CommandSession>();
  /** Random per instance, so ids are unguessable and never repeat across reloads. */
  private readonly prefix = randomBytes(6).toString('hex');
  private seq = 0;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Timers are plain unref'd timeouts cleared when their session ends, and all of them by clear() (run by
   * the module's onStop): ctx.setTimeout would record one disposer per session for the module's lifetime.
   */
  open(node: string, owner: string): CommandSession {
    const id = `${this.prefix}-${(this.seq++).toString(36)}`;
    const timer = setTimeout(() => this.end(id), this.timeoutMs);
    timer.unref();
    const s: CommandSession = { id, node, owner, expiresAt: Date.now() + this.timeoutMs, timer, cancel: new AbortController() };
    this.sessions.set(id, s);
    return s;
  }

  lookup(id: string): Lookup {
    const s = this.sessions.get(id);
    if (s && s.expiresAt > Date.now()) return { state: 'active', session: s };
    if (s) this.end(id); // its timer is late; the deadline is what counts
    return this.issued(id) ? { state: 'ended' } : { state: 'unknown' };
  }

  /** Was this id handed out by this instance (so it existed and has ended)? */
  private issued(id: string): boolean {
    const m = /^([0-9a-f]{12})-([0-9a-z]{1,11})$/.exec(id);
    return m !== null && m[1] === this.prefix && parseInt(m[2]!, 36) < this.seq;
  }

  end(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.sessions.delete(id);
    s.cancel.abort();
  }

  /**
   * The command is running (an import may take long): the session no longer times out; it ends when the
   * command does, when its requester's stream closes, or when the module stops.
   */
  hold(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    s.expiresAt = Infinity;
  }

  /** The command refused the submission and waits for another: the inactivity timeout runs again. */
  release(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => this.end(id), this.timeoutMs);
    s.timer.unref();
    s.expiresAt = Date.now() + this.timeoutMs;
  }

  /** The requester went away (its c2s session closed): its command sessions go with it. */
  endOwnedBy(owner: string): void {
    for (const s of [...this.sessions.values()]) if (s.owner === owner) this.end(s.id);
  }

  countOwnedBy(owner: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.owner === owner) n++;
    return n;
  }

  clear(): void {
    for (const id of [...this.sessions.keys()]) this.end(id);
  }
}
