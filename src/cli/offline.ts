// Runs a data-only admin command (user management) directly on the data directory when no server runs.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { ServerConfig } from '../core/config/types.js';
import { openStore } from '../data/index.js';
import { Logger } from '../core/log.js';
import { HookRunner } from '../core/hooks/hook-runner.js';
import { Accounts } from '../core/accounts.js';
import { SessionManager } from '../core/session-manager.js';
import { runCommand } from '../core/admin/commands.js';
import type { Core } from '../core/core.js';
import { AuthProviders } from '../core/auth/auth-providers.js';
import type { ModuleDefinition } from '../core/module-runtime/module-definition.js';
import { userDataCollector } from '../core/module-runtime/user-data-removal.js';

/** `definitions`: the bundled modules, whose option defaults (vcard.max_size, ...) bound an import. */
export async function runOffline(config: ServerConfig, cmd: string, args: Record<string, unknown>, definitions?: Record<string, ModuleDefinition<any, any>>): Promise<unknown> {
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const store = await openStore(join(config.data_dir, 'db'), { durability: config.durability.mode, groupWindowMs: config.durability.group_window_ms, groupSize: config.durability.group_size, allowIncompleteLoad: cmd === 'restore' });
  const log = new Logger('warn');
  // Hosts with an external or module auth provider: their account operations go there, as in the server
  // (a module-provided method fails clearly: no module is loaded offline).
  const auth = new AuthProviders(config, store, log);
  try {
    const hooks = new HookRunner(log);
    const accounts = new Accounts(store, hooks, config.scram_iterations);
    accounts.routeTo(auth);
    auth.start();
    const core = { config, log, hooks, store, accounts, auth, sessions: new SessionManager() } as unknown as Core;
    // No module runs: an account's removal asks the definitions at hand for their rows (user-data-removal.ts).
    accounts.userData = userDataCollector(core, { ...(definitions && { definitions }) });
    return await runCommand({ core, ...(definitions && { definitions }) }, cmd, args, { origin: 'cli' });
  } finally {
    await auth.stop();
    await store.close();
  }
}
