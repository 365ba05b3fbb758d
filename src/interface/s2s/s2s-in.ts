// An inbound server-to-server stream (RFC 6120 §4-§6, §13.7.2): STARTTLS, then the peer authenticates one or
// more of its domains with SASL EXTERNAL (XEP-0178) or dialback (XEP-0220); stanzas are checked against the
// authenticated (remote, local) pairs (§4.9.3 invalid-from, improper-addressing, host-unknown) and routed.
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { DROP } from '../../../hooks/index.js';
import { NS } from '../../core/ns.js';
import { StanzaError, StreamError } from '../../core/errors.js';
import { Jid } from '../../core/jid.js';
import { checkHeader, featuresElement, type HeaderAttrs } from '../stream/stream-header.js';
import { decodeSaslPayload, failureElement, successElement } from '../c2s/sasl-negotiation.js';
import { NS_DIALBACK, dbAnswer, dialbackFeature } from './dialback.js';
import type { QualifiedName } from './qualified-name.js';
import { S2SStream, s2sHeader, type S2sStreamInfo } from './s2s-stream.js';
import { S2sTls } from './s2s-tls.js';
import { StreamManagement, NS_SM } from './stream-management.js';
import type { S2SManager } from './s2s-manager.js';

type Phase = 'header' | 'open' | 'tls-upgrade';

export class S2SIn extends S2SStream {
  readonly direction = 'in' as const;
  protected override idleFactor = 2;
  /** Our host the peer addressed in its stream header. */
  local = '';
  /** The 'from' of the peer's stream header, when it gave one. */
  private headerFrom = '';
  private phase: Phase = 'header';
  private saslDone = false;
  /** Authenticated remote domain -> our domains it may address (XEP-0220 §2.4 multiplexing). */
  private readonly pairs = new Map<string, Set<string>>();
  private readonly sm = new StreamManagement();
  private negotiationTimer: NodeJS.Timeout | null;
  /** Dialback verifications we are making for this stream (limits.dialback_pending_per_stream). */
  private pendingDialbacks = 0;

  constructor(socket: Socket, private readonly mgr: S2SManager, private readonly opts: { starttlsRequired: boolean; directTls: boolean }) {
    super(mgr.core, { dir: 'in', ip: socket.remoteAddress });
    this.attach(socket);
    if (opts.directTls) this.secured(socket as TLSSocket, true);
    this.newParser();
    // Authentication must happen in time (RFC 6120 §4.9.3.4 connection-timeout); twice connect_timeout,
    // as our own dialback verification for the peer may take connect_timeout.
    this.negotiationTimer = setTimeout(() => {
      if (this.pairs.size === 0) this.close(new StreamError('connection-timeout', 'authentication took too long'));
    }, this.core.config.s2s.connect_timeout * 1000 * 2);
    this.negotiationTimer.unref();
  }

  /** Remote domains authenticated on this stream. */
  remotes(): string[] {
    return [...this.pairs.keys()];
  }

  info(): S2sStreamInfo {
    return {
      ...this.baseInfo(), direction: 'in', local: this.local, remote: this.remotes().join(',') || this.headerFrom,
      state: this.ended ? 'closed' : this.pairs.size ? 'established' : 'negotiating', queued: 0,
    };
  }

  // ---- stream header and features -------------------------------------------------------------------------

  protected errorHeader(): HeaderAttrs {
    return s2sHeader({ from: this.local || this.core.config.hosts[0]! });
  }

  protected onS2sStreamStart(attrs: Record<string, string>): void {
    if (this.phase !== 'header') return this.close(new StreamError('not-well-formed', 'unexpected stream header'));
    const to = domainOf(attrs.to);
    const host = to && this.core.router.isServed(to) ? to : null;
    const from = domainOf(attrs.from);
    this.openStream(s2sHeader({ from: host ?? (this.local || this.core.config.hosts[0]!), to: from ?? undefined }));
    const bad = checkHeader(attrs, NS.SERVER);
    if (bad) return this.close(bad);
    if (!host) return this.close(new StreamError('host-unknown', attrs.to ? `this server does not serve ${attrs.to}` : "the stream header has no 'to'"));
    if (this.local && host !== this.local) return this.close(new StreamError('host-unknown', 'the host changed after a stream restart'));
    this.local = host;
    if (from) {
      if (this.core.router.isServed(from)) return this.close(new StreamError('invalid-from', `${from} is served here`));
      if (!this.mgr.allowed(from)) return this.close(new StreamError('policy-violation', `federation with ${from} is not allowed`));
      this.headerFrom = from;
    }
    this.phase = 'open';
    this.sendFeatures();
  }

