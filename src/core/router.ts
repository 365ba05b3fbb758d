// The router (DESIGN.md "Stanza flow"; RFC 6120 §10): filter_packet, then local or remote delivery.
// route() never throws: failures are logged, counted and answered with stanza errors.
import type { Element } from '@xmpp/xml';
import { DROP } from '../../hooks/index.js';
import { StanzaError } from './errors.js';
import { errorReply, mayAnswerWithError } from './stanza.js';
import { Jid } from './jid.js';
import type { HookRunner } from './hooks/hook-runner.js';
import type { IqRouter } from './iq-router.js';
import type { Logger } from './log.js';
import type { SessionManager } from './session-manager.js';
import type { Session } from './session.js';
import type { Metrics } from './metrics.js';

export interface AccountLookup {
  exists(bare: Jid): Promise<boolean>;
}

/**
 * Sends a stanza to a domain that is not ours. The composition root plugs the s2s layer in here
 * (src/interface/s2s). It must never throw and never drop silently.
 */
export type RemoteRoute = (el: Element, from: Jid, to: Jid) => Promise<void>;

/** Domains served by XEP-0114 external components (src/interface/component), routed before the remote branch. */
export interface ComponentRoutes {
  /** A configured component domain (connected or not). */
  has(domain: string): boolean;
  /** Deliver to the component, or bounce when it is not connected; never throws. */
  route: RemoteRoute;
}

/**
 * A module-served subdomain (e.g. a MUC service at conference.<host>): every stanza to it or to its JIDs
 * (room@conference.<host>/nick) goes to the handler, which answers errors itself. Awaited, so a sender's
 * stanzas reach it in order (RFC 6120 §10.1).
 */
export type ServiceDomainHandler = (el: Element, from: Jid, to: Jid) => Promise<void>;

/**
 * How a module-served domain is spread over a cluster. 'one-node-per-jid': every stanza to one bare JID of the
 * domain (a MUC room) is handled by the one node that holds it, the module's state for it living there only;
 * stanzas to the domain itself are handled wherever they arrive. On a single node nothing changes.
 */
export interface ServeDomainOptions {
  placement?: 'one-node-per-jid';
  /** This node has just become the holder of `bare` (cluster only): load its state fresh from the tables. */
  acquire?: (bare: Jid) => Promise<void>;
  /** This node no longer holds `bare` (another node took it over): drop what it kept of it. */
  release?: (bare: Jid) => void | Promise<void>;
  /**
   * Whether the module keeps anything of `bare` (a room exists): asked once its stanzas are handled; when it
   * does not, the claim goes and any node may host that JID next time. Without it a claim stays for ever.
   */
  holds?: (bare: Jid) => boolean;
}

/** A served domain as the router keeps it. */
export interface ServiceEntry extends ServeDomainOptions {
  readonly domain: string;
  readonly host: string;
  readonly handle: ServiceDomainHandler;
}

