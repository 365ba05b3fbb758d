// One external component connection, XEP-0114 (Jabber Component Protocol, 'jabber:component:accept'): stream
// header with the component's domain in 'to' (§3), handshake = lowercase hex SHA-1(stream ID + secret), then
// stanzas both ways. Stanzas from the component must carry 'from' in exactly its domain (§3: "the domain
// identifier portion of the JID contained in the 'from' attribute MUST match the hostname of the component").
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { Element } from '@xmpp/xml';
import type { Element as XmlElement } from '@xmpp/xml';
import type { Core } from '../../core/core.js';
import { StanzaError, StreamError } from '../../core/errors.js';
import { Jid } from '../../core/jid.js';
import { NS } from '../../core/ns.js';
import { qualifiedName } from '../s2s/qualified-name.js';
import { XmlStreamBase } from '../stream/xml-stream-base.js';
import { checkHeader, type HeaderAttrs } from '../stream/stream-header.js';
import { peerStreamError } from '../stream/stream-error.js';

export const NS_COMPONENT_ACCEPT = 'jabber:component:accept';

/** XEP-0114 §3: HEX(SHA1(streamId + secret)), lowercase. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

/** What the connection needs from the registry that owns it. */
export interface ComponentHost {
  readonly core: Core;
  /** The secret of a configured component domain, or undefined. */
  secretOf(domain: string): string | undefined;
  /** Claim the domain for this connection; false when another connection already holds it. */
  register(conn: ComponentConnection): boolean;
  /** The connection is gone (whatever the cause); called once. */
  ended(conn: ComponentConnection): void;
}

export interface ComponentInfo { domain: string; ip: string; since: string; state: string; stanzasIn: number; stanzasOut: number }

/** 'rejected': a wrong handshake whose stream error is being withheld (limits.auth delay). */
type Phase = 'header' | 'handshake' | 'rejected' | 'established';

export class ComponentConnection extends XmlStreamBase {
  /** The component's domain (from the stream header; authenticated once phase is 'established'). */
  domain = '';
  phase: Phase = 'header';
  stanzasIn = 0;
  stanzasOut = 0;
  private negotiationTimer: NodeJS.Timeout | null;

  constructor(socket: Socket, private readonly host: ComponentHost) {
    const core = host.core;
    // Read unshaped (there is no limits.component), with limits.pre_auth_bytes until the handshake (XEP-0114 §3).
    super(core, () => core.log.child({ part: 'component', ip: socket.remoteAddress ?? '' }), 'component');
    this.attach(socket);
    this.newParser();
    // The handshake must come in time (RFC 6120 §4.9.3.4 connection-timeout), as for a client.
    this.negotiationTimer = setTimeout(() => {
      if (this.phase !== 'established') this.close(new StreamError('connection-timeout', 'the handshake took too long'));
    }, core.config.c2s_negotiation_timeout * 1000);
    this.negotiationTimer.unref();
  }

  info(): ComponentInfo {
    return {
      domain: this.domain, ip: this.ip, since: new Date(this.startedAt).toISOString(),
      state: this.ended ? 'closed' : this.phase, stanzasIn: this.stanzasIn, stanzasOut: this.stanzasOut,
    };
  }

  // ---- stream header and handshake (XEP-0114 §3) ---------------------------------------------------------

  /** No version attribute: XEP-0114 streams are pre-RFC 3920 streams without features. */
  private header(from: string): HeaderAttrs {
    return { contentNs: NS_COMPONENT_ACCEPT, from, version: false };
  }

  protected errorHeader(): HeaderAttrs {
    return this.header(this.domain || this.host.core.config.hosts[0]!);
  }

  protected onStreamStart(attrs: Record<string, string>): void {
    if (this.phase !== 'header') return this.close(new StreamError('not-well-formed', 'a second stream header'));
    const to = attrs.to ? Jid.tryParse(attrs.to) : null;
    const domain = to && !to.local && !to.resource ? to.domain : '';
    // §3: errors related to the header are sent after our own header (RFC 6120 §4.9.1.2).
    this.openStream(this.header(domain || this.host.core.config.hosts[0]!));
    const bad = checkHeader(attrs, NS_COMPONENT_ACCEPT, false);
    if (bad) return this.close(bad);
    if (!attrs.to) return this.close(new StreamError('improper-addressing', "the stream header needs 'to' (the component's domain)"));
    if (!domain || this.host.secretOf(domain) === undefined) {
      return this.close(new StreamError('host-unknown', `${attrs.to} is not a component configured on this server`));
    }
    this.domain = domain;
    this.log = this.host.core.log.child({ part: 'component', component: domain, ip: this.ip });
    this.phase = 'handshake';
  }

