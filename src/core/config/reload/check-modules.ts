// `xmppd config check` without a server: every configured module exists (bundled or in module_paths),
// accepts its options, and has the modules it requires. The same preparation a reload does.
import type { Core } from '../../core.js';
import { ModuleManager } from '../../module-runtime/module-manager.js';
import type { ModuleDefinition } from '../../module-runtime/module-definition.js';
import type { ServerConfig } from '../types.js';
import { ModulePlan, PlanError } from './module-plan.js';
import { moduleHosts, type HostModule } from '../host-modules.js';

/** Problems, each naming its YAML path; empty when the modules section is sound. */
export async function checkModules(config: ServerConfig, bundled: Record<string, ModuleDefinition<any, any>>): Promise<string[]> {
  // Only resolution and validation run: the manager reads nothing from core but config (nothing starts).
  const manager = new ModuleManager({ config } as Core, bundled);
  const changes = [...moduleHosts(config)].map(([name, hosts]) => ({ name, hosts: new Map<string, HostModule | null>(hosts) }));
  try {
    await ModulePlan.prepare(manager, changes, config, false);
    return [];
  } catch (err) {
    if (err instanceof PlanError) return err.problems;
    throw err;
  }
}