/** The cluster's seam for 'one-node-per-jid' domains (src/core/cluster/jid-placement.ts); null on a single node. */
export interface DomainPlacement {
  /** Deliver a stanza for a bare JID of a sharded domain: here when this node holds it, else to its holder. */
  route(entry: ServiceEntry, el: Element, from: Jid, to: Jid): Promise<void>;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class Router {
  /** Without federation (s2s.enabled: false) remote stanzas bounce with remote-server-not-found. */
  routeRemote: RemoteRoute = async (el, from, to) => {
    this.bounce(el, from, to, new StanzaError('remote-server-not-found', `no route to ${to.domain}`));
  };
  /** XEP-0114 component domains (null without a `components` section); isLocal() stays for hosts. */
  components: ComponentRoutes | null = null;
  /** Where the bare JIDs of sharded service domains live (set by the composition root in a cluster). */
  placement: DomainPlacement | null = null;

  constructor(
    private readonly hosts: ReadonlySet<string>,
    private readonly sm: SessionManager,
    private readonly iq: IqRouter,
    private readonly hooks: HookRunner,
    private readonly accounts: AccountLookup,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    iq.send = (el, from, to) => this.route(el, from, to);
  }

  isLocal(domain: string): boolean {
    return this.hosts.has(domain);
  }

  private readonly serviceDomains = new Map<string, ServiceEntry>();

  /** Serve `domain` on behalf of `host` (a module's subdomain); the returned function withdraws it. */
  serveDomain(domain: string, host: string, handle: ServiceDomainHandler, opts: ServeDomainOptions = {}): () => void {
    if (this.hosts.has(domain)) throw new Error(`${domain} is a virtual host, not a service domain`);
    if (this.components?.has(domain)) throw new Error(`${domain} is already an external component`);
    if (this.serviceDomains.has(domain)) throw new Error(`${domain} is already served by ${this.serviceDomains.get(domain)!.host}`);
    const entry: ServiceEntry = { ...opts, domain, host, handle };
    this.serviceDomains.set(domain, entry);
    return () => {
      if (this.serviceDomains.get(domain) === entry) this.serviceDomains.delete(domain);
    };
  }

  /** The module serving `domain` on this node (the cluster's placement runs stanzas forwarded to it). */
  serviceEntry(domain: string): ServiceEntry | undefined {
    return this.serviceDomains.get(domain);
  }

  /** Whether this server answers for `domain`: a virtual host or a module-served subdomain (s2s accepts both). */
  isServed(domain: string): boolean {
    return this.hosts.has(domain) || this.serviceDomains.has(domain);
  }

  /** The virtual host a domain belongs to (itself, or the host whose module serves it), else undefined. */
  hostOf(domain: string): string | undefined {
    if (this.hosts.has(domain)) return domain;
    return this.serviceDomains.size ? this.serviceDomains.get(domain)?.host : undefined;
  }

  /** Route a stanza whose from/to are already validated JIDs. */
  route(el: Element, from: Jid, to: Jid, session?: Session): Promise<void> {
    return this.dispatch(el, from, to, session) ?? RESOLVED;
  }

  /**
   * route(), returning nothing when the stanza was handled in this turn: a message between two local
   * sessions with no filter_packet, message_accepted, user_receive_packet or message_delivered handler for
   * the hosts concerned is written at once, without a promise; everything else takes the full path.
   */
  dispatch(el: Element, from: Jid, to: Jid, session?: Session): Promise<void> | undefined {
    this.metrics.countRouted();
    if (el.name === 'message' && to.local && this.hosts.has(to.domain)) {
      try {
        if (this.messageNow(el, from, to)) return undefined;
      } catch (err) {
        this.failed(err, el, from, to);
        return undefined;
      }
    }
    return this.routeAsync(el, from, to, session);
  }

  /**
   * A message to a local account delivered in this turn when no hook has a say in it (RFC 6121 §8.5.2.1.1,
   * §8.5.3.1, as routeLocal does); false when it needs the full path (hooks, offline, errors).
   */
  private messageNow(el: Element, from: Jid, to: Jid): boolean {
    const host = to.domain;
    if (!this.quiet(host)) return false;
    if (from.domain !== host && this.hosts.has(from.domain) && this.hooks.has('filter_packet', from.domain)) return false;
    const type = el.attrs.type;
    if (to.resource) {
      const target = this.sm.get(to);
      if (!target) return false;
      target.send(el);
      return true;
    }
    if (type === 'error') return true; // §8.5.2.1.1: silently ignored
    if (type === 'groupchat') return false;
    const targets = type === 'headline' ? this.sm.availableResources(to) : this.sm.messageTargets(to);
    if (!targets.length) return false;
    for (const s of targets) s.send(el);
    return true;
  }

  /** Per host: no handler has a say in a message delivered there; cached until the hook chains change. */
  private readonly quietHosts = new Map<string, boolean>();
  private quietGeneration = -1;
  private quiet(host: string): boolean {
    const hooks = this.hooks;
    if (hooks.generation !== this.quietGeneration) {
      this.quietHosts.clear();
      this.quietGeneration = hooks.generation;
    }
    let q = this.quietHosts.get(host);
    if (q === undefined) {
      q = !(hooks.has('filter_packet', host) || hooks.has('message_accepted', host) || hooks.has('user_receive_packet', host) || hooks.has('message_delivered', host));
      this.quietHosts.set(host, q);
    }
    return q;
  }

  private async routeAsync(el: Element, from: Jid, to: Jid, session?: Session): Promise<void> {
    try {
      // filter_packet runs for the host of the local party the stanza concerns: the recipient's if local,
      // else the sender's. Between two local hosts both are concerned (e.g. XEP-0191 blocking works both
      // ways): the sender's host first, then the recipient's. The cost never grows with the host count.
      const toLocal = this.hosts.has(to.domain);
      const service = toLocal || !this.serviceDomains.size ? undefined : this.serviceDomains.get(to.domain);
      const toHost = toLocal ? to.domain : service?.host;
      if (toHost && from.domain !== toHost && this.hosts.has(from.domain)) {
        const r = await this.filterPacket(from.domain, el, from, to, session);
        if (r === DROP) return;
        el = r;
      }
      const r = await this.filterPacket(toHost ?? this.hostOf(from.domain) ?? from.domain, el, from, to, session);
      if (r === DROP) return;
      el = r;
      if (toLocal) {
        await this.routeLocal(el, from, to, session);
      } else if (service) {
        if (service.placement && to.local && this.placement) await this.placement.route(service, el, from, to);
        else await service.handle(el, from, to);
      } else if (this.components?.has(to.domain)) {
        await this.components.route(el, from, to);
      } else {
        await this.routeRemote(el, from, to);
      }
    } catch (err) {
      this.failed(err, el, from, to);
    }
  }

  private failed(err: unknown, el: Element, from: Jid, to: Jid): void {
    this.log.error('routing failed', { err, name: el.name, to: to.toString() });
    this.bounce(el, from, to, new StanzaError('internal-server-error'));
  }

  private async filterPacket(host: string, el: Element, from: Jid, to: Jid, session?: Session): Promise<Element | typeof DROP> {
    if (!this.hooks.has('filter_packet', host)) return el;
    const r = await this.hooks.filter('filter_packet', host, el, { from, to, session });
    if (r === DROP) this.metrics.stanzasDropped.inc({ hook: 'filter_packet' });
    return r;
  }

  private async routeLocal(el: Element, from: Jid, to: Jid, session?: Session): Promise<void> {
    const name = el.name;
    if (!to.local) {
      // Addressed to the server itself (RFC 6121 §8.5.1).
      if (name === 'iq') {
        if (to.resource) return this.bounce(el, from, to, new StanzaError('service-unavailable'));
        return this.iq.dispatch(el, from, to, 'host', to.domain, session);
      }
      if (name === 'message') this.bounce(el, from, to, new StanzaError('service-unavailable'));
      return; // presence to the server: nothing to do until a module handles it
    }
    if (name === 'presence') return this.presenceToUser(el, from, to);
    if (to.resource) {
      const target = this.sm.get(to);
      if (target) {
        if (name !== 'message') return this.deliver(target, el, from, to);
        const accepted = this.hooks.has('message_accepted', to.domain) ? await this.accepted(el, from, to) : el;
        await this.deliver(target, accepted, from, to);
        return this.delivered(accepted, from, to, [target]);
      }
      // RFC 6121 §8.5.3.2: the resource is gone.
      if (name === 'iq') return this.bounce(el, from, to, new StanzaError('service-unavailable'));
      const type = el.attrs.type ?? 'normal';
      if (type === 'groupchat') return this.bounce(el, from, to, new StanzaError('service-unavailable'));
      if (type === 'headline' || type === 'error') return;
      return this.toBareMessage(el, from, to.bare(), to);
    }
    if (name === 'iq') {
      // An IQ to someone else's bare JID needs an account there (RFC 6121 §8.5.1).
      if (!from.bare().equals(to.bare()) && !(await this.accounts.exists(to))) {
        return this.bounce(el, from, to, new StanzaError('service-unavailable'));
      }
      return this.iq.dispatch(el, from, to, 'account', to.domain, session);
    }
    return this.toBareMessage(el, from, to);
  }

  /**
   * A stanza that went to a session of another cluster node which is gone: the local delivery rules again,
   * past filter_packet (it ran once), so a message to its full JID goes as to a missing resource (RFC 6121
   * §8.5.3.2: another resource, else offline, else bounced) and an IQ bounces.
   */
  async redeliver(el: Element, from: Jid, to: Jid): Promise<void> {
    try {
      await this.routeLocal(el, from, to);
    } catch (err) {
      this.log.error('routing failed', { err, name: el.name, to: to.toString() });
      this.bounce(el, from, to, new StanzaError('internal-server-error'));
    }
  }

  /** Presence for a local account: modules (roster, subscriptions) first, then plain delivery. */
  private async presenceToUser(el: Element, from: Jid, to: Jid): Promise<void> {
    if (this.hooks.has('presence_in', to.domain)) {
      const r = await this.hooks.filter('presence_in', to.domain, el, { from, to });
      if (r === DROP) return;
      el = r;
    }
    if (to.resource) {
      const target = this.sm.get(to);
      if (target) await this.deliver(target, el, from, to); // else silently ignored (RFC 6121 §8.5.3.2.1)
      return;
    }
    for (const s of this.sm.resources(to)) if (s.presence) await this.deliver(s, el, from, to);
  }

  /**
   * RFC 6121 §8.5.2: a message to a bare JID (or to a resource that is gone). Errors come back from the
   * address the sender used (`addressed`), so clients can match them (RFC 6120 §8.3.1).
   */
  private async toBareMessage(el: Element, from: Jid, to: Jid, addressed: Jid = to): Promise<void> {
    const type = el.attrs.type ?? 'normal';
    if (type === 'error') return; // §8.5.2.1.1: silently ignored
    if (type === 'groupchat') return this.bounce(el, from, addressed, new StanzaError('service-unavailable'));
    const targets = type === 'headline' ? this.sm.availableResources(to) : this.sm.messageTargets(to);
    if (targets.length) {
      const accepted = this.hooks.has('message_accepted', to.domain) ? await this.accepted(el, from, to) : el;
      for (const s of targets) await this.deliver(s, accepted, from, to);
      return this.delivered(accepted, from, to, targets);
    }
    const exists = await this.accounts.exists(to);
    if (!exists) return this.bounce(el, from, addressed, new StanzaError('service-unavailable'));
    if (type === 'headline') return; // §8.5.2.2.1: not stored, silently ignored
    if (this.hooks.has('offline_message', to.domain)) {
      const r = await this.hooks.filter('offline_message', to.domain, { handled: false }, { stanza: el, from, to });
      if (r !== DROP && r.handled) return;
    }
    this.bounce(el, from, addressed, new StanzaError('service-unavailable'));
  }

  /**
   * message_accepted, once per message that is about to reach the recipient's sessions (the offline store
   * runs it for messages it stores): after this point the message is not bounced.
   */
  private async accepted(el: Element, from: Jid, to: Jid): Promise<Element> {
    const r = await this.hooks.filter('message_accepted', to.domain, el, { from, to, via: 'session' });
    return r === DROP ? el : r;
  }

  /** message_delivered: after a message was written to `sessions` (XEP-0280 carbons go to the others). */
  private async delivered(stanza: Element, from: Jid, to: Jid, sessions: Session[]): Promise<void> {
    if (this.hooks.has('message_delivered', to.domain)) await this.hooks.notify('message_delivered', to.domain, { stanza, from, to, sessions });
  }

  /** Write to a session; with user_receive_packet handlers, awaited so a sender's stanzas stay in order. */
  private async deliver(session: Session, el: Element, from: Jid, to: Jid): Promise<void> {
    // A session on another cluster node: that node runs user_receive_packet on the real session.
    if (this.hooks.has('user_receive_packet', session.host) && session.remote === undefined) {
      const r = await this.hooks.filter('user_receive_packet', session.host, el, { session, from, to });
      if (r === DROP) this.metrics.stanzasDropped.inc({ hook: 'user_receive_packet' });
      else session.send(r);
      return;
    }
    session.send(el);
  }

  /** Answer `el` with an error to its sender, unless it is itself an error or a result. */
  bounce(el: Element, from: Jid, to: Jid, error: StanzaError): void {
    if (!mayAnswerWithError(el)) return;
    const reply = errorReply(el, error, to.toString());
    const recipient = from.toString();
    reply.attrs.to = recipient;
    // Bounces are fired without awaiting (a failed s2s stream bounces its whole queue at once), and a
    // message may wait on a hook (message_accepted) where an IQ does not: chain them per recipient so
    // the errors arrive in the order of the stanzas they answer.
    const prev = this.bouncing.get(recipient);
    const next = prev ? prev.then(() => this.route(reply, to, from)) : this.route(reply, to, from);
    this.bouncing.set(recipient, next);
    void next.finally(() => {
      if (this.bouncing.get(recipient) === next) this.bouncing.delete(recipient);
    });
  }
  private readonly bouncing = new Map<string, Promise<void>>();

  /** Parse a JID attribute, or null. */
  static jid(s: string | undefined): Jid | null {
    return Jid.tryParse(s);
  }
}