  private tlsPending(): boolean {
    return !this.secure && this.opts.starttlsRequired;
  }

  /** Whether the certificate on this connection is valid for a peer domain (RFC 6125, XEP-0178). */
  private certValidFor(domain: string): boolean {
    return this.peerCert !== null && S2sTls.peerIsDomain(this.peerCert, domain);
  }

  private sendFeatures(): void {
    const features: Element[] = [];
    if (!this.secure) {
      features.push(xml('starttls', { xmlns: NS.TLS }, ...(this.opts.starttlsRequired ? [xml('required')] : [])));
    }
    if (!this.tlsPending()) {
      // XEP-0178 §2: EXTERNAL only when the certificate is good for the domain the header names.
      if (!this.saslDone && this.headerFrom && this.certValidFor(this.headerFrom)) {
        features.push(xml('mechanisms', { xmlns: NS.SASL }, xml('mechanism', {}, 'EXTERNAL')));
      }
      features.push(dialbackFeature());
      if (!this.sm.inboundEnabled) features.push(xml('sm', { xmlns: NS_SM }));
    }
    this.send(featuresElement(features));
  }

  // ---- elements ------------------------------------------------------------------------------------------

  protected onS2sElement(el: Element, qn: QualifiedName): void {
    if (this.phase !== 'open') return;
    if (qn.ns === NS.TLS && qn.local === 'starttls') return this.startTls();
    if (qn.ns === NS.SASL) return this.handleSasl(el, qn.local);
    if (qn.ns === NS_DIALBACK && qn.local === 'result') return this.handleDbResult(el);
    if (qn.ns === NS_DIALBACK && qn.local === 'verify') return this.handleDbVerify(el);
    if (qn.ns === NS_SM) return this.handleSm(el, qn.local);
    if (qn.ns === NS.SERVER && (qn.local === 'message' || qn.local === 'presence' || qn.local === 'iq') && qn.local === el.name) {
      return this.enqueue(el);
    }
    this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not something a server sends here`));
  }

  private startTls(): void {
    if (this.secure) return this.close(new StreamError('policy-violation', 'TLS is already in place'));
    this.phase = 'tls-upgrade';
    this.write(`<proceed xmlns='${NS.TLS}'/>`);
    const raw = this.detachForTls();
    const tlsSocket = new TLSSocket(raw, { isServer: true, ...this.mgr.tls.serverOptions() });
    tlsSocket.once('secure', () => {
      this.secured(tlsSocket, true);
      this.phase = 'header';
      this.newParser();
      this.log.debug('TLS established', { ...this.tlsInfo, peerCert: this.peerCert?.chainValid ? 'valid' : this.peerCert?.chainError });
    });
    tlsSocket.once('error', (err) => {
      if (!this.secure) this.log.info('TLS handshake failed', { err: err.message });
    });
    this.attach(tlsSocket);
  }

  /** RFC 6120 §6 with XEP-0178: only EXTERNAL, only for a domain the certificate proves. */
  private handleSasl(el: Element, local: string): void {
    if (local === 'abort') return this.send(failureElement('aborted'));
    if (local !== 'auth') return this.send(failureElement('malformed-request', 'no authentication in progress'));
    if (this.tlsPending()) return this.send(failureElement('encryption-required', 'STARTTLS first'));
    if (this.saslDone) return this.close(new StreamError('policy-violation', 'already authenticated'));
    if (el.attrs.mechanism !== 'EXTERNAL') return this.send(failureElement('invalid-mechanism', `${el.attrs.mechanism ?? 'no mechanism'} is not offered`));
    const data = decodeSaslPayload(el);
    if (!data) return this.send(failureElement('incorrect-encoding', 'invalid base64'));
    // RFC 6120 §6.4.6 / XEP-0178 §3: an empty authzid means the domain of the stream header.
    const claimed = data.length ? domainOf(data.toString('utf8')) : this.headerFrom || null;
    if (!claimed) return this.send(failureElement('invalid-authzid', 'no domain to authenticate'));
    if (this.headerFrom && claimed !== this.headerFrom) return this.send(failureElement('invalid-authzid', 'the authzid differs from the stream header'));
    if (!this.mgr.allowed(claimed)) {
      this.mgr.countAuth('in', 'EXTERNAL', 'denied');
      return this.send(failureElement('not-authorized', `federation with ${claimed} is not allowed`));
    }
    if (!this.certValidFor(claimed)) {
      this.mgr.countAuth('in', 'EXTERNAL', 'failure');
      return this.send(failureElement('not-authorized', `the certificate is not valid for ${claimed}`));
    }
    this.authenticated(claimed, this.local, 'EXTERNAL');
    this.saslDone = true;
    // RFC 6120 §6.4.6: both sides restart the stream after <success/>.
    this.phase = 'header';
    this.newParser();
    this.send(successElement());
  }

  private authenticated(remote: string, local: string, method: 'EXTERNAL' | 'dialback'): void {
    let set = this.pairs.get(remote);
    if (!set) this.pairs.set(remote, (set = new Set()));
    set.add(local);
    this.authMethod ||= method;
    this.reader?.authenticated(); // limits.pre_auth_bytes applies until the first domain is authenticated
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    this.mgr.countAuth('in', method, 'success');
    this.log.info('peer authenticated', { remote, local, method, tls: this.tlsInfo?.version });
    this.touch();
  }

  /** XEP-0220 §2.1.2-2.1.4: we are the Receiving Server; the Authoritative Server says whether the key is good. */
  private handleDbResult(el: Element): void {
    if (el.attrs.type !== undefined) return; // answers flow the other way
    if (this.tlsPending()) return this.close(new StreamError('policy-violation', 'STARTTLS first'));
    const from = domainOf(el.attrs.from);
    const to = domainOf(el.attrs.to);
    if (!from || !to) return this.close(new StreamError('improper-addressing', 'db:result needs a from and a to domain'));
    const reply = { from: to, to: from };
    if (!this.core.router.isServed(to)) return this.send(dbAnswer('result', reply, { error: 'item-not-found', text: `${to} is not served here` }));
    if (this.core.router.isServed(from)) return this.close(new StreamError('invalid-from', `${from} is served here`));
    if (this.pairs.get(from)?.has(to)) return this.send(dbAnswer('result', reply, 'valid'));
    if (!this.mgr.allowed(from)) {
      this.mgr.countAuth('in', 'dialback', 'denied');
      return this.send(dbAnswer('result', reply, { error: 'policy-violation', text: `federation with ${from} is not allowed` }));
    }
    if (this.certValidFor(from)) {
      // XEP-0344 §2.4: a certificate that proves the domain makes the callback unnecessary.
      this.authenticated(from, to, 'dialback');
      return this.send(dbAnswer('result', reply, 'valid'));
    }
    if (this.mgr.policy(from) === 'require_valid_cert') {
      this.mgr.countAuth('in', 'dialback', 'denied');
      return this.send(dbAnswer('result', reply, { error: 'not-authorized', text: `${from} must present a valid certificate` }));
    }
    // Each verification dials the claimed domain's server: bounded per stream and per peer address. XEP-0220
    // §2.4: a dialback error, not a stream error (the stream may carry other domain pairs); its table has no
    // row for a busy Receiving Server, so RFC 6120 §8.3.3.18 <resource-constraint/> (type wait: try later).
    const release = this.core.limits.reserveDialback(this.ip, this.pendingDialbacks);
    if (!release) {
      this.log.info('dialback refused: too many verifications pending', { remote: from, pending: this.pendingDialbacks });
      return this.send(dbAnswer('result', reply, { error: 'resource-constraint', text: 'too many dialback verifications are pending; try again later' }));
    }
    this.pendingDialbacks++;
    const key = el.getText().trim();
    const streamId = this.streamId;
    void this.mgr.verifyDialback(to, from, streamId, key).then((outcome) => {
      this.pendingDialbacks--;
      release();
      if (this.ended || this.closeSent) return;
      if (outcome === 'valid') this.authenticated(from, to, 'dialback');
      else this.mgr.countAuth('in', 'dialback', typeof outcome === 'string' ? 'invalid' : 'error');
      this.send(dbAnswer('result', reply, outcome));
      // XEP-0220 §2.1.4: a forged key ends the stream.
      if (outcome === 'invalid') this.close(new StreamError('not-authorized', 'the dialback key is not valid'));
    });
  }

  /** XEP-0220 §2.1.3: we are the Authoritative Server for 'to'; keys are checked statelessly (XEP-0185). */
  private handleDbVerify(el: Element): void {
    if (el.attrs.type !== undefined) return;
    if (this.tlsPending()) return this.close(new StreamError('policy-violation', 'STARTTLS first'));
    const from = domainOf(el.attrs.from);
    const to = domainOf(el.attrs.to);
    const id = el.attrs.id;
    if (!from || !to || !id) return this.close(new StreamError('improper-addressing', 'db:verify needs from, to and id'));
    const reply = { from: to, to: from, id };
    if (!this.core.router.isServed(to)) return this.send(dbAnswer('verify', reply, { error: 'item-not-found', text: `${to} is not served here` }));
    const valid = this.mgr.keys.verify(from, to, id, el.getText());
    this.log.debug('dialback verify request answered', { receiving: from, originating: to, valid });
    this.send(dbAnswer('verify', reply, valid ? 'valid' : 'invalid'));
  }

  // ---- XEP-0198 acknowledgements (the peer learns which stanzas we handled) ------------------------------

  private handleSm(el: Element, local: string): void {
    if (local === 'enable') {
      // Peers enable it as soon as it is offered (Prosody does, before authenticating); stanzas still
      // need an authenticated domain, so counting from here is harmless.
      if (this.sm.inboundEnabled || this.tlsPending()) return this.send(xml('failed', { xmlns: NS_SM }, xml('unexpected-request', { xmlns: NS.STANZAS })));
      this.sm.enableInbound();
      return this.send(xml('enabled', { xmlns: NS_SM }));
    }
    if (local === 'r' && this.sm.inboundEnabled) {
      // Answer after the stanzas before <r/> were handled (ordered after them in the queue).
      this.inbound.push(() => this.send(xml('a', { xmlns: NS_SM, h: String(this.sm.handledIn()) })));
      return;
    }
    if (local === 'a') return; // we do not request acks on inbound streams
  }

  // ---- stanzas (RFC 6120 §8.1.1.1, §4.9.3, §10.1 in order) ---------------------------------------------

  private enqueue(el: Element): void {
    this.inbound.push(() => this.handleStanza(el));
  }


  private async handleStanza(el: Element): Promise<void> {
    if (this.errored || this.ended) return;
    if (this.pairs.size === 0) return this.close(new StreamError('not-authorized', 'authenticate first'));
    if (el.attrs.from === undefined || el.attrs.to === undefined) {
      return this.close(new StreamError('improper-addressing', "stanzas between servers need 'from' and 'to'"));
    }
    const from = Jid.tryParse(el.attrs.from);
    if (!from || !this.pairs.has(from.domain)) {
      return this.close(new StreamError('invalid-from', `${el.attrs.from} is not from a domain authenticated on this stream`));
    }
    const to = Jid.tryParse(el.attrs.to);
    if (to && !this.core.router.isServed(to.domain)) return this.close(new StreamError('host-unknown', `${to.domain} is not served here`));
    if (to && !this.pairs.get(from.domain)!.has(to.domain)) {
      return this.close(new StreamError('invalid-from', `${from.domain} is not authenticated for ${to.domain} on this stream`));
    }
    this.sm.handled();
    this.touch();
    this.mgr.countStanza('in');
    if (!to) {
      this.core.router.bounce(el, from, Jid.of('', this.local), new StanzaError('jid-malformed', `"${el.attrs.to}" is not a valid JID`));
      return;
    }
    if (el.attrs.xmlns === NS.SERVER) delete el.attrs.xmlns; // local clients get it in jabber:client
    if (this.core.hooks.has('s2s_receive_packet', to.domain)) {
      const r = await this.core.hooks.filter('s2s_receive_packet', to.domain, el, {
        from, to, remote: from.domain, local: to.domain, auth: this.authMethod || 'dialback',
      });
      if (r === DROP) {
        this.core.metrics.stanzasDropped.inc({ hook: 's2s_receive_packet' });
        return;
      }
      el = r;
    }
    await this.core.router.route(el, from, to);
  }

  protected onS2sEnded(reason: string): void {
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    this.log.debug('inbound stream ended', { reason, remotes: this.remotes() });
    this.mgr.inboundEnded(this);
  }
}

/** A bare domain (RFC 7622 domainpart, prepared) from an attribute, or null. */
function domainOf(s: string | undefined): string | null {
  const j = s ? Jid.tryParse(s) : null;
  return j && !j.local && !j.resource ? j.domain : null;
}
