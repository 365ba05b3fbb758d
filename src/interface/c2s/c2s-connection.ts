// One client-to-server connection: the RFC 6120 stream state machine (§4 streams, §5 STARTTLS, §6 SASL,
// §7 resource binding) and, once bound, the Session the logic layer delivers to.
import { randomBytes } from 'node:crypto';
import type { StreamTransport } from '../stream/transport.js';
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { DROP } from '../../../hooks/index.js';
import type { FeatureStage } from '../../../hooks/index.js';
import { NS } from '../../core/ns.js';
import { StanzaError, StreamError } from '../../core/errors.js';
import { errorReply, iqResult } from '../../core/stanza.js';
import { Jid, JidError } from '../../core/jid.js';
import { serialize } from '../../core/xml-serialize.js';
import type { Core } from '../../core/core.js';
import type { AdoptedState, Session, UnboundStream } from '../../core/session.js';
import type { TlsContexts } from '../tls/tls-contexts.js';
import { afterClientHello } from '../tls/after-client-hello.js';
import type { AuthAttempt } from '../../core/limits/auth-throttle.js';
import { claimedAccount } from '../../core/limits/sasl-claim.js';
import { serverChannelBindings } from '../../core/sasl/channel-binding.js';
import { OutboundChain, type OutboundFilter } from '../../core/outbound-chain.js';
import type { ChannelBindingType, SaslServerSession } from '../../core/sasl/mechanism.js';
import { XmlStreamBase } from '../stream/xml-stream-base.js';
import { checkHeader, featuresElement, type HeaderAttrs } from '../stream/stream-header.js';
import { challengeElement, decodeSaslPayload, failureElement, successElement } from './sasl-negotiation.js';
import { decodeSasl2Response, parseAuthenticate, sasl2Challenge, sasl2Failure, type Sasl2Request } from './sasl2.js';
import { completeSasl2, fastSaslSession, sasl2Features } from './sasl2-login.js';

type Phase = 'header' | 'negotiating' | 'tls-upgrade' | 'closed';

/** The text of unhooked stream features per config (a reload makes a new one) and stream state. */
const featureTexts = new WeakMap<object, Map<string, string>>();
type ChannelBindings = { types: ChannelBindingType[]; get(type: ChannelBindingType): Buffer | null };
/** Shared by every stream without TLS, and by every stream once authenticated (SASL is over: nothing binds to the channel). */
const NO_CHANNEL_BINDINGS: ChannelBindings = { types: [], get: () => null };
/** The end-of-session work of a session that has none yet (one promise for all). */
const SETTLED: Promise<void> = Promise.resolve();
/** Shared by every session without marks; a session's own Set is made by its first mark. */
const NO_MARKS: ReadonlySet<string> = new Set<string>();

export interface C2SOptions {
  core: Core;
  tls: TlsContexts;
  starttlsRequired: boolean;
  directTls: boolean;
  /** Offer STARTTLS (false on WebSocket: TLS belongs to the HTTP layer, RFC 7395 §3.9). Default true. */
  starttls?: boolean;
  /** The transport counts as encrypted without STARTTLS (wss://, or ws:// from loopback or as configured). */
  secure?: boolean;
  /** The TLS connection under a wss:// transport: channel bindings (RFC 9266, RFC 5929) and the login log line. */
  tlsSocket?: TLSSocket;
  listenerType: string;
  onClose: (conn: C2SConnection) => void;
}


export class C2SConnection extends XmlStreamBase implements Session {
  jid!: Jid;
  host = '';
  secure: boolean;
  authMechanism = '';
  priority = 0;
  presence: Element | null = null;

  private phase: Phase = 'header';
  private username: string | null = null;
  /** The authenticated account (username@host, prepared once): a bound JID only adds the resource. */
  private account: Jid | null = null;
  private bound = false;
  private sasl: SaslServerSession | null = null;
  private saslFailures = 0;
  /** The SASL exchange in progress as the brute-force throttle (limits.auth) sees it, and the account it claims. */
  private saslAttempt: AuthAttempt | null = null;
  private saslClaim: string | null = null;
  /** The SASL messages the claim is read from, only when a failure needs it (most logins succeed). */
  private saslClaimFrom: Array<{ mechanism: string; data: Buffer }> = [];
  /** The <authenticate/> of a SASL2 exchange (XEP-0388) in progress; null on the classic path. */
  private sasl2: Sasl2Request | null = null;
  /** The profile of the SASL element being answered: its challenge, failure or success is framed the same way. */
  private saslV2 = false;
  /** The negotiated TLS version, for the login log line and `xmppd sessions`. */
  private tlsProtocol: string | null = null;
  lastActiveAt = Date.now();
  private channelBindings: ChannelBindings = NO_CHANNEL_BINDINGS;
  private negotiationTimer: NodeJS.Timeout | null;

