// Which authentication provider serves each host (auth.method, host_config.<host>.auth): the internal
// table, an extauth program pool, or a provider a module registered. It also decides the SASL mechanisms
// a host offers from what its provider can do (RFC 6120 §6.3.3) and makes the SASL sessions.
import type { Registry } from 'prom-client';
import type { AuthConfig, ServerConfig } from '../config/types.js';
import type { Store } from '../../data/index.js';
import { Jid } from '../jid.js';
import type { Logger } from '../log.js';
import { createSaslSession, offeredMechanisms, VerifiedPasswords, type SaslSessionOptions } from '../sasl/index.js';
import type { ChannelBindingType, SaslContext, SaslServerSession, SaslStep } from '../sasl/mechanism.js';
import { AuthUnavailableError, type AuthCapabilities, type AuthProvider } from './auth-provider.js';
import { CachedAuthProvider } from './cached-provider.js';
import { ExtauthProvider, extauthMetrics, type ExtauthMetrics } from './extauth-provider.js';
import { InternalAuthProvider } from './internal-provider.js';
import { PasswordPlainSession } from './password-plain-session.js';
import { DEFAULT_AUTH } from './auth-config.js';

const BUILT_IN = new Set(['internal', 'external']);
/** What a host whose provider is missing offers, so clients try and get temporary-auth-failure. */
const PLAIN_ONLY: AuthCapabilities = { scram: false, plain: true, register: false, setPassword: false, remove: false, list: false };

export class AuthProviders {
  readonly internal: InternalAuthProvider;
  /** host -> its extauth pool (hosts with the same program settings share one). */
  private readonly external = new Map<string, AuthProvider>();
  /** `${host}\n${name}` -> a provider a module registered. */
  private readonly registered = new Map<string, AuthProvider>();
  /** name -> capabilities last seen, to offer the right mechanisms while a module is being reloaded. */
  private readonly lastCapabilities = new Map<string, AuthCapabilities>();
  private readonly metrics: ExtauthMetrics | undefined;
  /** host -> passwords PLAIN logins proved against stored keys lately (never shared between hosts). */
  private readonly verified = new Map<string, VerifiedPasswords>();

  constructor(private readonly config: ServerConfig, store: Store, private readonly log: Logger, registry?: Registry) {
    this.internal = new InternalAuthProvider(store, config.scram_iterations);
    this.metrics = registry ? extauthMetrics(registry) : undefined;
    const pools = new Map<string, AuthProvider>();
    for (const host of config.hosts) {
      const cfg = this.configOf(host);
      if (cfg.method !== 'external') continue;
      const key = JSON.stringify([cfg.program, cfg.program_args, cfg.pool_size, cfg.timeout, cfg.cache_ttl]);
      let p = pools.get(key);
      if (!p) {
        const ext = new ExtauthProvider({ program: cfg.program!, args: cfg.program_args, timeoutMs: cfg.timeout * 1000 }, cfg.pool_size, log.child({ part: 'extauth' }), this.metrics);
        p = cfg.cache_ttl > 0 ? new CachedAuthProvider(ext, cfg.cache_ttl * 1000) : ext;
        pools.set(key, p);
      }
      this.external.set(host, p);
    }
  }

  get hosts(): readonly string[] {
    return this.config.hosts;
  }

  /** The effective auth settings of a host. */
  configOf(host: string): AuthConfig {
    return this.config.host_config[host]?.auth ?? this.config.auth ?? DEFAULT_AUTH;
  }

  /** Start the extauth programs now, so a broken one shows in the log at boot, not at the first login. */
  start(): void {
    for (const p of new Set(this.external.values())) extauthOf(p)?.start();
  }

  /** After the modules started: say which hosts name a provider no module registered. */
  checkRegistered(): void {
    for (const host of this.config.hosts) {
      const { method } = this.configOf(host);
      if (!BUILT_IN.has(method) && !this.registered.has(`${host}\n${method}`)) {
        this.log.warn('no loaded module provides this auth method; logins fail with temporary-auth-failure until one does', { host, method });
      }
    }
  }

