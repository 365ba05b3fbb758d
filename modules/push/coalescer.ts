// Rate control for XEP-0357 notifications: per account, the first message is announced at once; messages in
// the next `interval` are summed into one trailing notification (the latest sender and count), sent only if
// the count changed since the last one. So an account gets at most one notification per interval, never a storm.
import type { Jid, ModuleContext } from '../../src/sdk.js';
import type { Summary } from './publish.js';

interface AccountState {
  /** Messages noticed since a client last showed them. */
  tally: number;
  summary: Summary;
  lastSentAt: number;
  lastCount: number;
  timer?: NodeJS.Timeout;
}

export class Coalescer {
  private readonly accounts = new Map<string, AccountState>();

  constructor(
    ctx: ModuleContext<any>,
    private readonly interval: () => number,
    private readonly send: (owner: Jid, summary: Summary) => void,
  ) {
    // Its own timers, cleared here on stop: ctx.setTimeout keeps a disposer per call for the module's whole
    // life, which would grow with every burst on a long-running server.
    ctx.onStop(() => {
      for (const st of this.accounts.values()) if (st.timer) clearTimeout(st.timer);
      this.accounts.clear();
    });
  }

  /** A message to announce; `count` is the unread count when known (the offline store), else the tally. */
  add(owner: Jid, last: { sender: string; body: string | null }, count?: number): void {
    const k = owner.toString();
    let st = this.accounts.get(k);
    if (!st) this.accounts.set(k, (st = { tally: 0, summary: { count: 0, sender: '', body: null }, lastSentAt: 0, lastCount: -1 }));
    st.tally++;
    st.summary = { count: count ?? st.tally, ...last };
    if (st.timer) return; // the trailing notification picks this one up
    const wait = st.lastSentAt + this.interval() - Date.now();
    if (wait <= 0) return this.flush(owner, st);
    st.timer = setTimeout(() => {
      st.timer = undefined;
      if (this.accounts.get(k) === st && st.summary.count !== st.lastCount) this.flush(owner, st);
    }, wait);
    st.timer.unref();
  }

  /** The account's clients have seen its messages: forget the tally and any pending notification. */
  reset(owner: Jid): void {
    const k = owner.toString();
    const st = this.accounts.get(k);
    if (!st) return;
    if (st.timer) clearTimeout(st.timer);
    this.accounts.delete(k);
  }

  private flush(owner: Jid, st: AccountState): void {
    st.lastSentAt = Date.now();
    st.lastCount = st.summary.count;
    this.send(owner, st.summary);
  }
}
