// Stanzas between cluster nodes (DESIGN.md "Data layer"): core NATS request/reply on the per-node subject
// `<name>.node.<node>`. The owning node writes a forwarded stanza to the real session through
// user_receive_packet, in arrival order per session (RFC 6120 §10.1); "no responders" or a timeout means the
// node is gone.
import { parse } from 'ltx';
import type { Element } from '@xmpp/xml';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { DROP } from '../../../hooks/index.js';
import { Jid } from '../jid.js';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import type { Core } from '../core.js';
import type { ClusterRuntime } from './cluster-runtime.js';
import type { RemoteSession } from './remote-session.js';
import type { ClusterHandler, ClusterRpc } from './cluster-rpc.js';

type Request =
  | { op: 'deliver'; sid: string; jid: string; x: string }
  | { op: 'rpc'; host: string; name: string; from: string; p: unknown }
  | { op: 'close'; sid: string; jid: string; cond?: string; text?: string };

/** The answer: the stanza reached the session (or it was closed), or that session is gone from its node. */
type Reply = { ok: true } | { gone: true };

const enc = new TextEncoder();
const OK = enc.encode(JSON.stringify({ ok: true }));
const GONE = enc.encode(JSON.stringify({ gone: true }));

export function nodeSubject(c: ClusterRuntime, node: string): string {
  return `${c.config.name}.node.${node}`;
}

export class NodeLink implements ClusterRpc {
  private readonly handlers = new Map<string, ClusterHandler>();

  private sub: Subscription | null = null;
  /** Per local session id, the tail of its forwarded deliveries (kept in order). */
  private readonly tails = new Map<string, Promise<void>>();
  /** Whether `node` may still be waited for (liveness has not found it dead): a failed request is retried then. */
  mayWait: (node: string) => boolean = () => false;
  /** Per node, the tail of the stanzas waiting for it to answer again (kept in order behind the first). */
  private readonly waiting = new Map<string, Promise<void>>();
  /** A remote session is gone from its node (`unreachable`: the whole node did not answer). */
  onGone: (session: RemoteSession, el: Element | null, unreachable: boolean) => void = () => {};

  constructor(private readonly core: Core, private readonly cluster: ClusterRuntime) {}

  start(): void {
    this.sub = this.cluster.nc.subscribe(nodeSubject(this.cluster, this.cluster.node), {
      callback: (err, msg) => {
        if (!err) this.handle(msg);
      },
    });
  }

  private handle(msg: Msg): void {
    let req: Request;
    try {
      req = msg.json<Request>();
    } catch {
      return;
    }
    if (req.op === 'rpc') return this.answer(msg, req);
    const jid = Jid.tryParse(req.jid);
    const s = jid ? this.core.sessions.get(jid) : undefined;
    if (!s || s.remote !== undefined || s.id !== req.sid) {
      msg.respond(GONE);
      return;
    }
    if (req.op === 'close') {
      s.close(req.cond ? new StreamError(req.cond as StreamErrorCondition, req.text) : undefined);
      msg.respond(OK);
      return;
    }
    let el: Element;
    try {
      el = parse(req.x) as unknown as Element;
    } catch {
      msg.respond(OK); // nothing a retry would fix
      return;
    }
    const prev = this.tails.get(s.id);
    const run = async (): Promise<void> => {
      if (this.core.hooks.has('user_receive_packet', s.host)) {
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
    msg.respond(OK);
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

  private send(node: string, req: Request): Promise<Reply> {
    const timeout = this.cluster.config.node_timeout * 1000;
    return this.cluster.nc.request(nodeSubject(this.cluster, node), JSON.stringify(req), { timeout }).then((m) => m.json<Reply>());
  }

  /** RemoteSession.send: the stanza to the node holding the session. */
  forward(session: RemoteSession, el: Element): void {
    const node = session.remote;
    const req: Request = { op: 'deliver', sid: session.id, jid: session.jid.toString(), x: el.toString() };
    const done = (r: Reply) => { if ('gone' in r) this.onGone(session, el, false); };
    if (this.waiting.has(node)) return this.queue(node, () => this.patiently(node, req).then(done, () => this.onGone(session, el, true)));
    this.send(node, req).then(done, () => {
      // No responder: the node may be reconnecting to another NATS server. It is waited for while its
      // heartbeat is fresh (stanzas to it queue in order meanwhile); then it is gone.
      this.queue(node, () => this.patiently(node, req).then(done, () => this.onGone(session, el, true)));
    });
  }

  private queue(node: string, fn: () => Promise<void>): void {
    const prev = this.waiting.get(node);
    const next = (prev ? prev.then(fn) : fn()).catch(() => {});
    this.waiting.set(node, next);
    void next.finally(() => {
      if (this.waiting.get(node) === next) this.waiting.delete(node);
    });
  }

  /** Send until it is answered, or the node is found dead. */
  private async patiently(node: string, req: Request): Promise<Reply> {
    let wait = 100;
    for (;;) {
      if (!this.mayWait(node)) throw new Error(`cluster node ${node} is gone`);
      try {
        return await this.send(node, req);
      } catch {
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  /** RemoteSession.close: its node closes it (a resource conflict, an admin's kick). */
  close(session: RemoteSession, error?: StreamError): void {
    const req: Request = { op: 'close', sid: session.id, jid: session.jid.toString() };
    if (error) {
      req.cond = error.condition;
      if (error.text) req.text = error.text;
    }
    this.send(session.remote, req).then(
      (r) => { if ('gone' in r) this.onGone(session, null, false); },
      () => this.onGone(session, null, true),
    );
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }
}
