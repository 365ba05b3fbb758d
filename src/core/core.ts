// The logic-layer services one server instance is made of; passed to modules through their context.
import type { ServerConfig } from './config/types.js';
import type { Logger } from './log.js';
import type { HookRunner } from './hooks/hook-runner.js';
import type { IqRouter } from './iq-router.js';
import type { Router } from './router.js';
import type { SessionManager } from './session-manager.js';
import type { Store } from '../data/index.js';
import type { Accounts } from './accounts.js';
import type { AuthProviders } from './auth/auth-providers.js';
import type { Metrics } from './metrics.js';
import type { DiscoRegistry } from './disco-registry.js';
import type { Acl } from './acl.js';
import type { ServiceRegistry } from './service-registry.js';
import type { Limits } from './limits/limits.js';
import type { AdminTarget } from './admin/command-def.js';
import type { CommandRegistry } from './admin/command-registry.js';
import type { HttpRoutes } from './http-routes.js';
import type { Readiness } from './readiness.js';
import type { ClusterRuntime } from './cluster/cluster-runtime.js';

export interface Core {
  config: ServerConfig;
  log: Logger;
  hooks: HookRunner;
  iq: IqRouter;
  router: Router;
  sessions: SessionManager;
  store: Store;
  accounts: Accounts;
  /** Which auth provider serves each host; the SASL mechanisms follow it (src/core/auth). */
  auth: AuthProviders;
  metrics: Metrics;
  disco: DiscoRegistry;
  acl: Acl;
  /** Shapers and limits (limits section): connection rates, sessions per user, connections and registrations per IP. */
  limits: Limits;
  services: ServiceRegistry;
  version: string;
  /** When this server instance started (ms since the epoch): server uptime (XEP-0012 §5). */
  startedAt: number;
  /** Admin commands: the server's and those modules register (ctx.command); absent on a core built for the CLI offline. */
  commands?: CommandRegistry;
  /** Routes modules add to the http/https listeners (ctx.httpRoute); absent on a core built for the CLI offline. */
  http?: HttpRoutes;
  /** What admin surfaces (control socket, REST API, ad-hoc commands) act on; set once the server runs. */
  admin?: AdminTarget;
  /** Checks behind the HTTP readiness endpoint (a replica catching up, a drain); absent on a core built for the CLI offline. */
  readiness?: Readiness;
  /** This node's cluster (config `cluster`); undefined on a single node. */
  cluster?: ClusterRuntime;
}