  constructor(socket: StreamTransport, private readonly opts: C2SOptions) {
    // The socket is read through the c2s shaper (limits.c2s).
    super(opts.core, (id) => opts.core.log.child({ c2s: id.slice(0, 8), ip: socket.remoteAddress ?? '' }), 'c2s');
    this.secure = opts.directTls || opts.secure === true;
    this.errorLogLevel = 'debug';
    this.negotiationTimer = setTimeout(
      () => this.close(new StreamError('connection-timeout', 'authentication and resource binding took too long')),
      this.core.config.c2s_negotiation_timeout * 1000,
    );
    this.negotiationTimer.unref();
    this.log.info('connection opened', { listener: opts.listenerType, tls: opts.directTls || opts.secure === true });
    this.attach(socket);
    if (opts.directTls) this.onSecure(socket as TLSSocket);
    else if (opts.tlsSocket) this.onSecure(opts.tlsSocket);
    this.newParser();
  }

  /** The listener type the stream came in on: c2s, c2s_tls, or http(s)_websocket / http(s)_bosh. */
  get listenerType(): string {
    return this.opts.listenerType;
  }

  // ---- socket plumbing -------------------------------------------------------------------------

  protected override attach(socket: StreamTransport): void {
    super.attach(socket);
    // Idle timeout (RFC 6120 §4.9.3.4 connection-timeout); whitespace keepalives count as activity.
    socket.setTimeout(this.core.config.c2s_idle_timeout * 1000, () => this.close(new StreamError('connection-timeout', 'idle for too long')));
  }

  private onSecure(tlsSocket: TLSSocket): void {
    this.secure = true;
    this.tlsProtocol = tlsSocket.getProtocol();
    // channel_binding.plus false: no binding types, so no -PLUS and a SCRAM 'y' flag is no downgrade.
    const policy = this.core.config.channel_binding;
    if (!policy.plus) return;
    // The binding data hashes the certificate this socket was served, not the one configured now (a renewal
    // may land mid-handshake); it is read back from the socket only if a -PLUS exchange asks for it.
    const held = this.opts.tls.certificateDerFor(tlsSocket.servername || undefined);
    this.channelBindings = serverChannelBindings(tlsSocket, held, () => tlsSocket.getX509Certificate()?.raw, { tlsUnique: policy.tls_unique });
  }

  marks: ReadonlySet<string> = NO_MARKS;

  /** Session.mark: published with the session's presence (the cluster's registry), if it changed. */
  async mark(name: string, on: boolean): Promise<void> {
    if (this.marks.has(name) === on) return;
    if (on) this.ownMarks().add(name);
    else this.ownMarks().delete(name);
    await this.core.sessions.changed(this);
  }

  private ownMarks(): Set<string> {
    if (this.marks === NO_MARKS) this.marks = new Set<string>();
    return this.marks as Set<string>;
  }

  /** Modules' outbound filters (CSI, stream management); created on first use. */
  private outbound: OutboundChain | null = null;

  /** Session.send: deliver a stanza to this client. */
  send(el: Element): void {
    if (this.phase === 'closed') return;
    if (this.outbound && !this.outbound.empty) return this.outbound.send(el);
    this.writeStanza(el);
  }

  private readonly writeStanza = (el: Element): void => {
    if (this.phase === 'closed') return;
    this.core.metrics.countOut();
    this.write(serialize(el));
  };

  addOutboundFilter(fn: OutboundFilter, priority?: number): () => void {
    return (this.outbound ??= new OutboundChain(this.writeStanza)).add(fn, priority);
  }

  writeNonza(el: Element): void {
    if (this.phase === 'closed') return;
    this.write(el.toString());
  }

  /**
   * The server closed the stream: the session leaves the session manager now, not when the peer's side
   * closes (up to the linger time later), so stanzas routed meanwhile go to other resources or offline
   * instead of a stream that no longer writes.
   */
  protected override closingStarted(): void {
    if (this.detached) return; // a session's old transport closed on takeover: the session lives on
    this.phase = 'closed';
    if (this.carried) return this.carriedLost('stream closed', false);
    this.leaveSessions('stream closed');
  }

  protected errorHeader(): HeaderAttrs {
    return this.header(this.host || this.core.config.hosts[0]!);
  }

  /**
   * The end-of-session work (unavailable presence, session_closed and what modules write then, such as
   * last activity): a shutdown awaits it before the modules stop and the store closes.
   */
  closing: Promise<void> = SETTLED;

  protected onEnded(reason: string): void {
    // One line per connection, whatever happens to its session (kept for resumption, carried on): who, why,
    // how long, how much.
    this.log.info('connection closed', {
      ...(this.username && { user: (this.carried ?? this).jid?.toString() ?? `${this.username}@${this.host}` }),
      reason: this.endReason ?? (reason === 'connection closed' ? 'the peer closed the connection' : reason), duration_s: Math.round((Date.now() - this.startedAt) / 100) / 10,
      bytes_in: this.bytesIn, bytes_out: this.bytesOut,
    });
    this.saslAttempt?.settle();
    this.saslAttempt = null;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    if (this.bound && (this.detached || this.carrier)) return; // the session outlives this transport
    const wasOpen = this.phase !== 'closed';
    if (this.carried) {
      this.phase = 'closed';
      if (wasOpen) this.carriedLost(reason, true);
    } else if (wasOpen && this.bound && this.onDetach) {
      // Lost without a closing tag (XEP-0198 §5): the session is kept until it is resumed or closed.
      this.detached = true;
      this.onDetach(reason);
      return;
    } else {
      this.phase = 'closed';
      this.leaveSessions(wasOpen ? reason : 'stream closed');
    }
    this.opts.onClose(this);
  }

