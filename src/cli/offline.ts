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

export async function runOffline(config: ServerConfig, cmd: string, args: Record<string, unknown>): Promise<unknown> {
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const store = await openStore(join(config.data_dir, 'db'));
  try {
    const log = new Logger('warn');
    const hooks = new HookRunner(log);
    const core = { config, log, hooks, store, accounts: new Accounts(store, hooks, config.scram_iterations), sessions: new SessionManager() } as unknown as Core;
    return await runCommand({ core }, cmd, args);
  } finally {
    await store.close();
  }
}
