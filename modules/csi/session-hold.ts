// The hold of one inactive session (XEP-0352): a filter in the session's outbound chain that keeps what
// can wait, in arrival order, and lets it out before anything urgent, when full, or when released.
import type { Element, Session } from '../../src/sdk.js';
import { judge } from './urgency.js';

export interface HoldEvents {
  held(n: number): void;
  flushed(n: number): void;
  /** A held presence replaced by a newer one from the same sender. */
  coalesced(n: number): void;
}

export class SessionHold {
  /** Insertion order is delivery order; a coalesced presence is deleted and set again, so it moves to the end. */
  private readonly held = new Map<string, Element>();
  private seq = 0;
  /** While flushing through session.send, the filter lets stanzas straight through. */
  private passing = false;
  private readonly removeFilter: () => void;

  constructor(
    readonly session: Session,
    private readonly queueSize: number,
    private readonly urgentPayloads: ReadonlySet<string>,
    private readonly events: HoldEvents,
  ) {
    // Priority 50: above stream management (10, next to the wire), which so counts only what is really written.
    this.removeFilter = session.addOutboundFilter((el, next) => this.filter(el, next), 50);
  }

  get size(): number {
    return this.held.size;
  }

  private filter(el: Element, next: (el: Element) => void): void {
    if (this.passing) return next(el);
    const verdict = judge(el, this.urgentPayloads);
    if (verdict.urgent) {
      this.flush(); // what was held first, in order, then the urgent stanza
      return next(el);
    }
    let key: string;
    if (verdict.replaces !== undefined) {
      key = `p ${verdict.replaces}`;
      if (this.held.delete(key)) this.events.coalesced(1);
    } else {
      key = `# ${this.seq++}`;
    }
    this.held.set(key, el);
    this.events.held(1);
    if (this.held.size > this.queueSize) this.flush();
  }

  /**
   * Write everything held, in order. Through session.send, not a `next` kept from an earlier call: the chain
   * may have changed since (stream management enabled later), and each stanza must pass what is below now.
   */
  flush(): void {
    if (this.held.size === 0) return;
    const out = [...this.held.values()];
    this.held.clear();
    this.passing = true;
    try {
      for (const el of out) this.session.send(el);
    } finally {
      this.passing = false;
    }
    this.events.flushed(out.length);
  }

  /** The client is active again (or the module stops): leave the chain, then write what was held. */
  release(): void {
    this.removeFilter();
    this.flush();
  }

  /** The session is gone (its stream no longer writes): leave the chain and hand back what was held. */
  detach(): Element[] {
    this.removeFilter();
    const out = [...this.held.values()];
    this.held.clear();
    return out;
  }
}