  /** The bound session ends: out of the session manager, then its end-of-session work (once). */
  private leaveSessions(why: string): void {
    if (this.bound) {
      this.bound = false;
      if (this.core.sessions.remove(this)) this.core.metrics.sessions.dec();
      this.closing = (async () => {
        // RFC 6121 §4.6: a session that ends while available goes unavailable (also on a dropped TCP connection).
        if (this.presence !== null) await this.core.hooks.notify('user_unavailable', this.host, { session: this, stanza: null, reason: why });
        this.presence = null;
        await this.core.hooks.notify('session_closed', this.host, { session: this, reason: why });
      })();
    }
  }

  // ---- a session that outlives its transport (XEP-0198 resumption) ------------------------------------
  // The C2SConnection that bound a resource stays the Session; after a takeover another, authenticated
  // C2SConnection (its carrier) reads and writes for it.

  private onDetach: ((reason: string) => void) | null = null;
  detached = false;
  /** The stream that carries this session since a takeover. */
  private carrier: C2SConnection | null = null;
  /** The session this stream carries. */
  private carried: C2SConnection | null = null;
  private inboundCounter: (() => void) | null = null;

  get tlsVersion(): string | null {
    return this.tlsProtocol;
  }

  get streamManagement(): 'off' | 'enabled' | 'resumable' {
    return this.inboundCounter ? (this.onDetach ? 'resumable' : 'enabled') : 'off';
  }

  setDetachable(onDetach: ((reason: string) => void) | null): void {
    this.onDetach = onDetach;
  }

  setInboundCounter(fn: (() => void) | null): void {
    this.inboundCounter = fn;
  }

  protected override write(data: string): void {
    if (this.carrier) return this.carrier.write(data);
    super.write(data);
  }

  override close(error?: StreamError, lingerMs?: number): void {
    // A connection that timed out (idle, or no answer to a ping) is as good as dropped: a detachable
    // session keeps waiting to be resumed instead of ending (XEP-0198 §5).
    if (error?.condition === 'connection-timeout') {
      if (this.carried?.onDetach) return this.carried.close(error, lingerMs);
      if (this.bound && this.onDetach) return this.keepDetached();
    }
    if (this.carrier) return this.carrier.close(error, lingerMs);
    if (this.detached) {
      // A kept session that was not taken over in time (or is replaced, or the server stops) ends now.
      this.detached = false;
      this.phase = 'closed';
      this.leaveSessions('not resumed');
      this.opts.onClose(this);
      return;
    }
    super.close(error, lingerMs);
  }

  private keepDetached(): void {
    if (this.detached) return; // no transport left to time out
    const error = new StreamError('connection-timeout', 'the connection timed out; the session waits to be resumed');
    this.detached = true;
    if (this.carrier) {
      const c = this.carrier;
      c.carried = null;
      this.carrier = null;
      c.close(error);
    } else {
      this.closeOwnTransport(error);
    }
    this.onDetach!('connection-timeout');
  }

  /** The stream carrying a session closed (`lost`: without a closing tag): the session is kept or ends. */
  private carriedLost(reason: string, lost: boolean): void {
    const s = this.carried!;
    this.carried = null;
    s.carrier = null;
    if (lost && s.bound && s.onDetach) {
      s.detached = true;
      s.onDetach(reason);
      return;
    }
    s.phase = 'closed';
    s.leaveSessions(reason);
    s.opts.onClose(s);
  }

  private unboundStream(): UnboundStream {
    return {
      account: Jid.of(this.username!, this.host),
      host: this.host,
      writeNonza: (el) => this.writeNonza(el),
      takeOver: (session) => this.takeOver(session),
      adopt: (state) => this.adopt(state),
    };
  }

  private adopt(state: AdoptedState): Session | null {
    if (this.bound || this.carried || this.phase !== 'negotiating') return null;
    let resource: string;
    try {
      resource = Jid.of(this.username!, this.host, state.resource).resource;
    } catch {
      return null;
    }
    if (this.bindResource(resource)) return null;
    this.presence = state.presence;
    this.priority = state.priority;
    for (const m of state.marks) this.ownMarks().add(m);
    this.reader.authenticated();
    this.openSession();
    this.log.debug('session adopted from another node', { jid: this.jid.toString() });
    return this;
  }

  handOver(node: string): void {
    if (!this.bound) return;
    const error = new StreamError('conflict', 'the session was resumed on another cluster node');
    let transport = true;
    if (this.carrier) {
      const c = this.carrier;
      c.carried = null;
      this.carrier = null;
      c.close(error);
      transport = false;
    } else if (!this.detached) {
      this.detached = true; // closing its own transport must not end it the usual way
      this.closeOwnTransport(error);
    } else {
      transport = false;
    }
    this.detached = false;
    this.bound = false;
    this.phase = 'closed';
    if (this.core.sessions.remove(this)) this.core.metrics.sessions.dec();
    this.closing = this.core.hooks.notify('session_closed', this.host, { session: this, reason: `resumed on ${node}`, movedTo: node });
    if (!transport) this.opts.onClose(this);
  }

