// Composition root (DESIGN.md): config -> data -> core -> modules -> listeners. No globals, so tests
// run several servers in one process.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerConfig } from './core/config/types.js';
import { serverLogger, type Logger, type LogFormat } from './core/log.js';
import { startupNotes } from './core/startup-notes.js';
import { HookRunner } from './core/hooks/hook-runner.js';
import { IqRouter } from './core/iq-router.js';
import { Router } from './core/router.js';
import { SessionManager } from './core/session-manager.js';
import { Accounts } from './core/accounts.js';
import { AuthProviders } from './core/auth/auth-providers.js';
import { Metrics } from './core/metrics.js';
import { DiscoRegistry } from './core/disco-registry.js';
import { Acl } from './core/acl.js';
import { ServiceRegistry } from './core/service-registry.js';
import { newCommandRegistry } from './core/admin/commands.js';
import { Limits } from './core/limits/limits.js';
import type { Core } from './core/core.js';
import { ModuleManager } from './core/module-runtime/module-manager.js';
import { openStore, type Store } from './data/index.js';
import { connectNats } from './data/cluster/nats-connect.js';
import { openReplica, type Replica } from './data/cluster/replica.js';
import { registerReplicationMetrics } from './data/cluster/replication-metrics.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { meteredStore } from './core/metered-store.js';
import { Listeners } from './interface/listeners.js';
import { ControlServer } from './interface/control/control-server.js';
import { loadTls } from './interface/tls/load-tls.js';
import type { HostCertificates } from './interface/tls/host-certificates.js';
import { S2SManager } from './interface/s2s/s2s-manager.js';
import { S2sTls } from './interface/s2s/s2s-tls.js';
import { ComponentRegistry } from './interface/component/component-registry.js';
import { BUNDLED_MODULES } from '../modules/index.js';
import { userDataCollector } from './core/module-runtime/user-data-removal.js';
import { ConfigReloader } from './core/config/reload/config-reloader.js';
import { emptyReport, type ReloadReport } from './core/config/reload/reload-report.js';
import { MemoryTrimmer } from './core/memory-trim.js';
import { HttpRoutes } from './core/http-routes.js';
import { Readiness } from './core/readiness.js';
import { shutdownError } from './interface/shutdown-error.js';
import { C2SConnection } from './interface/c2s/c2s-connection.js';
import { JidPlacement } from './core/cluster/jid-placement.js';
import { ClusterSessions } from './core/cluster/cluster-sessions.js';
import { VERSION } from './version.js';

export { VERSION };


export interface StartOptions {
  log?: Logger;
  /** Export process-wide metrics (off for in-process test servers). */
  processMetrics?: boolean;
  /** Skip the control socket (tests that don't need it). */
  controlSocket?: boolean;
  /** Log lines as text (readable, coloured on a terminal) or JSON; default: text on a terminal, else JSON. */
  logFormat?: LogFormat;
  /** The CLI command line for given verb words, for the first-start hints (default "xmppd <words>"). */
  cliHint?: (words: string) => string;
}

export class XmppServer {
  private stopping: Promise<void> | null = null;

  constructor(
    readonly core: Core,
    readonly modules: ModuleManager,
    readonly listeners: Listeners,
    private readonly control: ControlServer | null,
    /** Federation (null when s2s.enabled is false). */
    readonly s2s: S2SManager | null = null,
    /** Hands memory freed by ended sessions back to the OS (glibc; memory_trim_interval). */
    readonly memoryTrim: MemoryTrimmer | null = null,
    /** Each host's certificate, followed on disk. */
    readonly certificates: HostCertificates | null = null,
    /** Sessions and routing across cluster nodes (null on a single node). */
    readonly clusterSessions: ClusterSessions | null = null,
    /** Sharded service domains in a cluster (null on a single node). */
    readonly placement: JidPlacement | null = null,
  ) {
    // A node that drains takes no new clients: the load balancer and the orchestrator see it at /readyz.
    core.readiness?.add('drain', () => (this.stopping ? { ready: false, reason: 'the node is shutting down' } : { ready: true }));
  }

  /** Port actually bound by the first listener of a type (useful with port 0). */
  port(type: string): number {
    const l = this.listeners.bound.find((b) => b.type === type);
    if (!l) throw new Error(`no ${type} listener`);
    return l.port;
  }

  /** Config reload (SIGHUP, `xmppd config reload`): re-read the file, apply all of it or none; never throws. */
  async reload(): Promise<ReloadReport> {
    if (this.stopping || !this.core.admin?.reloadConfig) {
      return { ...emptyReport(this.core.config.path, false), errors: ['the server is shutting down'] };
    }
    return this.core.admin.reloadConfig();
  }

