// Shapers and limits of one server instance: per-connection byte and stanza rates (c2s and s2s), bound
// resources per account (RFC 6120 §7.6.2.1), open connections per IP and listener kind (RFC 6120 §4.9.3.14,
// XEP-0205 §3), bytes before authentication, pending dialback verifications (XEP-0220) and in-band
// registrations per IP (XEP-0077 §3.1.1); each violation is counted in xmppd_limit_violations_total{limit}.
import xml from '@xmpp/xml';
import type { Core } from '../core.js';
import type { AclSubject } from '../acl.js';
import type { Jid } from '../jid.js';
import type { Metrics } from '../metrics.js';
import type { Logger } from '../log.js';
import type { LimitsConfig } from '../config/types.js';
import { StanzaError, StreamError } from '../errors.js';
import { Shaper } from './shaper.js';
import { ShapedReader } from './shaped-reader.js';
import { AuthThrottle } from './auth-throttle.js';

export type StreamKind = 'c2s' | 's2s';

/** What a listener serves, for the per-address connection count (c2s and c2s_tls count together, etc.). */
export type ConnectionKind = 'c2s' | 's2s' | 'component' | 'http';

const CONNECTION_LIMIT = {
  c2s: 'max_connections_per_ip',
  s2s: 'max_s2s_connections_per_ip',
  component: 'max_component_connections_per_ip',
  http: 'max_http_connections_per_ip',
} as const satisfies Record<ConnectionKind, LimitName>;

