// An outbound server-to-server stream for one (local domain, remote domain) pair (RFC 6120 §3.2, §4-§6):
// resolve, connect (STARTTLS or XEP-0368 direct TLS), authenticate with SASL EXTERNAL (XEP-0178) or dialback
// (XEP-0220), then deliver. Stanzas queue until then; failure bounces them (RFC 6120 §8.3.3.13, §8.3.3.14).
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import xml, { Element } from '@xmpp/xml';
import type { Element as XmlElement } from '@xmpp/xml';
import { NS } from '../../core/ns.js';
import { StreamError, type StanzaErrorCondition } from '../../core/errors.js';
import type { Jid } from '../../core/jid.js';
import { NS_DIALBACK, NS_DIALBACK_FEATURE, dbElement, type DialbackOutcome } from './dialback.js';
import type { QualifiedName } from './qualified-name.js';
import { S2SStream, s2sHeader, type S2sStreamInfo } from './s2s-stream.js';
import { checkHeader } from '../stream/stream-header.js';
import { S2sTls } from './s2s-tls.js';
import type { S2sTarget } from './s2s-resolver.js';
import { ConnectError, connectToPeer } from './s2s-connect.js';
import { NS_SM, StreamManagement } from './stream-management.js';
import type { S2SManager } from './s2s-manager.js';

export interface Outgoing { el: XmlElement; from: Jid; to: Jid; retried: boolean }

type State = 'connecting' | 'negotiating' | 'established' | 'closed';

interface PendingVerify { key: string; sent: boolean; resolve(o: DialbackOutcome): void; timer: NodeJS.Timeout }

export class S2SOut extends S2SStream {
  readonly direction = 'out' as const;
  state: State = 'connecting';
  private queue: Outgoing[] = [];
  private readonly verifies = new Map<string, PendingVerify>();
  /** The ID of the peer's header (dialback keys are bound to it, XEP-0220 §2.1.1). */
  private peerStreamId = '';
  /** The latest <stream:features/>; null right after a restart until the next ones arrive. */
  private features: XmlElement | null = null;
  private externalTried = false;
  private dialbackSent = false;
  private saslDone = false;
  private certChecked = false;
  private target: S2sTarget | null = null;
  private pendingSocket: Socket | null = null;
  private lastError = '';
  private readonly deadline: NodeJS.Timeout;
  private ackRequest: NodeJS.Immediate | null = null;
  /** XEP-0198: a peer that leaves stanzas unacknowledged for s2s.connect_timeout is taken for dead. */
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly sm = new StreamManagement<Outgoing>();

  constructor(private readonly mgr: S2SManager, readonly local: string, readonly remote: string) {
    super(mgr.core, { dir: 'out', local, remote });
    const secs = this.core.config.s2s.connect_timeout;
    this.deadline = setTimeout(() => this.fail('remote-server-timeout', `${remote} did not complete the stream negotiation within ${secs} s`), secs * 1000);
    this.deadline.unref();
  }

  start(): void {
    void this.connect().catch((err) => {
      this.log.error('connecting failed', { err });
      this.fail('remote-server-not-found', 'internal error while connecting');
    });
  }

  info(): S2sStreamInfo {
    const t = this.target;
    const where = t ? `${this.ip || t.host}:${t.port}${t.tls === 'direct' ? ' (direct TLS)' : ''}` : '';
    return {
      ...this.baseInfo(), direction: 'out', local: this.local, remote: this.remote, state: this.state,
      queued: this.queue.length + this.sm.pending(), ip: where,
    };
  }

  /** Queue or write a stanza (from/to are the router's, and win over the element's attributes). */
  submit(o: Outgoing): void {
    if (this.state === 'established' && !this.closeSent) return this.deliver(o);
    if (this.state === 'closed' || this.closeSent) return this.mgr.dispatch(o);
    if (this.queue.length >= this.core.config.s2s.max_queue) {
      return this.mgr.bounce(o, 'resource-constraint', `too many stanzas are waiting for ${this.remote}`);
    }
    this.queue.push(o);
    this.mgr.queueDepth(1);
  }