  private takeOver(session: Session): boolean {
    const s = session as C2SConnection;
    if (!(session instanceof C2SConnection) || s === this || !s.bound || this.bound || this.carried || this.phase !== 'negotiating') return false;
    if (!s.jid.bare().equals(Jid.of(this.username!, this.host))) return false;
    if (s.carrier) {
      // Resumed again before the server saw the previous carrier go: that stream ends, the session stays.
      const old = s.carrier;
      old.carried = null;
      s.carrier = null;
      old.close(new StreamError('conflict', 'the session was resumed on another stream'));
    } else if (!s.detached) {
      s.detached = true; // its own socket is still open: close it without ending the session
      s.closeOwnTransport(new StreamError('conflict', 'the session was resumed on another stream'));
    }
    s.detached = false;
    s.carrier = this;
    // The session now lives on this connection: ACLs and logs see where it is now.
    s.ip = this.ip;
    s.secure = this.secure;
    s.tlsProtocol = this.tlsProtocol;
    s.authMechanism = this.authMechanism;
    this.carried = s;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    this.reader.authenticated();
    this.log.debug('session taken over', { jid: s.jid.toString() });
    return true;
  }

  private closeOwnTransport(error: StreamError): void {
    super.close(error);
  }

  // ---- stream negotiation ------------------------------------------------------------------------

  private header(host: string): HeaderAttrs {
    return { contentNs: NS.CLIENT, from: host };
  }

  protected onStreamStart(attrs: Record<string, string>): void {
    if (this.phase !== 'header') return this.close(new StreamError('not-well-formed', 'unexpected stream header'));
    const to = attrs.to ? Jid.tryParse(attrs.to) : null;
    const host = to && !to.local && !to.resource && this.core.router.isLocal(to.domain) ? to.domain : null;
    // Sent with the features (or the stream error) that follow: one write for both.
    this.openStream(this.header(host ?? (this.host || this.core.config.hosts[0]!)), true, true);
    const bad = checkHeader(attrs, NS.CLIENT);
    if (bad) return this.close(bad);
    if (!host) return this.close(new StreamError('host-unknown', attrs.to ? `this server does not serve ${attrs.to}` : "the stream header has no 'to'"));
    if (this.host && host !== this.host) return this.close(new StreamError('host-unknown', 'the host changed after a stream restart'));
    this.host = host;
    this.phase = 'negotiating';
    void this.sendFeatures();
  }

  private stage(): FeatureStage {
    if (this.username) return 'post-auth';
    if (!this.secure && this.opts.starttlsRequired) return 'pre-tls';
    return 'pre-auth';
  }

  private async sendFeatures(): Promise<void> {
    const stage = this.stage();
    // The host's auth provider decides (an extauth program checks passwords only: PLAIN, after TLS).
    const mechs = stage === 'pre-auth' ? this.core.auth.mechanisms(this.host, { secure: this.secure, channelBindings: this.channelBindings.types }) : [];
    // XEP-0388 SASL2 next to the classic profile, only once the stream is encrypted.
    const sasl2 = this.secure && mechs.length > 0 && this.core.config.sasl2.enabled;
    // Without module handlers the features depend only on the stream's state: their text is made once per
    // host and state (a login sends two), and made again after a config reload.
    const hooked = this.core.hooks.has('c2s_stream_features', this.host)
      || (sasl2 && (this.core.hooks.has('bind2_features', this.host) || this.core.hooks.has('sasl2_features', this.host)));
    const cb = this.channelBindings.types;
    const key = hooked ? '' : `${this.host}\n${stage}\n${this.secure}\n${this.opts.starttls !== false}\n${mechs.length ? mechs.join(' ') : ''}\n${cb.length ? cb.join(' ') : ''}`;
    if (!hooked) {
      const text = featureTexts.get(this.core.config)?.get(key);
      if (text !== undefined) return this.write(text);
    }
    let features: Element[] = [];
    if (stage === 'pre-tls') {
      features.push(xml('starttls', { xmlns: NS.TLS }, xml('required')));
    } else if (stage === 'pre-auth') {
      if (!this.secure && this.opts.starttls !== false) features.push(xml('starttls', { xmlns: NS.TLS }));
      if (mechs.length) features.push(xml('mechanisms', { xmlns: NS.SASL }, ...mechs.map((m) => xml('mechanism', {}, m))));
      if (this.channelBindings.types.length && mechs.some((m) => m.endsWith('-PLUS'))) {
        // XEP-0440: tell the client which channel-binding types it may use with the -PLUS mechanisms.
        features.push(xml('sasl-channel-binding', { xmlns: NS.SASL_CB }, ...this.channelBindings.types.map((type) => xml('channel-binding', { type }))));
      }
      if (sasl2) features.push(await sasl2Features(this.core, this.host, mechs));
    } else {
      features.push(xml('bind', { xmlns: NS.BIND }));
      features.push(xml('session', { xmlns: NS.SESSION }, xml('optional')));
    }
    if (hooked && this.core.hooks.has('c2s_stream_features', this.host)) {
      features = await this.core.hooks.filter('c2s_stream_features', this.host, features, { host: this.host, stage, secure: this.secure, ip: this.ip, session: this.bound ? this : undefined }) as Element[];
    }
    const text = featuresElement(features).toString();
    if (!hooked) {
      let texts = featureTexts.get(this.core.config);
      if (!texts) featureTexts.set(this.core.config, (texts = new Map()));
      texts.set(key, text);
    }
    this.write(text);
  }

