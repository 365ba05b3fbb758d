// The context a running module instance gets. Every registration is recorded so stop() releases it all.
import type { Element } from '@xmpp/xml';
import { Counter, Gauge, type CounterConfiguration, type GaugeConfiguration } from 'prom-client';
import type { Core } from '../core.js';
import type { Logger } from '../log.js';
import type { FilterValue, HookCtx, HookHandler } from '../hooks/hook-runner.js';
import type { DROP } from '../../../hooks/index.js';
import type { HookName, DiscoIdentity, HookSpec } from '../../../hooks/index.js';
import type { IqHandler, IqScope } from '../iq-router.js';
import type { Table, Store } from '../../data/index.js';
import type { Session } from '../session.js';
import type { AuthProvider } from '../auth/auth-provider.js';
import { Jid } from '../jid.js';
import { KeyedLock } from '../keyed-lock.js';
import type { AclSubject } from '../acl.js';
import type { Accounts } from '../accounts.js';
import type { ChangeEvent } from '../../data/index.js';
import type { ServiceKey } from '../services/service-key.js';
import type { RegistrationSlot } from '../limits/limits.js';
import { runCommand } from '../admin/commands.js';
import type { ModuleInfo } from './module-manager.js';
import type { ServeDomainOptions, ServiceDomainHandler } from '../router.js';
import { moduleCluster, type ModuleCluster } from '../cluster/module-cluster.js';
import type { CommandInfo, ModuleCommandDef } from '../admin/command-registry.js';
import type { HttpRouteHandler } from '../http-routes.js';

/** What a module may do with accounts: look them up and manage them (removal runs every module's share). */
export type ModuleAccounts = Pick<Accounts, 'exists' | 'create' | 'remove' | 'setPassword' | 'list' | 'banOf'>;

/** Who a module runs an admin command for: an ad-hoc requester or the module itself; `signal` aborts long work. */
export interface ModuleCommandCaller { origin: 'adhoc' | 'module'; signal?: AbortSignal }

export class ModuleContext<O = Record<string, unknown>> {
  private readonly disposers: Array<() => void | Promise<void>> = [];
  private readonly keyedLock = new KeyedLock();

  constructor(
    /** Internal: the server's services. Modules reach them only through the methods below. */
    private readonly core: Core,
    readonly host: string,
    readonly moduleName: string,
    readonly options: O,
    readonly log: Logger,
  ) {}

  /** Register a hook handler for this module's host only (higher priority runs first). */
  hook<N extends HookName>(name: N, handler: HookHandler<N>, priority = 50): void {
    this.disposers.push(this.core.hooks.on(name, handler, priority, `${this.moduleName}@${this.host}`, this.host));
  }

  /**
   * Register a handler that runs for every host (server-wide hooks, or a module that serves all hosts).
   * A module loaded on several hosts registers it once per host: guard against doing the work twice.
   */
  hookGlobal<N extends HookName>(name: N, handler: HookHandler<N>, priority = 50): void {
    this.disposers.push(this.core.hooks.on(name, handler, priority, `${this.moduleName}@${this.host}`, null));
  }

  /** Whether a hook has handlers for `host` (this module's by default): skip building a payload nobody reads. */
  hasHandlers(name: HookName, host: string = this.host): boolean {
    return this.core.hooks.has(name, host);
  }

  /** Run a filter hook for `host` (this module's by default), as the core does; DROP where the hook allows it. */
  runFilter<N extends HookName>(name: N, value: FilterValue<N>, hookCtx: HookCtx<N>, host: string = this.host): Promise<FilterValue<N> | typeof DROP> {
    return this.core.hooks.filter(name, host, value, hookCtx);
  }

  /** Run a notify hook for `host` (this module's by default). */
  runNotify<N extends HookName>(name: N, hookCtx: HookCtx<N>, host: string = this.host): Promise<void> {
    return this.core.hooks.notify(name, host, hookCtx);
  }

  /** Declare a new hook other modules can use (types by declaration merging on HookCatalogue); withdrawn on stop. */
  declareHook(name: string, spec: HookSpec): void {
    this.core.hooks.declare(name, spec);
    this.disposers.push(() => this.core.hooks.undeclare(name)); // the hook stays while another declarer lives
  }

  /** Handle IQ get/set in a namespace, for the server's domain ('host') or for accounts ('account'). */
  iq(scope: IqScope, ns: string, handler: IqHandler): void {
    this.disposers.push(this.core.iq.register(this.host, scope, ns, handler));
  }