  /** Send <db:verify/> for the Receiving Server role (XEP-0220 §2.1.2) and wait for the answer. */
  requestVerify(id: string, key: string): Promise<DialbackOutcome> {
    if (this.state === 'closed' || this.closeSent) return Promise.resolve({ error: 'remote-server-not-found' });
    const existing = this.verifies.get(id);
    if (existing) existing.resolve({ error: 'conflict' as StanzaErrorCondition });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.verifies.delete(id);
        resolve({ error: 'remote-server-timeout', text: `${this.remote} did not answer the dialback verification` });
      }, this.core.config.s2s.connect_timeout * 1000);
      timer.unref();
      this.verifies.set(id, { key, sent: false, resolve, timer });
      this.flushVerifies();
    });
  }

  // ---- connecting ----------------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    let conn;
    try {
      conn = await connectToPeer({
        resolver: this.mgr.resolver, tls: this.mgr.tls, local: this.local, remote: this.remote,
        cancelled: () => this.state === 'closed',
        pending: (sock) => (this.pendingSocket = sock),
      });
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      return this.fail('remote-server-not-found', err.message);
    }
    if (conn) this.connected(conn.socket, conn.target);
  }

  private connected(sock: Socket, t: S2sTarget): void {
    this.target = t;
    this.state = 'negotiating';
    this.attach(sock);
    if (t.tls === 'direct') this.secured(sock as TLSSocket, false);
    this.restart();
  }

  /** A new stream on the same connection (start, after TLS, after SASL; RFC 6120 §4.3.3). */
  private restart(): void {
    this.features = null;
    this.newParser();
    this.openStream(s2sHeader({ from: this.local, to: this.remote }), false); // the receiving side sets the ID
  }

  // ---- negotiation ---------------------------------------------------------------------------------------

  protected errorHeader(): null {
    return null; // our header opens every stream we initiate
  }

  protected onS2sStreamStart(attrs: Record<string, string>): void {
    const bad = checkHeader(attrs, NS.SERVER);
    if (bad) return this.failWith(bad);
    this.peerStreamId = attrs.id ?? '';
  }

  protected onS2sElement(el: XmlElement, qn: QualifiedName): void {
    if (this.state === 'closed') return;
    if (qn.ns === NS.STREAM && qn.local === 'features') return this.onFeatures(el);
    if (qn.ns === NS.TLS) {
      if (qn.local === 'proceed') return this.startTls();
      return this.fail('remote-server-not-found', `${this.remote} refused STARTTLS`);
    }
    if (qn.ns === NS.SASL) return this.onSasl(el, qn.local);
    if (qn.ns === NS_DIALBACK && qn.local === 'result') return this.onDbResult(el);
    if (qn.ns === NS_DIALBACK && qn.local === 'verify') return this.onDbVerify(el);
    if (qn.ns === NS_SM) return this.onSm(el, qn.local);
    this.log.debug('ignoring an element on an outbound stream', { name: el.name });
  }

  private onFeatures(f: XmlElement): void {
    this.features = f;
    if (!this.secure) {
      if (f.getChild('starttls', NS.TLS)) return this.write(`<starttls xmlns='${NS.TLS}'/>`);
      if (this.core.config.s2s.require_encryption) return this.fail('remote-server-not-found', `${this.remote} does not offer STARTTLS`);
    } else if (!this.certChecked) {
      this.certChecked = true;
      const valid = this.peerCert !== null && S2sTls.peerIsDomain(this.peerCert, this.remote);
      this.log.debug('peer certificate checked', { valid, chain: this.peerCert?.chainValid ? 'valid' : this.peerCert?.chainError });
      if (!valid && this.mgr.policy(this.remote) === 'require_valid_cert') {
        const why = this.peerCert?.chainValid ? `it does not name ${this.remote}` : this.peerCert?.chainError ?? 'none presented';
        return this.failWith(new StreamError('policy-violation', 'a valid certificate is required'), 'remote-server-not-found', `the certificate of ${this.remote} is not valid (${why})`);
      }
    }
    this.flushVerifies();
    if (this.saslDone) return this.established('EXTERNAL');
    if (this.state === 'negotiating') this.authenticate();
  }

  private startTls(): void {
    const raw = this.detachForTls();
    const sock = tlsConnect({ socket: raw, ...this.mgr.tls.clientOptions(this.local, this.remote) });
    sock.once('error', (err) => {
      if (!this.secure) this.lastError = `TLS handshake with ${this.remote} failed: ${err.message}`;
    });
    sock.once('secureConnect', () => {
      this.secured(sock, false);
      this.restart();
    });
    this.attach(sock); // a failed handshake closes it, and onEnded bounces with lastError
  }

  /** SASL EXTERNAL when offered (XEP-0178 §3, authzid = our domain), else dialback (XEP-0220 §2.1.1). */
  private authenticate(): void {
    const f = this.features!;
    const mechanisms = f.getChild('mechanisms', NS.SASL)?.getChildren('mechanism').map((m) => m.getText().trim()) ?? [];
    if (this.secure && !this.externalTried && mechanisms.includes('EXTERNAL')) {
      this.externalTried = true;
      return this.write(`<auth xmlns='${NS.SASL}' mechanism='EXTERNAL'>${Buffer.from(this.local).toString('base64')}</auth>`);
    }
    const dialback = f.getChild('dialback', NS_DIALBACK_FEATURE) !== undefined || this.streamAttrs['xmlns:db'] === NS_DIALBACK;
    if (!this.dialbackSent && dialback && this.peerStreamId) {
      this.dialbackSent = true;
      return this.send(dbElement('result', { from: this.local, to: this.remote }, this.mgr.keys.key(this.remote, this.local, this.peerStreamId)));
    }
    this.fail('remote-server-not-found', `cannot authenticate to ${this.remote}${this.lastError ? `: ${this.lastError}` : ' (neither SASL EXTERNAL nor dialback is offered)'}`);
  }

  private onSasl(el: XmlElement, local: string): void {
    if (local === 'success') {
      this.saslDone = true;
      return this.restart(); // RFC 6120 §6.4.6; the features after it complete the negotiation
    }
    if (local === 'failure') {
      const condition = el.getChildElements().find((c) => c.name !== 'text')?.name ?? 'not-authorized';
      this.lastError = `SASL EXTERNAL failed (${condition})`;
      this.mgr.countAuth('out', 'EXTERNAL', 'failure');
      this.log.info('SASL EXTERNAL refused, trying dialback', { condition });
      return this.authenticate();
    }
  }

  private onDbResult(el: XmlElement): void {
    const type = el.attrs.type;
    if (!type || el.attrs.from !== this.remote || el.attrs.to !== this.local) return;
    if (type === 'valid') return this.established('dialback');
    this.mgr.countAuth('out', 'dialback', 'failure');
    const condition = el.getChild('error')?.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS && c.name !== 'text')?.name;
    this.fail('remote-server-not-found', `${this.remote} rejected our dialback (${condition ?? type})`);
  }

  private onDbVerify(el: XmlElement): void {
    const id = el.attrs.id ?? '';
    const v = this.verifies.get(id);
    if (!v || !el.attrs.type) return;
    this.verifies.delete(id);
    clearTimeout(v.timer);
    const type = el.attrs.type;
    if (type === 'valid' || type === 'invalid') return v.resolve(type);
    const condition = el.getChild('error')?.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS && c.name !== 'text')?.name;
    v.resolve({ error: (condition as StanzaErrorCondition | undefined) ?? 'remote-server-not-found' });
  }

  /** <db:verify/> may go out once TLS is settled, before we are authenticated ourselves (XEP-0220 §2.1.2). */
  private flushVerifies(): void {
    if (!this.features || (!this.secure && this.core.config.s2s.require_encryption)) return;
    for (const [id, v] of this.verifies) {
      if (v.sent) continue;
      v.sent = true;
      this.send(dbElement('verify', { from: this.local, to: this.remote, id }, v.key));
    }
  }

  private established(method: 'EXTERNAL' | 'dialback'): void {
    if (this.state !== 'negotiating') return;
    this.state = 'established';
    this.authMethod = method;
    this.reader?.authenticated();
    clearTimeout(this.deadline);
    this.mgr.countAuth('out', method, 'success');
    this.log.info('outbound stream established', { method, tls: this.tlsInfo?.version, cipher: this.tlsInfo?.cipher, queued: this.queue.length });
    if (this.features?.getChild('sm', NS_SM)) {
      this.write(`<enable xmlns='${NS_SM}'/>`);
      this.sm.enableOutbound();
    }
    const queued = this.queue;
    this.queue = [];
    this.mgr.queueDepth(-queued.length);
    for (const o of queued) this.deliver(o);
    this.touch();
  }

  // ---- delivery ------------------------------------------------------------------------------------------

  private deliver(o: Outgoing): void {
    // A shallow copy with the routed addresses and no jabber:client namespace (the stream's default is
    // jabber:server); the element itself may be shared with other recipients.
    const attrs: Record<string, string> = { ...o.el.attrs, from: o.from.toString(), to: o.to.toString() };
    if (attrs.xmlns === NS.CLIENT || attrs.xmlns === NS.SERVER) delete attrs.xmlns;
    const copy = new Element(o.el.name, attrs);
    copy.children = o.el.children;
    this.write(copy.toString());
    this.sm.sent(o);
    this.mgr.countStanza('out');
    this.touch();
    if (this.sm.outboundEnabled && !this.ackRequest) {
      // One <r/> per burst (XEP-0198 §4): the answer tells what may be forgotten.
      this.ackRequest = setImmediate(() => {
        this.ackRequest = null;
        this.write(`<r xmlns='${NS_SM}'/>`);
        this.ackTimer ??= this.ackDeadline();
      });
    }
  }

  private onSm(el: XmlElement, local: string): void {
    if (local === 'a') {
      const h = Number(el.attrs.h);
      if (!Number.isInteger(h) || h < 0 || !this.sm.ack(h)) this.log.warn('peer acknowledged stanzas it never got', { h: el.attrs.h });
      else if (this.ackTimer && this.sm.pending() === 0) {
        clearTimeout(this.ackTimer);
        this.ackTimer = null;
      } else this.ackTimer?.refresh(); // progress: the peer is alive
    } else if (local === 'failed') {
      this.sm.takeUnacked(); // delivered as best effort, as without stream management
      this.sm.outboundEnabled = false;
    } else if (local === 'r') {
      this.write(xml('a', { xmlns: NS_SM, h: '0' }).toString()); // we receive no stanzas on this stream
    }
  }

  /**
   * Without this a peer that stops reading and acknowledging (but keeps TCP open) would hold the stanzas
   * written to it for ever (the idle timer waits for them): end the stream, so that they are retried once on
   * a new stream and then bounced (RFC 6120 §8.3.3.14 remote-server-timeout), never silently kept.
   */
  private ackDeadline(): NodeJS.Timeout {
    const secs = this.core.config.s2s.connect_timeout;
    const t = setTimeout(() => {
      this.ackTimer = null;
      if (!this.sm.pending() || this.ended) return;
      this.log.info('peer did not acknowledge stanzas in time', { pending: this.sm.pending(), seconds: secs });
      // a peer that does not read will not take our closing tag either: a short linger
      this.close(new StreamError('connection-timeout', `stanzas were not acknowledged within ${secs} s`), 500);
    }, secs * 1000);
    t.unref();
    return t;
  }

  // ---- ending --------------------------------------------------------------------------------------------

  /** Close with a stream error and bounce what waits with `condition`. */
  private failWith(err: StreamError, condition: StanzaErrorCondition = 'remote-server-not-found', text?: string): void {
    this.close(err);
    this.fail(condition, text ?? err.text ?? err.condition);
  }

  /** Negotiation failed: bounce the queue, answer pending verifications, leave the pool. */
  fail(condition: StanzaErrorCondition, text: string): void {
    if (this.state === 'closed') return;
    const was = this.state;
    this.state = 'closed';
    clearTimeout(this.deadline);
    this.log.info('outbound stream failed', { condition, text, state: was });
    this.mgr.outGone(this);
    this.pendingSocket?.destroy();
    const queued = this.queue;
    this.queue = [];
    this.mgr.queueDepth(-queued.length);
    for (const o of queued) this.mgr.bounce(o, condition, text);
    this.answerVerifies({ error: condition, text });
    this.close();
  }

  private answerVerifies(outcome: DialbackOutcome): void {
    for (const v of this.verifies.values()) {
      clearTimeout(v.timer);
      v.resolve(outcome);
    }
    this.verifies.clear();
  }

  protected override peerError(condition: string): void {
    this.lastError = `${this.remote} sent a stream error (${condition})`;
  }

  protected override closingStarted(): void {
    // Stanzas submitted from now on go to a new stream.
    this.mgr.outGone(this);
  }

  protected override onIdle(): void {
    if (this.queue.length || this.sm.pending() || this.verifies.size) return this.touch();
    super.onIdle();
  }

  protected onS2sEnded(reason: string): void {
    clearTimeout(this.deadline);
    if (this.ackRequest) clearImmediate(this.ackRequest);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.mgr.outGone(this);
    if (this.state !== 'established') {
      this.fail('remote-server-not-found', this.lastError || `the connection to ${this.remote} closed during negotiation (${reason})`);
    }
    this.state = 'closed';
    this.answerVerifies({ error: 'remote-server-not-found', text: `the connection to ${this.remote} closed` });
    // Stanzas the peer never acknowledged may not have been handled: one more try on a new stream.
    const unacked = this.sm.takeUnacked();
    if (unacked.length) this.log.info('stream closed with unacknowledged stanzas', { count: unacked.length });
    for (const o of unacked) this.mgr.resubmit(o);
    this.log.debug('outbound stream ended', { reason });
  }
}