  // ---- element processing (in order, RFC 6120 §10.1) -------------------------------------------------

  protected onElement(el: Element): void {
    if (this.phase === 'closed') return;
    // limits.c2s.stanzas_per_second: over the rate a stanza waits; timed from its arrival, so waits overlap.
    const wait = this.reader.stanza();
    if (wait <= 0 && this.bound) return this.inbound.run(() => this.boundStanza(el));
    const gate = wait > 0 ? new Promise<void>((r) => setTimeout(r, wait).unref()) : null;
    this.inbound.push(() => this.handle(el), gate);
  }

  private async handle(el: Element): Promise<void> {
    if (this.phase !== 'negotiating') return;
    if (this.bound) return this.handleStanza(el);
    if (this.carried) return this.carried.handleStanza(el);
    const ns = el.attrs.xmlns;
    if (!this.username) {
      if (el.name === 'starttls' && ns === NS.TLS && this.opts.starttls !== false) return this.startTls();
      if (ns === NS.SASL || (ns === NS.SASL2 && this.secure && this.core.config.sasl2.enabled)) return this.handleSasl(el);
      if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT) && this.core.hooks.has('c2s_unauthenticated_iq', this.host)) {
        // XEP-0077 in-band registration happens before authentication.
        const reply = await this.core.hooks.filter('c2s_unauthenticated_iq', this.host, null, { host: this.host, ip: this.ip, secure: this.secure, iq: el });
        if (reply) return this.write(reply.toString());
      }
      return this.close(new StreamError('not-authorized', 'authenticate first'));
    }
    if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT)) {
      const payload = el.getChildElements()[0];
      if (payload?.name === 'bind' && payload.attrs.xmlns === NS.BIND && el.attrs.type === 'set') return this.bind(el, payload);
      // Answers to the client's own session (bind, session) carry a 'from' only when the request had a
      // 'to' (RFC 6120 §8.1.2.1), as ejabberd and Prosody send them; aioxmpp drops a bind result from='<domain>'.
      if (payload?.name === 'session' && payload.attrs.xmlns === NS.SESSION) return this.write(iqResult(el, null).toString());
      if (el.attrs.type === 'get' || el.attrs.type === 'set') {
        return this.write(errorReply(el, new StanzaError('not-authorized', 'bind a resource first')).toString());
      }
      return;
    }
    if (this.core.hooks.has('c2s_unbound_nonza', this.host)
      && (await this.core.hooks.filter('c2s_unbound_nonza', this.host, false, { stream: this.unboundStream(), element: el }))) return;
    return this.close(new StreamError('not-authorized', 'bind a resource first'));
  }

  private startTls(): void {
    if (this.secure) return this.close(new StreamError('policy-violation', 'TLS is already in place'));
    this.phase = 'tls-upgrade';
    this.write(`<proceed xmlns='${NS.TLS}'/>`);
    const raw = this.detachForTls();
    afterClientHello(raw, () => this.handshake(raw), () => this.transportClosed());
  }

  private handshake(raw: Socket): void {
    const tlsSocket = new TLSSocket(raw, { isServer: true, ...this.opts.tls.socketOptions() });
    tlsSocket.once('secure', () => {
      this.phase = 'header';
      this.onSecure(tlsSocket);
      this.newParser();
    });
    // A handshake that fails or is cut in half just ends this connection.
    tlsSocket.once('error', (err) => {
      this.log.debug('TLS handshake failed', { err: err.message });
      tlsSocket.destroy();
    });
    this.attach(tlsSocket); // also ends it on a bad record after the handshake ('_tlsError')
  }

  private async handleSasl(el: Element): Promise<void> {
    const v2 = (this.saslV2 = el.attrs.xmlns === NS.SASL2);
    if (el.name === 'abort') {
      this.sasl = null;
      this.sasl2 = null;
      this.settleSaslAttempt();
      return this.write((v2 ? sasl2Failure('aborted') : failureElement('aborted')).toString());
    }
    let session = this.sasl;
    let data: Buffer | null;
    if ((el.name === 'auth' && !v2) || (el.name === 'authenticate' && v2)) {
      if (session) this.sasl = session = null; // a new <auth/> restarts negotiation
      this.settleSaslAttempt();
      this.sasl2 = v2 ? parseAuthenticate(el) : null;
      const mechanism = el.attrs.mechanism ?? '';
      data = this.sasl2 ? this.sasl2.initial : decodeSaslPayload(el);
      // The account as the client claims it, for the log and the per-account throttle only.
      if (data?.length) this.saslClaimFrom.push({ mechanism, data });
      // The metrics label stays 'none' until the mechanism is one we offer (client-chosen names are unbounded).
      if (!this.secure && this.opts.starttlsRequired) return this.saslFailed('encryption-required', 'STARTTLS first', 'none', 'no TLS yet');
      const offered = this.core.auth.mechanisms(this.host, { secure: this.secure, channelBindings: this.channelBindings.types });
      session = offered.includes(mechanism) ? this.newSaslSession(mechanism) : this.sasl2 ? fastSaslSession(this.core, this.host, mechanism, this.sasl2) : null;
      if (!session) {
        const named = mechanism.slice(0, 64) || '(none)';
        return this.saslFailed('invalid-mechanism', `${mechanism ? named : 'no mechanism'} is not offered`, 'none', `mechanism ${named} not offered`);
      }
      // limits.auth: a locked address is refused before any credential is looked at.
      const admission = this.core.limits.auth.begin('c2s', this.ip);
      if (admission.refused) {
        return this.saslFailed('temporary-auth-failure', `too many failed attempts from your address; try again in ${Math.ceil(admission.retryAfterMs / 1000)} s`, mechanism, 'address locked after repeated failures');
      }
      this.saslAttempt = admission.attempt;
      this.sasl = session;
    } else if (el.name === 'response') {
      // A response continues the exchange in the profile it began with.
      if (session && v2 !== (this.sasl2 !== null)) return this.saslFailed('malformed-request', 'response in the other SASL profile', session.mechanism, 'response in the other SASL profile');
      if (!session) return this.saslFailed('malformed-request', 'no authentication in progress', 'none', 'response without auth');
      data = v2 ? decodeSasl2Response(el) : decodeSaslPayload(el);
      if (data?.length && this.saslClaimFrom.length < 2) this.saslClaimFrom.push({ mechanism: session.mechanism, data });
    } else {
      return this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> in the SASL namespace`));
    }
    if (!data) {
      this.sasl = null;
      return this.saslFailed('incorrect-encoding', 'invalid base64', session.mechanism, 'invalid base64');
    }
    const step = await session.step(data);
    if (this.phase !== 'negotiating') return;
    if (step.kind === 'challenge') return this.write((this.sasl2 ? sasl2Challenge(step.data) : challengeElement(step.data)).toString());
    this.sasl = null;
    if (step.kind === 'failure') return this.saslFailed(step.condition, step.text, session.mechanism, step.reason ?? step.text);
    if (step.authzid && step.authzid !== `${step.username}@${this.host}`) {
      return this.saslFailed('invalid-authzid', 'you may only act as yourself', session.mechanism, 'authzid names another account');
    }
    // A banned account: told only after its credentials were proven, so bans reveal nothing to others.
    const account = Jid.of(step.username, this.host);
    const ban = await this.core.accounts.banOf(account);
    if (this.phase !== 'negotiating') return;
    if (ban) return this.saslFailed('account-disabled', ban.reason || 'this account is disabled', session.mechanism, 'account disabled');
    this.saslAttempt?.succeeded(account.toString());
    this.saslAttempt = null;
    this.saslClaimFrom = []; // a PLAIN message holds the password: not kept past the exchange
    this.username = step.username;
    this.account = account;
    this.channelBindings = NO_CHANNEL_BINDINGS; // only SASL binds to the channel, and it is over
    this.authMechanism = session.mechanism;
    this.core.metrics.authSuccess.inc({ mechanism: session.mechanism });
    this.log.info('authenticated', {
      user: `${step.username}@${this.host}`, mechanism: session.mechanism, tls: this.tlsProtocol ?? undefined, channel_binding: step.channelBinding,
      ...(this.sasl2 ? { sasl2: true } : {}),
    });
    if (this.sasl2) return this.sasl2Succeeded(this.sasl2, step.data, session.mechanism);
    // RFC 6120 §6.4.6: after <success/> both sides restart the stream; the old parser is discarded.
    this.phase = 'header';
    this.newParser();
    this.write(successElement(step.data).toString());
  }

  /** A session against the stream host's auth provider (stored SCRAM keys, or a password checker). */
  private newSaslSession(mechanism: string): SaslServerSession | null {
    return this.core.auth.saslSession(this.host, mechanism, {
      secure: this.secure,
      advertisedChannelBindings: this.channelBindings.types,
      channelBinding: (type) => this.channelBindings.get(type),
    }, { fakeIterations: this.core.config.scram_iterations });
  }

  /** The account the client claims: from the first of its SASL messages that names one. */
  private claimedAccount(): string | null {
    for (const { mechanism, data } of this.saslClaimFrom) {
      if (this.saslClaim !== null) break;
      this.saslClaim = claimedAccount(mechanism, data, this.host);
    }
    this.saslClaimFrom = [];
    return this.saslClaim;
  }

  /** The attempt ended without a verdict on the credentials (abort, restart, malformed, provider down...). */
  private settleSaslAttempt(): void {
    this.saslAttempt?.settle();
    this.saslAttempt = null;
    this.saslClaim = null;
    this.saslClaimFrom = [];
  }

  /**
   * Answer a failed SASL step. Every failure is logged once with the account as the client claimed it
   * and `reason` (never the secret or the SASL payload): wrong credentials by the throttle
   * (limits.auth), which counts them as guesses; the rest here.
   */
  private async saslFailed(condition: Parameters<typeof failureElement>[0], text: string | undefined, mechanism: string, reason: string = condition): Promise<void> {
    this.core.metrics.authFailure.inc({ mechanism, condition });
    // Only wrong credentials count as a guess (limits.auth).
    // Their answer is withheld for the throttle's delay; this connection's next elements wait behind it.
    const claim = this.claimedAccount();
    const guess = condition === 'not-authorized' && this.saslAttempt !== null;
    const delay = guess ? this.saslAttempt!.failed(reason, claim, { mechanism, condition }) : 0;
    if (!guess && condition !== 'aborted') {
      this.log.info('authentication failed', { kind: 'c2s', account: claim ?? undefined, ip: this.ip, mechanism, condition, reason });
    }
    this.settleSaslAttempt();
    if (delay > 0) {
      await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
      if (this.phase !== 'negotiating') return;
    }
    this.write((this.saslV2 ? sasl2Failure(condition, text) : failureElement(condition, text)).toString());
    // RFC 6120 §6.4.5: a configurable but small number of retries, then the connection ends.
    if (condition !== 'aborted' && ++this.saslFailures >= this.core.config.sasl_max_failures) {
      this.close(new StreamError('policy-violation', 'too many failed authentication attempts'));
    }
  }

  private bind(iq: Element, payload: Element): void {
    const requested = payload.getChildText('resource');
    let jid: Jid | null;
    try {
      jid = requested ? this.accountJid().withResource(requested) : null;
    } catch (err) {
      const e = new StanzaError('bad-request', err instanceof JidError ? `invalid resource: ${err.message}` : 'invalid resource');
      return this.write(errorReply(iq, e).toString());
    }
    const refusal = jid?.resource ? this.bindResource(jid.resource, jid) : this.bindResource(`xmppd-${randomBytes(6).toString('hex')}`);
    if (refusal) return this.write(errorReply(iq, refusal).toString());
    this.write(iqResult(iq, xml('bind', { xmlns: NS.BIND }, xml('jid', {}, this.jid.toString()))).toString());
    this.openSession();
  }

  private accountJid(): Jid {
    return (this.account ??= Jid.of(this.username!, this.host));
  }

  /** Take `resource` for this stream (RFC 6120 §7; XEP-0386), not yet routable; a refusal is the stanza error. */
  private bindResource(resource: string, jid = this.accountJid().withResource(resource)): StanzaError | null {
    const refusal = this.core.limits.admitBind(jid, this.ip, this.reader); // max_sessions_per_user; exempt accounts go unshaped
    if (refusal) return refusal;
    this.jid = jid;
    this.bound = true;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    return null;
  }

  /** The bound session joins the session manager (stanzas now route to it) once its answer was written. */
  private openSession(): void {
    // Replacing a session of another cluster node still adds one here.
    const old = this.core.sessions.add(this);
    if (!old || old.remote !== undefined) this.core.metrics.sessions.inc();
    this.log.debug('resource bound', { jid: this.jid.toString() });
    void this.core.hooks.notify('session_opened', this.host, { session: this });
  }

  /**
   * XEP-0388 §2.6.1: no stream restart. Bind2 and FAST happen inside <success/> (sasl2-login.ts); without
   * Bind2 the authenticated stream's features follow at once.
   */
  private async sasl2Succeeded(req: Sasl2Request, data: Buffer | undefined, mechanism: string): Promise<void> {
    this.sasl2 = null;
    const out = await completeSasl2({
      core: this.core, host: this.host, username: this.username!, mechanism, session: this,
      unbound: () => this.unboundStream(),
      bindResource: (r) => this.bindResource(r),
    }, req, data);
    if (this.phase !== 'negotiating') return;
    this.write(out.element.toString());
    if (out.resumed) {
      // A module resumed a session on this stream (sasl2_inline, XEP-0198): the stream is the module's now.
      if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
      this.negotiationTimer = null;
      return;
    }
    if (this.bound) return this.openSession();
    // No Bind2 (or it was refused): the client binds the classic way on this same stream.
    void this.sendFeatures();
  }

  // ---- bound session: stanzas from the client (RFC 6120 §8.1, §10) ----------------------------------------

  /** The last 'to' this client sent and its JID: a chat sends to one address over and over. */
  private lastTo: string | undefined = undefined;
  private lastToJid: Jid | null = null;

  /** A stanza of a bound stream, run as soon as it is parsed when none waits before it (handle() otherwise). */
  private boundStanza(el: Element): Promise<void> | void {
    if (this.phase !== 'negotiating') return;
    if (this.bound) return this.handleStanza(el);
    return this.handle(el);
  }

  /**
   * Everything up to routing runs in the caller's turn; only a hook with handlers (or presence) makes it
   * wait, so a plain message costs no promise here.
   */
  private handleStanza(el: Element): Promise<void> | void {
    const name = el.name;
    if ((name !== 'message' && name !== 'presence' && name !== 'iq') || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.CLIENT)) {
      // A nonza (XEP-0198 <r/>, XEP-0352 <active/>...): the module that speaks its namespace takes it.
      return this.handleNonza(el);
    }
    this.core.metrics.countIn(name);
    this.lastActiveAt = Date.now(); // stanzas only: acks and keepalives are not the user's activity
    this.inboundCounter?.();
    // RFC 6120 §8.1.2.1: the 'from' a client sends must be its own JID; the server stamps the full JID.
    const claimed = el.attrs.from;
    if (claimed !== undefined && claimed !== this.jid.toString()) {
      const j = Jid.tryParse(claimed);
      if (!j || (!j.equals(this.jid) && !j.equals(this.jid.bare()))) {
        return this.close(new StreamError('invalid-from', 'the from address does not match this session'));
      }
    }
    el.attrs.from = this.jid.toString();
    // RFC 3921 §3 session establishment comes after binding (the feature is advertised <optional/>,
    // RFC 6121 Appendix E): a no-op, answered like the bind result (a 'from' only if it had a 'to').
    if (name === 'iq' && el.attrs.type === 'set' && (el.attrs.to === undefined || el.attrs.to === this.host) && el.getChild('session', NS.SESSION)) {
      return this.send(iqResult(el, null));
    }
    let to: Jid;
    if (el.attrs.to === undefined) {
      to = this.jid.bare(); // RFC 6120 §10.3: no 'to' means the account itself
    } else if (el.attrs.to === this.lastTo) {
      to = this.lastToJid!;
    } else {
      const parsed = Jid.tryParse(el.attrs.to);
      if (!parsed) {
        if (el.attrs.type !== 'error' && !(name === 'iq' && el.attrs.type === 'result')) {
          this.send(errorReply(el, new StanzaError('jid-malformed', `"${el.attrs.to}" is not a valid JID`), this.host));
        }
        return;
      }
      this.lastTo = el.attrs.to;
      this.lastToJid = to = parsed;
    }
    if (this.core.hooks.has('user_send_packet', this.host)) return this.userSendPacket(el, name, to);
    if (name === 'presence') return this.handlePresence(el, el.attrs.to === undefined ? null : to);
    return this.core.router.dispatch(el, this.jid, to, this);
  }

  /** A top-level element that is not a stanza: the module that speaks its namespace, else a stream error. */
  private async handleNonza(el: Element): Promise<void> {
    if (this.core.hooks.has('c2s_nonza', this.host) && (await this.core.hooks.filter('c2s_nonza', this.host, false, { session: this, element: el }))) return;
    return this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza this server handles`));
  }

  /** user_send_packet handlers see (and may replace or drop) the stanza before it is routed. */
  private async userSendPacket(el: Element, name: string, to: Jid): Promise<void> {
    const r = await this.core.hooks.filter('user_send_packet', this.host, el, { session: this, from: this.jid, to });
    if (r === DROP) {
      this.core.metrics.stanzasDropped.inc({ hook: 'user_send_packet' });
      return;
    }
    if (name === 'presence') return this.handlePresence(r, r.attrs.to === undefined ? null : to);
    await this.core.router.route(r, this.jid, to, this);
  }

  /**
   * Presence from the client (RFC 6121 §4): the roster/presence modules see it first (c2s_presence_out);
   * broadcast presence (no 'to') updates this session's state and fires user_available/user_unavailable.
   */
  private async handlePresence(el: Element, to: Jid | null): Promise<void> {
    if (this.core.hooks.has('c2s_presence_out', this.host)) {
      const r = await this.core.hooks.filter('c2s_presence_out', this.host, el, { session: this, to });
      if (r === DROP) return;
      el = r;
    }
    if (to) return this.core.router.route(el, this.jid, to, this);
    const type = el.attrs.type;
    const wasAvailable = this.presence !== null;
    const oldPriority = this.priority;
    if (type === undefined) {
      this.presence = el;
      const p = Number(el.getChildText('priority') ?? 0);
      this.priority = Number.isInteger(p) && p >= -128 && p <= 127 ? p : 0;
      // In a cluster the other nodes learn it first: a contact's answer to it then finds this resource.
      const published = this.core.sessions.changed(this);
      if (published) await published;
      if (!wasAvailable) await this.core.hooks.notify('user_available', this.host, { session: this });
    } else if (type === 'unavailable' && wasAvailable) {
      await this.core.hooks.notify('user_unavailable', this.host, { session: this, stanza: el, reason: 'unavailable presence' });
      this.presence = null;
      const published = this.core.sessions.changed(this);
      if (published) await published;
    } else {
      return;
    }
    if (this.core.hooks.has('user_presence_updated', this.host)) {
      await this.core.hooks.notify('user_presence_updated', this.host, { session: this, wasAvailable, oldPriority });
    }
  }
}
