// Federation (RFC 6120 §13.7.2, XEP-0178, XEP-0220): the router's remote route, the pool of outbound streams
// (one per local/remote domain pair), inbound streams, dialback verification, policy and the `s2s` access
// rule, metrics and the stream list behind `xmppd s2s`.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import type { Element } from '@xmpp/xml';
import type { Core } from '../../core/core.js';
import type { S2sPolicy } from '../../core/config/types.js';
import { StanzaError, StreamError, type StanzaErrorCondition } from '../../core/errors.js';
import { Jid } from '../../core/jid.js';
import { DialbackKeys, type DialbackOutcome } from './dialback.js';
import { S2sResolver, dnsClient, type DnsClient } from './s2s-resolver.js';
import type { S2sTls } from './s2s-tls.js';
import type { S2sStreamInfo } from './s2s-stream.js';
import { S2SIn } from './s2s-in.js';
import { S2SOut, type Outgoing } from './s2s-out.js';

export interface S2SManagerOptions {
  /** DNS for SRV/A/AAAA (unit tests inject one); default: s2s.dns_servers or the system resolver. */
  dns?: DnsClient;
}

export class S2SManager {
  readonly keys: DialbackKeys;
  readonly resolver: S2sResolver;
  private readonly out = new Map<string, S2SOut>();
  private readonly inbound = new Set<S2SIn>();
  private stopping = false;
  private readonly gConnections: Gauge;
  private readonly gQueue: Gauge;
  private readonly cStanzas: Counter;
  private readonly cBounced: Counter;
  private readonly cAuth: Counter;

  constructor(readonly core: Core, readonly tls: S2sTls, opts: S2SManagerOptions = {}) {
    const cfg = core.config.s2s;
    this.keys = new DialbackKeys(cfg.dialback_secret ?? randomBytes(32));
    this.resolver = new S2sResolver(cfg.overrides, opts.dns ?? dnsClient(cfg.dns_servers));
    const registers = [core.metrics.registry];
    this.gConnections = new Gauge({ name: 'xmppd_s2s_connections', help: 'Open s2s streams by direction', labelNames: ['direction'], registers });
    this.gQueue = new Gauge({ name: 'xmppd_s2s_queue', help: 'Stanzas waiting for an outbound s2s stream to be established', registers });
    this.cStanzas = new Counter({ name: 'xmppd_s2s_stanzas_total', help: 'Stanzas over s2s by direction', labelNames: ['direction'], registers });
    this.cBounced = new Counter({ name: 'xmppd_s2s_bounced_total', help: 'Stanzas bounced because a remote server was not reachable', labelNames: ['condition'], registers });
    this.cAuth = new Counter({ name: 'xmppd_s2s_auth_total', help: 's2s authentications by direction, method and result', labelNames: ['direction', 'method', 'result'], registers });
  }

  // ---- the router's remote route -----------------------------------------------------------------------

  /** Router.routeRemote: deliver to another server, or bounce (never silently drop). */
  route = async (el: Element, from: Jid, to: Jid): Promise<void> => {
    const o: Outgoing = { el, from, to, retried: false };
    if (!this.core.config.s2s.enabled) return this.bounce(o, 'remote-server-not-found', 'federation is disabled on this server');
    if (this.stopping) return this.bounce(o, 'remote-server-not-found', 'the server is shutting down');
    if (!this.core.router.isServed(from.domain)) {
      // Only our own domains originate s2s traffic; anything else would make us an open relay.
      this.core.log.warn('not relaying a stanza between two remote domains', { from: from.domain, to: to.domain });
      return;
    }
    if (!this.allowed(to.domain)) return this.bounce(o, 'remote-server-not-found', `federation with ${to.domain} is not allowed`);
    this.dispatch(o);
  };

  /** Hand a stanza to the pair's stream, opening one if needed. */
  dispatch(o: Outgoing): void {
    this.stream(o.from.domain, o.to.domain).submit(o);
  }

