// IQ router (RFC 6120 §8.2.3): one handler per (host, scope, namespace), request validation, and
// correlation of server-originated requests with their responses.
import type { Element } from '@xmpp/xml';
import { Jid } from './jid.js';
import { StanzaError } from './errors.js';
import { errorReply, iqResult } from './stanza.js';
import type { Logger } from './log.js';
import type { Session } from './session.js';

/** 'host': IQs to the server's domain; 'account': IQs to a local user's bare JID (or with no 'to'). */
export type IqScope = 'host' | 'account';

export interface IqRequest {
  el: Element;
  type: 'get' | 'set';
  payload: Element;
  from: Jid;
  to: Jid;
  host: string;
  /** The sending client's session when it is local. */
  session?: Session;
  /** Run `fn` once the reply has been routed (e.g. close a stream only after the result is out). */
  afterReply(fn: () => void | Promise<void>): void;
}

/** Return the result payload (or nothing for an empty result); throw StanzaError for an error. */
export type IqHandler = (req: IqRequest) => Element | null | void | Promise<Element | null | void>;

export type SendFn = (el: Element, from: Jid, to: Jid) => void | Promise<void>;

interface Pending { resolve: (el: Element) => void; reject: (err: Error) => void; timer: NodeJS.Timeout; to: string }

export class IqRouter {
  private readonly handlers = new Map<string, IqHandler>();
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  /** Set by the router: sends a reply back through routing. */
  send: SendFn = () => {};

  constructor(private readonly log: Logger) {}

  private key(host: string, scope: IqScope, ns: string): string {
    return `${host}\u0000${scope}\u0000${ns}`;
  }

  /** Register a handler; a second handler for the same (host, scope, ns) is a programming error. */
  register(host: string, scope: IqScope, ns: string, handler: IqHandler): () => void {
    const k = this.key(host, scope, ns);
    if (this.handlers.has(k)) throw new Error(`an IQ handler for ${ns} (${scope}) on ${host} is already registered`);
    this.handlers.set(k, handler);
    return () => {
      if (this.handlers.get(k) === handler) this.handlers.delete(k);
    };
  }

  count(): number {
    return this.handlers.size;
  }

  /** Handle an IQ addressed to the server or to an account; always answers get/set exactly once. */
  async dispatch(el: Element, from: Jid, to: Jid, scope: IqScope, host: string, session?: Session): Promise<void> {
    const type = el.attrs.type;
    if (type === 'result' || type === 'error') {
      this.response(el, from);
      return;
    }
    const reply = (r: Element) => this.send(r, to, from);
    const after: Array<() => void | Promise<void>> = [];
    const replyFrom = el.attrs.to; // keep 'from' absent when the client sent no 'to' (RFC 6120 §8.1.2.1)
    const payloads = el.children.filter((c): c is Element => typeof c !== 'string');
    if ((type !== 'get' && type !== 'set') || !el.attrs.id || payloads.length !== 1) {
      if (el.attrs.id !== undefined || type === 'get' || type === 'set') {
        reply(errorReply(el, new StanzaError('bad-request', 'an IQ get/set needs an id and exactly one child element'), replyFrom));
      }
      return;
    }
    const payload = payloads[0]!;
    const ns = payload.attrs.xmlns as string | undefined;
    const handler = ns !== undefined ? this.handlers.get(this.key(host, scope, ns)) : undefined;
    if (!handler) {
      reply(errorReply(el, new StanzaError('service-unavailable'), replyFrom));
      return;
    }
    try {
      const result = await handler({ el, type, payload, from, to, host, session, afterReply: (fn) => void after.push(fn) });
      await reply(iqResult(el, result ?? null, replyFrom));
      for (const fn of after) await fn();
    } catch (err) {
      if (err instanceof StanzaError) {
        reply(errorReply(el, err, replyFrom));
      } else {
        this.log.error('IQ handler failed', { ns, scope, host, err });
        reply(errorReply(el, new StanzaError('internal-server-error'), replyFrom));
      }
    }
  }

  /** Send an IQ get/set from the server and wait for its response. */
  request(el: Element, from: Jid, to: Jid, timeoutMs = 30_000): Promise<Element> {
    const id = `xmppd-${(this.nextId++).toString(36)}`;
    el.attrs.id = id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StanzaError('remote-server-timeout', `no answer to IQ ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer, to: to.toString() });
      this.send(el, from, to);
    });
  }

  /** A result/error for the server: resolve the pending request, else drop it (never answer it). */
  private response(el: Element, from: Jid): void {
    const p = this.pending.get(el.attrs.id);
    if (!p) return;
    // Only the entity asked may answer (RFC 6120 §8.2.3 correlation is by id *and* sender). The sender is
    // the address the router has (a client's stanzas are stamped with their full JID), not a 'from'
    // attribute that may be absent: the ids are predictable.
    if (from.toString() !== p.to) return;
    this.pending.delete(el.attrs.id);
    clearTimeout(p.timer);
    p.resolve(el);
  }

  /** Reject every outstanding server request (shutdown). */
  cancelAll(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StanzaError('service-unavailable', 'server shutting down'));
      this.pending.delete(id);
    }
  }
}
