// Stanzas between cluster nodes (DESIGN.md "Data layer"): core NATS request/reply on the per-node subject
// `<name>.node.<node>`. Stanzas (and close requests) for one node are coalesced within an event-loop turn into
// one batch (link-batch.ts) with one reply listing the entries whose session is gone; one batch per node is in
// flight at a time, so entries reach the owning node in order, which writes them to the real session through
// user_receive_packet in arrival order per session (RFC 6120 §10.1). "No responders" or a timeout: the batch
// is sent again, whole and first, while the node's heartbeat is fresh, then its entries take the gone path.
import { randomBytes } from 'node:crypto';
import { parse } from 'ltx';
import type { Element } from '@xmpp/xml';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { DROP } from '../../../hooks/index.js';
import { Jid } from '../jid.js';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import type { Core } from '../core.js';
import type { Session } from '../session.js';
import type { ClusterRuntime } from './cluster-runtime.js';
import type { RemoteSession } from './remote-session.js';
import type { ClusterHandler, ClusterRpc } from './cluster-rpc.js';
import { BATCH_MARK, decodeBatch, encodeBatch, entrySize, type BatchEntry } from './link-batch.js';

/** Single requests: rpc; `deliver` and `close` are still answered for nodes that do not batch. */
type Request =
  | { op: 'deliver'; sid: string; jid: string; x: string }
  | { op: 'rpc'; host: string; name: string; from: string; p: unknown }
  | { op: 'close'; sid: string; jid: string; cond?: string; text?: string };

/** The answer to a batch: every entry reached its session (or was closed), or the indexes of those gone. */
type BatchReply = { ok: true } | { gone: number[] };

const enc = new TextEncoder();
const OK = enc.encode(JSON.stringify({ ok: true }));
const GONE = enc.encode(JSON.stringify({ gone: true }));

/** A batch is sent when the turn ends, or at once when it holds this many entries or characters. */
const MAX_ENTRIES = 1024;
const MAX_CHARS = 256 * 1024;

interface Pending extends BatchEntry {
  session: RemoteSession;
  el: Element | null;
}

/** What waits for one node: entries not yet sent, and whether a batch is in flight (or being retried). */
interface Outbox {
  queue: Pending[];
  chars: number;
  busy: boolean;
  scheduled: boolean;
}

/** After the writes queued in this turn (a connection writes its turn's stanzas in a process.nextTick). */
const afterWrites = (): Promise<void> => new Promise((r) => setImmediate(r));