  /** Retry once on a new stream (the old one died with the stanza unacknowledged), else bounce. */
  resubmit(o: Outgoing): void {
    if (o.retried || this.stopping) return this.bounce(o, 'remote-server-timeout', `the stream to ${o.to.domain} closed before the stanza was acknowledged`);
    this.dispatch({ ...o, retried: true });
  }

  private stream(local: string, remote: string): S2SOut {
    const key = `${local}\n${remote}`;
    let s = this.out.get(key);
    if (!s) {
      s = new S2SOut(this, local, remote);
      this.out.set(key, s);
      this.gConnections.inc({ direction: 'out' });
      s.start();
    }
    return s;
  }

  /** Called by an outbound stream that fails or starts closing (idempotent). */
  outGone(s: S2SOut): void {
    const key = `${s.local}\n${s.remote}`;
    if (this.out.get(key) !== s) return;
    this.out.delete(key);
    this.gConnections.dec({ direction: 'out' });
  }

  bounce(o: Outgoing, condition: StanzaErrorCondition, text: string): void {
    this.cBounced.inc({ condition });
    this.core.router.bounce(o.el, o.from, o.to, new StanzaError(condition, text));
  }

  queueDepth(delta: number): void {
    this.gQueue.inc(delta);
  }

  countStanza(direction: 'in' | 'out'): void {
    this.cStanzas.inc({ direction });
  }

  countAuth(direction: 'in' | 'out', method: string, result: string): void {
    this.cAuth.inc({ direction, method, result });
  }

  // ---- inbound -----------------------------------------------------------------------------------------

  acceptInbound(sock: Socket, opts: { starttlsRequired: boolean; directTls: boolean }): void {
    if (this.stopping || !this.core.config.s2s.enabled) {
      sock.destroy();
      return;
    }
    const s = new S2SIn(sock, this, opts);
    this.inbound.add(s);
    this.gConnections.inc({ direction: 'in' });
  }

  inboundEnded(s: S2SIn): void {
    if (this.inbound.delete(s)) this.gConnections.dec({ direction: 'in' });
  }

  /**
   * Receiving Server role (XEP-0220 §2.1.2): ask the Authoritative Server of `remote` whether `key` is
   * its key for the stream `streamId` that `remote` opened to our `local`.
   */
  verifyDialback(local: string, remote: string, streamId: string, key: string): Promise<DialbackOutcome> {
    if (this.stopping) return Promise.resolve({ error: 'remote-server-not-found' });
    return this.stream(local, remote).requestVerify(streamId, key);
  }

  // ---- policy ------------------------------------------------------------------------------------------

  /** The `s2s` access rule (acl server kind): absent = everyone; present = first match, no match denies. */
  allowed(domain: string): boolean {
    if (!this.core.config.access_rules.s2s) return true;
    let jid: Jid;
    try {
      jid = Jid.of('', domain);
    } catch {
      return false;
    }
    return this.core.acl.allowed('s2s', { jid }, 'deny');
  }

  policy(domain: string): S2sPolicy {
    return this.core.config.s2s.domain_policy[domain] ?? this.core.config.s2s.policy;
  }

  // ---- admin -------------------------------------------------------------------------------------------

  list(): S2sStreamInfo[] {
    return [...[...this.out.values()].map((s) => s.info()), ...[...this.inbound].map((s) => s.info())];
  }

  /** Shutdown: system-shutdown on every stream (RFC 6120 §4.9.3.19); queued stanzas bounce. */
  async stop(): Promise<void> {
    this.stopping = true;
    const outs = [...this.out.values()];
    const all = [...outs, ...this.inbound];
    for (const s of all) s.close(new StreamError('system-shutdown', 'the server is shutting down'));
    for (const s of outs) if (s.state !== 'established') s.fail('remote-server-not-found', 'the server is shutting down');
    const deadline = Date.now() + 2500;
    while (all.some((s) => !s.isEnded()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}