  private handshake(el: XmlElement): void {
    // limits.auth, per address: a locked address is refused before the handshake is looked at.
    const admission = this.host.core.limits.auth.begin('component', this.ip, this.domain);
    if (admission.refused) {
      const seconds = Math.ceil(admission.retryAfterMs / 1000);
      return this.close(new StreamError('not-authorized', `too many failed handshakes from your address; try again later (in ${seconds} s)`));
    }
    const secret = this.host.secretOf(this.domain);
    const want = Buffer.from(handshakeDigest(this.streamId, secret ?? ''));
    // Case-insensitive like Prosody and ejabberd (a component may send uppercase hex).
    const got = Buffer.from(el.getText().trim().toLowerCase());
    if (secret === undefined || got.length !== want.length || !timingSafeEqual(got, want)) {
      // Logged by the throttle (kind, domain, ip, delay). The error is withheld for the throttle's delay
      // (per address and per component domain); nothing the component sends meanwhile is read.
      const delay = admission.attempt.failed('handshake does not match the secret', this.domain);
      const error = new StreamError('not-authorized', 'the handshake does not match the secret');
      this.phase = 'rejected';
      if (delay === 0) return this.close(error);
      setTimeout(() => this.close(error), delay).unref();
      return;
    }
    admission.attempt.succeeded(this.domain);
    // A second connection for a connected domain is refused (Prosody's default "kick_new"); ejabberd would
    // load-balance both. Checked after the handshake, so only the holder of the secret learns of it.
    if (!this.host.register(this)) {
      this.log.warn('a second connection for a connected component was refused');
      return this.close(new StreamError('conflict', `${this.domain} is already connected`));
    }
    this.phase = 'established';
    this.reader.authenticated();
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    this.write(`<handshake/>`);
    this.log.info('component connected');
  }

  // ---- elements ------------------------------------------------------------------------------------------

  protected onElement(el: XmlElement): void {
    const qn = qualifiedName(el, { xmlns: NS_COMPONENT_ACCEPT });
    if (qn.ns === NS.STREAM && qn.local === 'error') {
      this.log.info('stream error from the component', peerStreamError(el));
      return this.close();
    }
    if (this.phase === 'handshake') {
      if (qn.local === 'handshake' && qn.ns === NS_COMPONENT_ACCEPT) return this.handshake(el);
      return this.close(new StreamError('not-authorized', 'send the handshake first'));
    }
    if (this.phase !== 'established') return;
    const stanza = (qn.local === 'message' || qn.local === 'presence' || qn.local === 'iq') && qn.local === el.name;
    // Stanzas in the stream's namespace, or (like Prosody, COMPAT) explicitly in jabber:client.
    if (stanza && (qn.ns === NS_COMPONENT_ACCEPT || qn.ns === NS.CLIENT)) return this.enqueue(el);
    this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`));
  }

  private enqueue(el: XmlElement): void {
    // One component's stanzas are routed in order (RFC 6120 §10.1).
    this.inbound.push(() => this.handleStanza(el));
  }


  private async handleStanza(el: XmlElement): Promise<void> {
    if (this.closeSent || this.ended) return;
    const router = this.host.core.router;
    // XEP-0114 §3: 'from' and 'to' are required, and 'from' is in the component's domain (not a subdomain).
    const from = Jid.tryParse(el.attrs.from);
    if (!from || from.domain !== this.domain) {
      return this.close(new StreamError('invalid-from', `'from' must be an address at ${this.domain}${el.attrs.from ? `, not ${el.attrs.from}` : ''}`));
    }
    if (el.attrs.to === undefined) return this.close(new StreamError('improper-addressing', "stanzas from a component need 'to'"));
    this.stanzasIn++;
    const to = Jid.tryParse(el.attrs.to);
    if (!to) {
      const server = Jid.of('', this.host.core.config.hosts[0]!);
      return router.bounce(el, from, server, new StanzaError('jid-malformed', `"${el.attrs.to}" is not a valid JID`));
    }
    if (el.attrs.xmlns === NS_COMPONENT_ACCEPT || el.attrs.xmlns === NS.CLIENT) delete el.attrs.xmlns;
    if (!router.isServed(to.domain) && !router.components?.has(to.domain)) {
      // Federation does not originate from component domains yet (s2s authenticates and accepts only the
      // server's hosts): answer rather than let the s2s layer drop it as a relay attempt.
      return router.bounce(el, from, to, new StanzaError('remote-server-not-found', `${this.domain} cannot reach other servers`));
    }
    await router.route(el, from, to);
  }

  // ---- to the component ----------------------------------------------------------------------------------

  /** Write a routed stanza with the router's addresses, in the stream's default namespace. */
  deliver(el: XmlElement, from: Jid, to: Jid): void {
    const attrs: Record<string, string> = { ...el.attrs, from: from.toString(), to: to.toString() };
    if (attrs.xmlns === NS.CLIENT || attrs.xmlns === NS.SERVER || attrs.xmlns === NS_COMPONENT_ACCEPT) delete attrs.xmlns;
    // A shallow copy: the element itself may be shared with other recipients.
    const copy = new Element(el.name, attrs);
    copy.children = el.children;
    this.stanzasOut++;
    this.write(copy.toString());
  }

  // ---- ending --------------------------------------------------------------------------------------------

  protected onEnded(): void {
    this.parser = null;
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
    if (this.phase === 'established') this.log.info('component disconnected');
    this.host.ended(this);
  }
}