  /**
   * Graceful shutdown, the drain of SIGTERM: not ready (/readyz 503), stop accepting, every client stream gets
   * see-other-host (cluster.see_other_host) or system-shutdown; sessions waiting for resumption end too, while
   * the modules still run, so every unacknowledged message goes to offline storage; then modules and storage stop.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.core.log.info('shutting down', { clients: this.listeners.connections.size, see_other_host: this.core.config.cluster?.see_other_host });
      this.memoryTrim?.stop();
      this.certificates?.stop();
      await this.control?.stop();
      await this.listeners.stop((c) => shutdownError(this.core.config, c.listenerType));
      await this.placement?.drain(); // rooms held here move on while their occupants on other nodes can be told
      await this.endDetachedSessions();
      await this.clusterSessions?.stop(true);
      await this.listeners.closeHttp();
      await this.modules.stopAll();
      await this.placement?.stop();
      await this.core.auth.stop();
      this.core.iq.cancelAll();
      await this.core.store.close();
      await this.core.cluster?.nc.close().catch(() => undefined); // after the store: its log drains over this connection
      this.core.log.info('stopped');
    })();
    return this.stopping;
  }

  /** XEP-0198 sessions kept for resumption end now, their unacknowledged stanzas handed to offline storage. */
  private async endDetachedSessions(): Promise<void> {
    const ending: Promise<void>[] = [];
    for (const s of this.core.sessions.all()) {
      if (!s.detached) continue;
      s.close();
      if (s instanceof C2SConnection) ending.push(s.closing);
    }
    await Promise.race([Promise.all(ending), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<XmppServer> {
  const log = opts.log ?? serverLogger(config.log_level, opts.logFormat);
  const firstStart = !existsSync(join(config.data_dir, 'db'));
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  // durability: none | batch | group (config/xmppd.example.yaml). A failed write stops all writes
  // until a restart (the store's rule); say so once, loudly, whoever made the write.
  let storageFailed = false;
  let metricsOf: Metrics | null = null; // the store opens before the metrics exist
  const storeOpts = {
    onFailure: (err: Error) => {
      log.error('storage write failed; the server refuses writes until it is restarted', { err, data_dir: config.data_dir });
      storageFailed = true;
      metricsOf?.storageWritable.set(0);
    },
  };
  // With `cluster`: the replica of the JetStream log (DESIGN.md "Data layer"); without it NATS is never touched.
  let nc: NatsConnection | undefined;
  let replica: Replica | undefined;
  let store: Store;
  if (config.cluster) {
    nc = await connectNats(config.cluster);
    try {
      replica = await openReplica(join(config.data_dir, 'db'), {
        nc, config: config.cluster, log: log.child({ part: 'replication' }), sync: config.durability.mode !== 'none', ...storeOpts,
      });
    } catch (err) {
      await nc.close();
      throw err;
    }
    store = replica.store;
  } else {
    store = await openStore(join(config.data_dir, 'db'), {
      durability: config.durability.mode,
      groupWindowMs: config.durability.group_window_ms,
      groupSize: config.durability.group_size,
      ...storeOpts,
    });
  }
  try {
    const metrics = new Metrics(opts.processMetrics ?? false);
    metrics.storageWritable.set(storageFailed ? 0 : 1);
    metricsOf = metrics;
    const hooks = new HookRunner(log.child({ part: 'hooks' }));
    hooks.onHandlerError = (hook, owner) => metrics.hookErrors.inc({ hook, owner });
    hooks.onChainTime = metrics.observeHookTime;
    store = meteredStore(store, metrics);
    const sessions = new SessionManager();
    const iq = new IqRouter(log.child({ part: 'iq' }));
    const accounts = new Accounts(store, hooks, config.scram_iterations);
    // Hosts with another auth provider (extauth, a module's) get their account operations routed to it.
    const auth = new AuthProviders(config, store, log.child({ part: 'auth' }), metrics.registry);
    accounts.routeTo(auth);
    const router = new Router(new Set(config.hosts), sessions, iq, hooks, accounts, metrics, log.child({ part: 'router' }));
    const core: Core = {
      config, log, hooks, iq, router, sessions, store, accounts, metrics,
      disco: new DiscoRegistry(),
      acl: new Acl(config.acl, config.access_rules, config.host_config),
      services: new ServiceRegistry(),
      commands: newCommandRegistry(),
      limits: new Limits(metrics, () => core),
      version: VERSION,
      startedAt: Date.now(),
      auth,
      http: new HttpRoutes(),
      readiness: new Readiness(),
    };
    if (replica !== undefined && nc !== undefined && config.cluster) {
      core.cluster = { node: config.cluster.node, config: config.cluster, nc, statusParts: new Map() };
      core.cluster.statusParts.set('replication', () => replica.status());
      core.readiness!.add('replication', () => replica.readiness());
      registerReplicationMetrics(metrics.registry, replica);
    }
    const { tls, certificates } = await loadTls(config, log.child({ part: 'tls' }));
    let s2s: S2SManager | null = null;
    if (config.s2s.enabled) {
      const s2sTls = await S2sTls.load(config, certificates.current());
      certificates.follow(s2sTls);
      s2s = new S2SManager(core, s2sTls);
      // The router's remote seam: remote domains go out over s2s.
      router.routeRemote = s2s.route;
    }
    // XEP-0114 external components: their domains are routed before the remote branch.
    const components = Object.keys(config.components).length ? new ComponentRegistry(core) : null;
    router.components = components;
    // Before the modules (they serve cluster requests) and the listeners (every session is registered cluster-wide).
    const clusterSessions = core.cluster ? new ClusterSessions(core, core.cluster) : null;
    await clusterSessions?.start();
    let placement: JidPlacement | null = null;
    if (core.cluster && clusterSessions) {
      // Sharded service domains (a MUC room on one node at a time): claims in KV, stanzas to the holder, which
      // is taken over when it is gone from NATS or its heartbeats stopped.
      const c = core.cluster;
      const liveness = clusterSessions.liveness;
      placement = await JidPlacement.start({
        nc: c.nc, cluster: c.config.name, node: c.node, replicas: c.config.replicas,
        recheckMs: c.config.heartbeat_interval * 1000, entry: (d) => router.serviceEntry(d), log: log.child({ part: 'placement' }),
        alive: (node) => liveness.nodes.get(node)?.alive ?? true, // unknown: ask it (no responders settles it)
        mayWait: (node) => liveness.nodes.get(node)?.alive === true, // as the session links do: a NATS failover is no death
      });
      router.placement = placement;
      const p = placement;
      c.statusParts.set('placement', () => p.status());
    }
    const modules = new ModuleManager(core, BUNDLED_MODULES);
    // An account's removal asks every module definition at hand for its rows (loaded, else bundled).
    accounts.userData = userDataCollector(core, { modules, definitions: BUNDLED_MODULES });
    await modules.startConfigured(config.modules);
    auth.checkRegistered();
    const listeners = new Listeners(core, tls, s2s, components);
    let control: ControlServer | null = null;
    // One admin target behind every admin surface: the CLI's control socket, the REST API, ad-hoc commands.
    core.admin = {
      core, modules, s2s,
      status: () => ({ listeners: listeners.bound, connections: listeners.connections.size, s2s_streams: s2s?.list().length ?? 0 }),
    };
    const reloader = new ConfigReloader(core, modules);
    core.admin.reloadConfig = (o) => reloader.reload(o);
    try {
      await listeners.start(config.listen);
      if (opts.controlSocket !== false) {
        control = new ControlServer(config.control_socket, core.admin, log.child({ part: 'control' }));
        await control.start();
      }
    } catch (err) {
      await listeners.stop();
      await clusterSessions?.stop(true);
      await modules.stopAll();
      await placement?.stop();
      await auth.stop();
      throw err;
    }
    auth.start();
    // Reads core.config at every check, so memory_trim_interval applies on reload.
    const memoryTrim = new MemoryTrimmer(() => core.config.memory_trim_interval,
      { connections: () => listeners.connections.size + (s2s?.list().length ?? 0), rss: () => process.memoryUsage.rss() },
      log.child({ part: 'memory-trim' }), metrics);
    memoryTrim.start();
    // Renewed certificates on disk are served from the next connection on (certbot, lego, `xmppd cert import`).
    certificates.start();
    const running = new XmppServer(core, modules, listeners, control, s2s, memoryTrim, certificates, clusterSessions, placement);
    log.info('xmppd started', { version: VERSION, hosts: config.hosts, config: config.path || '(embedded default)', ...(config.cluster ? { node: config.cluster.node } : {}) });
    // Not awaited: an auth provider that is slow to list accounts never delays the start.
    void startupNotes(core, listeners.bound, { firstStart, cliHint: opts.cliHint ?? ((w) => `xmppd ${w}`) }).catch(() => undefined);
    return running;
  } catch (err) {
    await store.close();
    await nc?.close();
    throw err;
  }
}