/** The `limit` label values: the config key that was hit. */
export const LIMIT_NAMES = [
  'c2s_bytes_per_second', 'c2s_stanzas_per_second', 'c2s_max_burst',
  's2s_bytes_per_second', 's2s_stanzas_per_second', 's2s_max_burst',
  'max_sessions_per_user', 'max_connections_per_ip', 'registrations_per_ip_per_hour',
  'max_s2s_connections_per_ip', 'max_component_connections_per_ip', 'max_http_connections_per_ip',
  'tls_handshake_timeout', 'http_request_timeout', 'pre_auth_bytes', 'dialback_pending_per_stream', 'dialback_pending_per_ip',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** A connection's place in the per-IP count; `refusal` is set when it is one too many. */
export interface ConnectionSlot {
  readonly refusal: StreamError | null;
  /** The connection has ended (idempotent). */
  release(): void;
}

/** A registration counted against its IP; release it when the registration fails after all. */
export interface RegistrationSlot {
  release(): void;
}

/** XEP-0205's application condition (XMPP Registrar error registry): "not allowed to bind more resources at this time". */
const NS_ERRORS = 'urn:xmpp:errors';
const HOUR = 3_600_000;

/** One key per client address: an IPv4 client seen on a dual-stack listener as ::ffff:a.b.c.d is a.b.c.d. */
export const ipKey = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

export class Limits {
  /** Open connections per kind and address, counted from TCP accept (before any TLS handshake). */
  private readonly perIp: Record<ConnectionKind, Map<string, number>> = { c2s: new Map(), s2s: new Map(), component: new Map(), http: new Map() };
  /** Dialback verifications in flight per peer address. */
  private readonly dialbacks = new Map<string, number>();
  private readonly registrations = new Map<string, number[]>();
  /** Failed-authentication throttling (limits.auth): SASL, component handshakes, admin API tokens. */
  readonly auth: AuthThrottle;

  /** `core` is read on every check, so a reloaded configuration or ACL applies from the next connection on. */
  constructor(private readonly metrics: Metrics, private readonly core: () => Core) {
    for (const limit of LIMIT_NAMES) metrics.limitViolations.inc({ limit }, 0); // every series visible from the start
    let authLog: Logger | null = null;
    this.auth = new AuthThrottle({
      config: () => this.config.auth,
      metrics,
      log: () => (authLog ??= core().log.child({ part: 'auth-throttle' })),
      isExempt: (ip) => this.isExempt({ ip }),
    });
  }

  private get config(): LimitsConfig {
    return this.core().config.limits;
  }

  violation(limit: LimitName): void {
    this.metrics.limitViolations.inc({ limit });
  }

  /** In one of the limits.exempt ACLs: never shaped or limited. */
  isExempt(subject: AclSubject): boolean {
    const names = this.config.exempt;
    if (names.length === 0) return false;
    const acl = this.core().acl;
    return names.some((name) => acl.match(name, subject));
  }

  /** A shaper per limits.c2s / limits.s2s for one connection; null when unlimited or the subject is exempt. */
  shaper(kind: StreamKind, subject: AclSubject, onOverrun: () => void): Shaper | null {
    const c = this.config[kind];
    if ((c.bytes_per_second === 0 && c.stanzas_per_second === 0) || this.isExempt(subject)) return null;
    return new Shaper({
      bytesPerSecond: c.bytes_per_second,
      stanzasPerSecond: c.stanzas_per_second,
      maxBurst: c.max_burst,
      onThrottle: (what) => this.violation(`${kind}_${what}_per_second`),
      onOverrun: () => {
        this.violation(`${kind}_max_burst`);
        onOverrun();
      },
    });
  }

  /**
   * The reader a stream reads its socket through: shaped per limits.<kind> unless exempt (components are not
   * shaped), with limits.pre_auth_bytes until it authenticates. On a max_burst overrun or an exceeded budget
   * reading stops and `onOverrun` gets the stream error to close with (RFC 6120 §4.9.3.14).
   */
  reader(kind: StreamKind | 'component', subject: AclSubject, deliver: (chunk: Buffer) => void, onOverrun: (error: StreamError) => void): ShapedReader {
    const shaper = kind === 'component' ? null : this.shaper(kind, subject, () => {
      reader.stop();
      onOverrun(new StreamError('policy-violation', `sent faster than this server's rate limit for more than ${this.config[kind].max_burst} s`));
    });
    const budget = this.preAuthBudget(subject);
    const reader = new ShapedReader(shaper, deliver, budget === 0 ? null : {
      bytes: budget,
      exceeded: () => {
        this.violation('pre_auth_bytes');
        onOverrun(new StreamError('policy-violation', `sent more than ${budget} bytes before authenticating`));
      },
    });
    return reader;
  }

  /** limits.pre_auth_bytes for a new connection (0: unlimited, or exempt). */
  preAuthBudget(subject: AclSubject): number {
    const budget = this.config.pre_auth_bytes;
    return budget === 0 || this.isExempt(subject) ? 0 : budget;
  }

  /**
   * A new TCP connection on a listener of `kind` from `ip` (limits.max_connections_per_ip for c2s, and
   * max_<kind>_connections_per_ip), counted at accept so that connections still in their TLS handshake count.
   * `refusal` names the limit; the listener answers with a <policy-violation/> stream error where it can
   * (RFC 6120 §4.9.3.14: a local service policy; the text lets a client tell it from a network failure).
   */
  openListenerConnection(kind: ConnectionKind, ip: string): ConnectionSlot {
    const key = ipKey(ip);
    const map = this.perIp[kind];
    const open = map.get(key) ?? 0;
    const limit = CONNECTION_LIMIT[kind];
    const max = this.config[limit];
    if (max > 0 && open >= max && !this.isExempt({ ip: key })) {
      this.violation(limit);
      return { refusal: new StreamError('policy-violation', `too many connections from your address (at most ${max})`), release: () => {} };
    }
    map.set(key, open + 1);
    let released = false;
    return {
      refusal: null,
      release: () => {
        if (released) return;
        released = true;
        const n = (map.get(key) ?? 1) - 1;
        if (n > 0) map.set(key, n);
        else map.delete(key);
      },
    };
  }

  /** Open connections from an address on listeners of a kind (admin views, tests). */
  connectionsFrom(ip: string, kind: ConnectionKind = 'c2s'): number {
    return this.perIp[kind].get(ipKey(ip)) ?? 0;
  }

  /**
   * A dialback verification (XEP-0220 §2.1.2) an inbound stream from `ip` asks us to make, with `onStream`
   * already in flight on that stream: a release function, or null over limits.dialback_pending_per_stream /
   * dialback_pending_per_ip (each verification opens or uses an outbound connection, so one peer claiming
   * many domains must not make us dial out without bound).
   */
  reserveDialback(ip: string, onStream: number): (() => void) | null {
    const key = ipKey(ip);
    if (this.isExempt({ ip: key })) return () => {};
    const c = this.config;
    if (c.dialback_pending_per_stream > 0 && onStream >= c.dialback_pending_per_stream) {
      this.violation('dialback_pending_per_stream');
      return null;
    }
    const open = this.dialbacks.get(key) ?? 0;
    if (c.dialback_pending_per_ip > 0 && open >= c.dialback_pending_per_ip) {
      this.violation('dialback_pending_per_ip');
      return null;
    }
    this.dialbacks.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.dialbacks.get(key) ?? 1) - 1;
      if (n > 0) this.dialbacks.set(key, n);
      else this.dialbacks.delete(key);
    };
  }

  /**
   * Resource binding (limits.max_sessions_per_user): null to go ahead, else the bind IQ's error —
   * RFC 6120 §7.6.2.1 <resource-constraint/> ("the account has reached a limit on the number of
   * simultaneous connected resources allowed"), with XEP-0205's <resource-limit-exceeded/>. Rebinding a
   * resource that is already bound replaces that session (RFC 6120 §7.7.2.2) and adds none, so it passes.
   * An exempt account's connection is unshaped from here on (its reader, if given).
   */
  admitBind(jid: Jid, ip: string, reader?: ShapedReader): StanzaError | null {
    if (this.isExempt({ jid, ip })) {
      reader?.unlimit();
      return null;
    }
    const max = this.config.max_sessions_per_user;
    const sessions = this.core().sessions;
    if (max === 0 || sessions.hasResource(jid, jid.resource) || sessions.resources(jid.bare()).length < max) {
      reader?.authenticated(); // bound: limits.pre_auth_bytes no longer applies
      return null;
    }
    this.violation('max_sessions_per_user');
    return new StanzaError('resource-constraint', `this account already has ${max} sessions, the most this server allows`, 'wait',
      xml('resource-limit-exceeded', { xmlns: NS_ERRORS }));
  }

  /**
   * An in-band registration from `ip` (limits.registrations_per_ip_per_hour, a sliding hour): a slot, to
   * release if the registration fails after all (only accounts actually created count), or null at the limit.
   */
  reserveRegistration(ip: string, now = Date.now()): RegistrationSlot | null {
    const max = this.config.registrations_per_ip_per_hour;
    if (max === 0 || this.isExempt({ ip })) return { release: () => {} };
    const key = ipKey(ip);
    const recent = (this.registrations.get(key) ?? []).filter((t) => t > now - HOUR);
    this.registrations.set(key, recent);
    if (recent.length >= max) {
      this.violation('registrations_per_ip_per_hour');
      return null;
    }
    recent.push(now);
    if (this.registrations.size > 4096) this.sweep(now);
    return {
      release: () => {
        const list = this.registrations.get(key);
        const i = list ? list.indexOf(now) : -1;
        if (i >= 0) list!.splice(i, 1);
      },
    };
  }

  /** Forget addresses with nothing in the last hour (keeps the map bounded by recent registrants). */
  private sweep(now: number): void {
    for (const [key, list] of this.registrations) {
      if (!list.some((t) => t > now - HOUR)) this.registrations.delete(key);
    }
  }
}