  /**
   * A module's provider for one host (ModuleContext.authProvider). Hosts whose auth.method names it use
   * it until the returned function withdraws it (module stop): logins then get temporary-auth-failure.
   */
  register(host: string, name: string, provider: AuthProvider): () => void {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) throw new Error(`"${name}" is not a valid auth provider name (lowercase letters, digits, - and _)`);
    if (BUILT_IN.has(name)) throw new Error(`auth provider name "${name}" is built in; choose another`);
    const key = `${host}\n${name}`;
    if (this.registered.has(key)) throw new Error(`auth provider "${name}" is already registered on ${host}`);
    const ttl = this.configOf(host).cache_ttl;
    const entry = ttl > 0 && this.configOf(host).method === name ? new CachedAuthProvider(provider, ttl * 1000) : provider;
    this.registered.set(key, entry);
    this.lastCapabilities.set(name, provider.capabilities);
    return () => {
      if (this.registered.get(key) === entry) this.registered.delete(key);
    };
  }

  /** The provider serving `host`; AuthUnavailableError when its module is not loaded. */
  forHost(host: string): AuthProvider {
    const { method } = this.configOf(host);
    // A domain we do not serve has no accounts: the internal table answers that.
    if (method === 'internal' || !this.config.hosts.includes(host)) return this.internal;
    const p = method === 'external' ? this.external.get(host) : this.registered.get(`${host}\n${method}`);
    if (!p) throw new AuthUnavailableError(`auth method "${method}" of ${host} is provided by no loaded module`);
    return p;
  }

  /** The provider of `host` when it is not the internal table (core.accounts routes to it). */
  routed(host: string): AuthProvider | null {
    const p = this.forHost(host);
    return p === this.internal ? null : p;
  }

  /** What the host's provider can do (for a missing module provider: what it could do when last loaded). */
  capabilities(host: string): AuthCapabilities {
    try {
      return this.forHost(host).capabilities;
    } catch {
      return this.lastCapabilities.get(this.configOf(host).method) ?? PLAIN_ONLY;
    }
  }

  /** The SASL mechanisms to offer on a stream to `host`, strongest first. */
  mechanisms(host: string, opts: { secure: boolean; channelBindings: readonly ChannelBindingType[] }): readonly string[] {
    const caps = this.capabilities(host);
    // Stored SCRAM keys also check a PLAIN password (RFC 5802 §3: SaltedPassword -> StoredKey).
    return offeredMechanisms({ secure: opts.secure, channelBindings: opts.channelBindings, scram: caps.scram, allowPlain: caps.plain || caps.scram });
  }

  /** A SASL session for `mechanism` against the host's provider; null means <invalid-mechanism/>. */
  saslSession(host: string, mechanism: string, ctx: Omit<SaslContext, 'lookup' | 'domain'>, opts: SaslSessionOptions = {}): SaslServerSession | null {
    let provider: AuthProvider;
    try {
      provider = this.forHost(host);
    } catch (err) {
      this.log.warn('login refused: the auth provider is not available', { host, err: (err as Error).message });
      return new UnavailableSession(mechanism);
    }
    const caps = provider.capabilities;
    const onError = (err: unknown) => this.log.warn('auth provider could not answer', { host, provider: provider.name, err: (err as Error).message });
    if (mechanism === 'PLAIN' && !(caps.scram && provider.credentials) && caps.plain && provider.checkPassword) {
      const check = provider.checkPassword.bind(provider);
      return new PasswordPlainSession({ secure: ctx.secure, domain: host, checkPassword: check, onError });
    }
    if (!caps.scram || !provider.credentials) return null;
    const credentials = provider.credentials.bind(provider);
    if (mechanism === 'PLAIN') {
      let verified = this.verified.get(host);
      if (!verified) this.verified.set(host, (verified = new VerifiedPasswords()));
      opts = { ...opts, verified };
    }
    return createSaslSession(mechanism, {
      ...ctx,
      domain: host,
      lookup: async (username) => {
        let bare: Jid;
        try {
          bare = Jid.of(username, host);
        } catch {
          return null;
        }
        try {
          return await credentials(bare);
        } catch (err) {
          onError(err);
          throw err; // the SASL session answers temporary-auth-failure
        }
      },
    }, opts);
  }

  async stop(): Promise<void> {
    await Promise.all([...new Set(this.external.values())].map((p) => p.stop?.()));
  }
}

/** The extauth pool behind a provider, if it is one (its PIDs are visible to operators and tests). */
export function extauthOf(p: AuthProvider): ExtauthProvider | null {
  if (p instanceof ExtauthProvider) return p;
  if (p instanceof CachedAuthProvider) return extauthOf(p.inner);
  return null;
}

/** The host's provider is missing: every attempt ends in temporary-auth-failure (RFC 6120 §6.5.12). */
class UnavailableSession implements SaslServerSession {
  constructor(readonly mechanism: string) {}
  async step(): Promise<SaslStep> {
    return { kind: 'failure', condition: 'temporary-auth-failure', text: 'the authentication service is not available; try again later' };
  }
}
