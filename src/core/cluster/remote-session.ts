// A session bound on another cluster node (DESIGN.md "Data layer": the session registry), as the session manager
// holds it: the router's rules (RFC 6121 §8.5 targets, priorities, presence to available resources) see every
// node's resources alike; send() forwards the stanza to the node that holds the real session.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../jid.js';
import type { Session } from '../session.js';
import type { StreamError } from '../errors.js';
import type { OutboundFilter } from '../outbound-chain.js';

/** What a node does with a remote session: forward a stanza to it, or have its node close it. */
export interface RemoteSessionLink {
  forward(session: RemoteSession, el: Element): void;
  close(session: RemoteSession, error?: StreamError): void;
}

export class RemoteSession implements Session {
  readonly ip = '';
  readonly secure = true;
  readonly authMechanism = '';
  readonly detached = false;
  marks: ReadonlySet<string>;

  constructor(
    readonly id: string,
    readonly jid: Jid,
    readonly remote: string,
    readonly startedAt: number,
    public priority: number,
    public presence: Element | null,
    private readonly link: RemoteSessionLink,
    marks: string[] = [],
  ) {
    this.marks = new Set(marks);
  }

  get host(): string {
    return this.jid.domain;
  }

  send(el: Element): void {
    this.link.forward(this, el);
  }

  /** Set by its own node only (this mirror follows the registry). */
  async mark(_name: string, _on: boolean): Promise<void> {}

  /** Only its own node hands it over. */
  handOver(_node: string): void {}

  close(error?: StreamError): void {
    this.link.close(this, error);
  }

  // Outbound filters, nonzas, detaching and counting belong to the stream, on its own node.
  addOutboundFilter(_fn: OutboundFilter, _priority?: number): () => void {
    return () => {};
  }
  writeNonza(_el: Element): void {}
  setDetachable(_onDetach: ((reason: string) => void) | null): void {}
  setInboundCounter(_fn: (() => void) | null): void {}
}