/** `p` settled, or `ms` passed. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function nodeSubject(c: ClusterRuntime, node: string): string {
  return `${c.config.name}.node.${node}`;
}

export class NodeLink implements ClusterRpc {
  private readonly handlers = new Map<string, ClusterHandler>();

  private sub: Subscription | null = null;
  /** Per local session id, the tail of its forwarded deliveries still in user_receive_packet (kept in order). */
  private readonly tails = new Map<string, Promise<void>>();
  /** Whether `node` may still be waited for (liveness has not found it dead): a failed batch is retried then. */
  mayWait: (node: string) => boolean = () => false;
  /** Whether `node` takes batches (else, during a rolling upgrade, one request per entry). */
  batches: (node: string) => boolean = () => true;
  /** A remote session is gone from its node (`unreachable`: the whole node did not answer). */
  onGone: (session: RemoteSession, el: Element | null, unreachable: boolean) => void = () => {};

  /** This link's name in its batches: a batch sent again after a lost reply is answered, not run twice. */
  private readonly linkId: string;
  private seq = 0;
  private readonly outboxes = new Map<string, Outbox>();
  /** Per sending link, its last batch answered, the answer, and when its stanzas were written. */
  private readonly answered = new Map<string, { seq: number; reply: Uint8Array; written: Promise<void> }>();

  constructor(private readonly core: Core, private readonly cluster: ClusterRuntime) {
    this.linkId = `${cluster.node}/${randomBytes(6).toString('base64url')}`;
  }

  start(): void {
    this.sub = this.cluster.nc.subscribe(nodeSubject(this.cluster, this.cluster.node), {
      callback: (err, msg) => {
        if (!err) this.handle(msg);
      },
    });
  }

  private handle(msg: Msg): void {
    if (msg.data[0] === BATCH_MARK) return this.handleBatch(msg);
    let req: Request;
    try {
      req = msg.json<Request>();
    } catch {
      return;
    }
    if (req.op === 'rpc') return this.answer(msg, req);
    const s = this.local(req.sid, req.jid);
    if (!s) {
      msg.respond(GONE);
      return;
    }
    if (req.op === 'close') this.closeLocal(s, req.cond, req.text);
    else this.deliverLocal(s, req.x);
    msg.respond(OK);
  }

  private handleBatch(msg: Msg): void {
    const b = decodeBatch(msg.string());
    if (!b) return;
    const last = this.answered.get(b.link);
    if (last && last.seq === b.seq) {
      void last.written.then(() => msg.respond(last.reply)); // its reply was lost: the sender sent it again
      return;
    }
    let gone: number[] | null = null;
    let hooked: Promise<void>[] | null = null;
    b.entries.forEach((e, i) => {
      const s = this.local(e.sid, e.jid);
      if (!s) {
        (gone ??= []).push(i);
        return;
      }
      // One entry that fails here must not keep the batch unanswered (it would be sent again, whole).
      try {
        if (e.kind === 'c') {
          const c = e.x ? (JSON.parse(e.x) as { cond?: string; text?: string }) : {};
          this.closeLocal(s, c.cond, c.text);
        } else {
          const p = this.deliverLocal(s, e.x);
          if (p) (hooked ??= []).push(p);
        }
      } catch (err) {
        this.core.log.warn('a forwarded entry failed on its session', { err: (err as Error)?.message ?? String(err), jid: e.jid });
      }
    });
    const reply = gone ? enc.encode(JSON.stringify({ gone })) : OK;
    // Answered once the stanzas were handed to their sockets: the sender forgets them when the answer comes,
    // so a crash of this node between the two must not find them still in this process (the connections'
    // writes of this turn run before an immediate; deliveries through hooks are waited for first, for at most
    // half the sender's request timeout: a handler that hangs must not hold every stanza to this node).
    const written = (hooked ? settledWithin(Promise.all(hooked), this.cluster.config.node_timeout * 500) : Promise.resolve()).then(afterWrites);
    this.answered.set(b.link, { seq: b.seq, reply, written });
    void written.then(() => msg.respond(reply));
  }

  /** The local session a request names, if it is still this one. */
  private local(sid: string, jidText: string): Session | undefined {
    const jid = Jid.tryParse(jidText);
    const s = jid ? this.core.sessions.get(jid) : undefined;
    return s && s.remote === undefined && s.id === sid ? s : undefined;
  }

  private closeLocal(s: Session, cond?: string, text?: string): void {
    s.close(cond ? new StreamError(cond as StreamErrorCondition, text) : undefined);
  }

  /**
   * In arrival order per session; without user_receive_packet hooks and nothing queued, written at once.
   * Otherwise the promise settles once this stanza was written (or dropped by a hook).
   */
  private deliverLocal(s: Session, x: string): Promise<void> | undefined {
    let el: Element;
    try {
      el = parse(x) as unknown as Element;
    } catch {
      return undefined; // nothing a retry would fix
    }
    const prev = this.tails.get(s.id);
    const hooked = this.core.hooks.has('user_receive_packet', s.host);
    if (!prev && !hooked) {
      s.send(el);
      return undefined;
    }
    const run = async (): Promise<void> => {
      if (hooked) {
        const from = Jid.tryParse(el.attrs.from) ?? s.jid.bare();
        const r = await this.core.hooks.filter('user_receive_packet', s.host, el, { session: s, from, to: s.jid });
        if (r === DROP) this.core.metrics.stanzasDropped.inc({ hook: 'user_receive_packet' });
        else s.send(r);
      } else {
        s.send(el);
      }
    };
    const next = (prev ? prev.then(run) : run()).catch(() => {});
    this.tails.set(s.id, next);
    void next.finally(() => {
      if (this.tails.get(s.id) === next) this.tails.delete(s.id);
    });
    return next;
  }

  private answer(msg: Msg, req: { host: string; name: string; from: string; p: unknown }): void {
    const h = this.handlers.get(`${req.host}\u0000${req.name}`);
    if (!h) {
      msg.respond(JSON.stringify({ error: `no handler for ${req.name} on ${req.host}` }));
      return;
    }
    void (async () => {
      try {
        msg.respond(JSON.stringify({ r: (await h(req.p, req.from)) ?? null }));
      } catch (err) {
        msg.respond(JSON.stringify({ error: (err as Error)?.message ?? String(err) }));
      }
    })();
  }

  serve(host: string, name: string, handler: ClusterHandler): () => void {
    const k = `${host}\u0000${name}`;
    if (this.handlers.has(k)) throw new Error(`cluster request ${name} is already served on ${host}`);
    this.handlers.set(k, handler);
    return () => {
      if (this.handlers.get(k) === handler) this.handlers.delete(k);
    };
  }

  async request(node: string, host: string, name: string, payload: unknown): Promise<unknown> {
    const req: Request = { op: 'rpc', host, name, from: this.cluster.node, p: payload };
    const m = await this.cluster.nc.request(nodeSubject(this.cluster, node), JSON.stringify(req), { timeout: this.cluster.config.node_timeout * 1000 });
    const r = m.json<{ r?: unknown; error?: string }>();
    if (r.error !== undefined) throw new Error(r.error);
    return r.r;
  }

  /** RemoteSession.send: the stanza to the node holding the session. */
  forward(session: RemoteSession, el: Element): void {
    this.enqueue({ kind: 'd', sid: session.id, jid: session.jid.toString(), x: el.toString(), session, el });
  }

  /** RemoteSession.close: its node closes it (a resource conflict, an admin's kick), after what was sent before. */
  close(session: RemoteSession, error?: StreamError): void {
    const x = error ? JSON.stringify({ cond: error.condition, text: error.text || undefined }) : '';
    this.enqueue({ kind: 'c', sid: session.id, jid: session.jid.toString(), x, session, el: null });
  }

  private enqueue(p: Pending): void {
    const node = p.session.remote;
    let box = this.outboxes.get(node);
    if (!box) this.outboxes.set(node, (box = { queue: [], chars: 0, busy: false, scheduled: false }));
    box.queue.push(p);
    box.chars += entrySize(p);
    if (box.busy) return; // sent when the batch in flight is answered
    if (box.queue.length >= MAX_ENTRIES || box.chars >= MAX_CHARS) this.flush(node, box);
    else if (!box.scheduled) {
      box.scheduled = true;
      setImmediate(() => {
        box.scheduled = false;
        this.flush(node, box);
      });
    }
  }

  /** Send the next batch for `node`; when it is answered (or given up), the next one. */
  private flush(node: string, box: Outbox): void {
    if (box.busy || box.queue.length === 0) {
      if (box.queue.length === 0 && !box.busy && !box.scheduled) this.outboxes.delete(node);
      return;
    }
    let n = 0;
    let chars = 0;
    while (n < box.queue.length && n < MAX_ENTRIES && (n === 0 || chars + entrySize(box.queue[n]!) <= MAX_CHARS)) chars += entrySize(box.queue[n++]!);
    const batch = box.queue.splice(0, n);
    box.chars -= chars;
    box.busy = true;
    const payload = encodeBatch(this.linkId, ++this.seq, batch);
    const done = (r: BatchReply): void => {
      if ('gone' in r) for (const i of r.gone) { const p = batch[i]; if (p) this.onGone(p.session, p.el, false); }
    };
    const next = (): void => {
      box.busy = false;
      this.flush(node, box);
    };
    const send = (): Promise<BatchReply> => (this.batches(node) ? this.send(node, payload) : this.sendEach(node, batch));
    send().then(done, () =>
      // No responder: the node may be reconnecting to another NATS server. The batch is sent again while its
      // heartbeat is fresh (what follows waits behind it, in order); then its entries take the gone path.
      this.patiently(node, send).then(done, () => {
        for (const p of batch) this.onGone(p.session, p.el, true);
      }),
    ).catch(() => {}).finally(next);
  }

  private send(node: string, payload: string): Promise<BatchReply> {
    const timeout = this.cluster.config.node_timeout * 1000;
    return this.cluster.nc.request(nodeSubject(this.cluster, node), payload, { timeout }).then((m) => m.json<BatchReply>());
  }

  /** To a node of an earlier version: one request per entry, all in flight together, answered as a batch. */
  private async sendEach(node: string, batch: readonly Pending[]): Promise<BatchReply> {
    const timeout = this.cluster.config.node_timeout * 1000;
    const replies = await Promise.all(batch.map((p) => {
      const c = p.kind === 'c' && p.x ? (JSON.parse(p.x) as { cond?: string; text?: string }) : {};
      const req: Request = p.kind === 'd' ? { op: 'deliver', sid: p.sid, jid: p.jid, x: p.x } : { op: 'close', sid: p.sid, jid: p.jid, ...c };
      return this.cluster.nc.request(nodeSubject(this.cluster, node), JSON.stringify(req), { timeout }).then((m) => m.json<{ gone?: boolean }>());
    }));
    const gone = replies.flatMap((r, i) => (r.gone ? [i] : []));
    return gone.length ? { gone } : { ok: true };
  }

  /** Send until it is answered, or the node is found dead. */
  private async patiently(node: string, send: () => Promise<BatchReply>): Promise<BatchReply> {
    let wait = 100;
    for (;;) {
      if (!this.mayWait(node)) throw new Error(`cluster node ${node} is gone`);
      try {
        return await send();
      } catch {
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }
}