  feature(ns: string, target: 'server' | 'account' = 'server'): void {
    this.disposers.push(this.core.disco.addFeature(this.host, target, ns));
  }

  identity(identity: DiscoIdentity): void {
    this.disposers.push(this.core.disco.addIdentity(this.host, identity));
  }

  setInterval(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setInterval(fn, ms);
    t.unref();
    this.disposers.push(() => clearInterval(t));
    return t;
  }

  /** A one-shot timer, cleared on stop; once it has fired it leaves nothing behind (modules may set many). */
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
    const dispose = () => clearTimeout(t);
    const t = setTimeout(() => {
      this.dropDisposer(dispose);
      fn();
    }, ms);
    t.unref();
    this.disposers.push(dispose);
    return t;
  }

  private dropDisposer(d: () => void | Promise<void>): void {
    const i = this.disposers.lastIndexOf(d);
    if (i >= 0) this.disposers.splice(i, 1);
  }

  /**
   * A Prometheus counter (registered by name once, shared by the module's instances on every host;
   * label it with `host` where it matters), removed from the registry when the last instance stops.
   */
  counter<L extends string>(cfg: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    const { metric, release } = this.core.metrics.acquire(cfg.name, () => new Counter({ ...cfg, registers: [this.core.metrics.registry] }));
    this.disposers.push(release);
    return metric as Counter<L>;
  }

  gauge<L extends string>(cfg: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    const { metric, release } = this.core.metrics.acquire(cfg.name, () => new Gauge({ ...cfg, registers: [this.core.metrics.registry] }));
    this.disposers.push(release);
    return metric as Gauge<L>;
  }

  /** A data-layer table (modules never see LevelDB directly). */
  table<V>(name: string): Table<V> {
    return this.core.store.table<V>(name);
  }

  /** Atomic writes and the replica barrier; watch tables with ctx.watch (released on stop). */
  get store(): Pick<Store, 'transact' | 'barrier'> {
    return this.core.store;
  }

  /**
   * Watch a table's committed changes (`null`: every table), in commit order. Released on stop; the
   * returned function releases it earlier. `prefix` keeps only the rows whose key starts with it (e.g.
   * `${ctx.host}/` for a table keyed by host: another host's instance keeps its own rows).
   */
  watch(table: string | null, cb: (ev: ChangeEvent) => void, opts: { prefix?: string } = {}): () => void {
    const { prefix } = opts;
    const stop = this.core.store.watch(table, prefix === undefined ? cb : (ev) => {
      if (ev.key.startsWith(prefix)) cb(ev);
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      stop();
      const i = this.disposers.indexOf(release); // released early: stop() has nothing left to do for it
      if (i >= 0) this.disposers.splice(i, 1);
    };
    this.disposers.push(release);
    return release;
  }

  /** Send a stanza through the router without waiting; from defaults to the host. */
  send(el: Element, from?: Jid, to?: Jid): void {
    void this.route(el, from, to);
  }

  /**
   * Route a stanza and wait until the router has handed it on (delivered to local sessions, stored
   * offline, queued to a remote server or a component). Never rejects: failures are answered with
   * stanza errors to the sender, as for any routed stanza.
   */
  route(el: Element, from?: Jid, to?: Jid): Promise<void> {
    const f = from ?? Jid.parse(el.attrs.from ?? this.host);
    const t = to ?? Jid.parse(el.attrs.to);
    return this.core.router.route(el, f, t);
  }

  /**
   * Serve a subdomain of this host (a MUC or PubSub service): every stanza to `domain` or its JIDs goes to
   * `handler`, after filter_packet for this host. Withdrawn on stop. Throws when the domain is taken.
   * With `placement: 'one-node-per-jid'`, in a cluster each bare JID of the domain (a room) lives on one node:
   * `acquire` loads its state there fresh, `release` drops it when another node takes it over, and `holds`
   * says whether anything is left of it (if not, another node may host it next time).
   */
  serveDomain(domain: string, handler: ServiceDomainHandler, opts: ServeDomainOptions = {}): void {
    this.disposers.push(this.core.router.serveDomain(domain, this.host, handler, opts));
  }

  /** This node's cluster (config `cluster`): its name and shared object stores; undefined on a single node. */
  get cluster(): ModuleCluster | undefined {
    return this.core.cluster && moduleCluster(this.core.cluster);
  }

  /**
   * Serve `method` requests for every path under `pathPrefix` ("/upload/<host>/") on the http and https
   * listeners; `rest` is the path after the prefix, still percent-encoded. Withdrawn on stop. Throws when
   * the method and prefix are taken. A handler answers everything itself (status, headers, CORS); a throw
   * before the head is sent becomes a 500.
   */
  httpRoute(method: string, pathPrefix: string, handler: HttpRouteHandler): void {
    const http = this.core.http;
    if (!http) throw new Error('HTTP routes need a running server');
    this.disposers.push(http.add(method, pathPrefix, handler));
  }

  /**
   * The URL of the server's first http/https listener for this host ("http://127.0.0.1:5280"), or null
   * without one; ask per use (listeners bind after modules start). A module offers an option for a public URL.
   */
  httpBaseUrl(): string | null {
    return this.core.http?.baseUrl(this.host) ?? null;
  }

  /** The server's data directory (data_dir): where a module keeps files that are not table rows. */
  get dataDir(): string {
    return this.core.config.data_dir;
  }

  /** Whether `domain` is one of this server's hosts. */
  isLocal(domain: string): boolean {
    return this.core.router.isLocal(domain);
  }

  /** Accounts of this server: lookups (any host) and changes. */
  get accounts(): ModuleAccounts {
    return this.core.accounts;
  }

  /** An access rule's decision for this module's host (host_config rules first); `fallback` when no rule matches. */
  allowed(rule: string, subject: Omit<AclSubject, 'host'> = {}, fallback = 'deny'): boolean {
    return this.core.acl.allowed(rule, { ...subject, host: this.host }, fallback);
  }

  /**
   * Run fn after every earlier operation of this module instance under the same key has settled: one
   * account's updates never interleave in this process (conditional writes cover other processes).
   */
  lock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.keyedLock.run(key, fn);
  }

  /** This server's cluster node name, or null on a single node (sessions of other nodes are then `remote`). */
  get clusterNode(): string | null {
    return this.core.cluster?.node ?? null;
  }

  /**
   * Answer requests `name` from this module on other cluster nodes (withdrawn on stop); nothing on a single node.
   * The handler gets the payload and the asking node's name; what it returns (JSON) is the answer.
   */
  clusterServe(name: string, handler: (payload: unknown, from: string) => unknown | Promise<unknown>): void {
    const rpc = this.core.cluster?.rpc;
    if (!rpc) return;
    this.onStop(rpc.serve(this.host, `${this.moduleName}/${name}`, handler));
  }

  /** Ask this module on cluster node `node`; rejects when the node is gone or did not answer it. */
  clusterRequest(node: string, name: string, payload: unknown): Promise<unknown> {
    const rpc = this.core.cluster?.rpc;
    if (!rpc) return Promise.reject(new Error('not in a cluster'));
    return rpc.request(node, this.host, `${this.moduleName}/${name}`, payload);
  }

  /** Bound sessions on this module's host. */
  hostSessions(): Session[] {
    return this.core.sessions.all().filter((s) => s.host === this.host);
  }

  /** Sessions of a local account. */
  sessionsOf(bare: Jid): Session[] {
    return this.core.sessions.resources(bare);
  }

  /**
   * Offer a service to other modules on this host (withdrawn on stop). With a ServiceKey (ROSTER_SERVICE,
   * OFFLINE_SERVICE, or a module's own serviceKey<T>(name)) the implementation is checked against its contract.
   */
  provide<T>(key: ServiceKey<T>, impl: NoInfer<T>): void;
  provide<T>(name: string, impl: T): void;
  provide<T>(key: string | ServiceKey<T>, impl: T): void {
    this.disposers.push(this.core.services.provide(this.host, typeof key === 'string' ? key : key.name, impl));
  }

  /**
   * A service another module offers on this host, if it is loaded. Look it up per use: it can come and go.
   * With a ServiceKey the result is typed by its contract: `ctx.service(ROSTER_SERVICE)` is a RosterApi.
   */
  service<T>(key: ServiceKey<T>): T | undefined;
  service<T = unknown>(name: string): T | undefined;
  service<T>(key: string | ServiceKey<T>): T | undefined {
    return this.core.services.get<T>(this.host, typeof key === 'string' ? key : key.name);
  }

  /**
   * Offer an authentication provider named `name` on this host: a host whose auth.method is `name` asks it
   * for logins, account checks and changes. Withdrawn on stop; while it is gone (module unloaded or
   * reloading), logins on that host fail with temporary-auth-failure and clients retry.
   */
  authProvider(name: string, provider: AuthProvider): void {
    this.disposers.push(this.core.auth.register(this.host, name, provider));
  }

  // ---- server facts, ACL membership, registration limits, admin commands ---------------------------------
  // The narrow views of the core that modules used to take from ctx.core; nothing here registers anything.

  /** This server's version string (XEP-0092 answers, admin status). */
  get serverVersion(): string {
    return this.core.version;
  }

  /** When this server instance started (ms since the epoch): uptime, XEP-0012 §5. */
  get serverStartedAt(): number {
    return this.core.startedAt;
  }

  /** Whether the subject belongs to the ACL named `acl` (acl.<name>, host_config ACLs first) on this module's host. */
  inAcl(acl: string, subject: Omit<AclSubject, 'host'>): boolean {
    return this.core.acl.match(acl, { ...subject, host: this.host });
  }

  /** What this host advertises in disco#info (XEP-0030): the server's identities. */
  discoIdentities(): DiscoIdentity[] {
    return this.core.disco.identitiesOf(this.host);
  }

  /** The features this host advertises for the server itself ('server') or for its accounts ('account'). */
  discoFeatures(target: 'server' | 'account'): string[] {
    return this.core.disco.featuresOf(this.host, target);
  }

  /**
   * Count an in-band registration from `ip` against limits.registrations_per_ip_per_hour (server-wide, a
   * sliding hour; limits.exempt addresses are not counted): a slot to release if no account is created
   * after all, or null when the address is at its limit (counted in xmppd_limit_violations_total).
   */
  reserveRegistration(ip: string): RegistrationSlot | null {
    return this.core.limits.reserveRegistration(ip);
  }

  /**
   * Run a command of the admin registry (the one the CLI, the REST API and ad-hoc commands share) against
   * the running server, on behalf of a remote requester: file arguments stay inside admin_files_dir.
   */
  adminCommand(name: string, args: Record<string, unknown>, caller: ModuleCommandCaller = { origin: 'module' }): Promise<unknown> {
    const origin = caller.origin === 'adhoc' ? 'adhoc' : 'module'; // never the local operator's 'cli'
    return runCommand(this.core.admin ?? { core: this.core }, name, args, { origin, ...(caller.signal && { signal: caller.signal }) });
  }

  /** The loaded modules and their state, as `module list` shows them (empty before the server runs). */
  loadedModules(): ModuleInfo[] {
    return this.core.admin?.modules?.list() ?? [];
  }

  // ---- end of server facts block ----------------------------------------------------------------------

  /** Run extra cleanup on stop. */
  onStop(fn: () => void | Promise<void>): void {
    this.disposers.push(fn);
  }

  // ---- admin commands (issue 9: modules own their admin surface) ----------------------------------------

  /**
   * Register an admin command, served to the CLI, the REST API and ad-hoc commands; released on stop. A
   * command with a `jid` argument runs on the instance of the account's host (another host without this
   * module answers "<module> is not loaded on <host>").
   */
  command(def: ModuleCommandDef): void {
    const registry = this.core.commands;
    if (!registry) throw new Error('admin commands need a running server');
    this.disposers.push(registry.register(this.host, this.moduleName, def));
  }

  /** The admin commands currently registered (the server's and every module's): what ad-hoc commands list. */
  commands(): CommandInfo[] {
    return this.core.commands?.list() ?? [];
  }

  // ---- end of admin commands ------------------------------------------------------------------------------

  /** Release everything, newest first. */
  async dispose(): Promise<void> {
    while (this.disposers.length) {
      const d = this.disposers.pop()!;
      try {
        await d();
      } catch (err) {
        this.log.error('module cleanup failed', { err });
      }
    }
  }

  // ---- server-originated IQ requests (XEP-0199 §4.2 server-to-client pings) --------------------------

  /**
   * Send an IQ get/set from this module's host to `to` and resolve with the response (a result or an
   * error stanza), correlated by id and sender (RFC 6120 §8.2.3). The id is set here. Rejects with
   * StanzaError remote-server-timeout when nothing answers within `timeoutMs`. `from` may name an account of
   * this host instead (XEP-0357 §7: push notifications are published from the user's bare JID).
   */
  request(el: Element, to: Jid, timeoutMs = 30_000, from?: Jid): Promise<Element> {
    const sender = from ?? Jid.parse(this.host);
    if (sender.domain !== this.host || sender.resource) throw new Error(`a module on ${this.host} cannot send requests from ${sender.toString()}`);
    el.attrs.from = sender.toString();
    el.attrs.to = to.toString();
    return this.core.iq.request(el, sender, to, timeoutMs);
  }
}
