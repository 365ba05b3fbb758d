// The per-session outbound chain: modules that sit between the router and a client's stream (XEP-0352
// client state indication holds non-urgent stanzas, XEP-0198 stream management counts what goes out).
// Each filter passes a stanza on with next(), now or later, or not at all. Empty for most sessions: the
// send path then costs one null check.
import type { Element } from '@xmpp/xml';

/** Pass `el` on (to the next filter, or to the stream); call it now, later, or never. */
export type OutboundNext = (el: Element) => void;
export type OutboundFilter = (el: Element, next: OutboundNext) => void;

interface Entry { fn: OutboundFilter; priority: number }

export class OutboundChain {
  private entries: Entry[] = [];
  /** The composed chain ending at the stream's writer; rebuilt when filters change. */
  private head: OutboundNext | null = null;

  constructor(private readonly write: OutboundNext) {}

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /**
   * Add a filter; higher priority runs first (farther from the stream). Stream management registers low
   * (next to the wire, so it counts what the client really gets); a hold-and-flush filter runs before it.
   */
  add(fn: OutboundFilter, priority = 50): () => void {
    const entry = { fn, priority };
    this.entries = [...this.entries, entry].sort((a, b) => b.priority - a.priority);
    this.head = null;
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
      this.head = null;
    };
  }

  send(el: Element): void {
    if (this.entries.length === 0) return this.write(el);
    (this.head ??= this.compose())(el);
  }

  private compose(): OutboundNext {
    let next: OutboundNext = this.write;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { fn } = this.entries[i]!;
      const after = next;
      next = (el) => fn(el, after);
    }
    return next;
  }
}
