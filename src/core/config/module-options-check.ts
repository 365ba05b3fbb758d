// The modules part of a config check, without starting anything: every configured module exists (bundled
// or in module_paths), every option of every module on every host is known and valid (all reported, not the
// first per module), and each host's set has the modules each one `requires`.
import type { Core } from '../core.js';
import { ModuleManager } from '../module-runtime/module-manager.js';
import type { ModuleDefinition } from '../module-runtime/module-definition.js';
import { missingDependency, moduleHosts } from './host-modules.js';
import type { ServerConfig } from './types.js';
import { withSuggestion } from './suggest-key.js';

type AnyDef = ModuleDefinition<any, any>;
export interface ModuleProblem { yamlPath: string; problem: string }

export async function checkModuleOptions(config: ServerConfig, bundled: Record<string, AnyDef>): Promise<ModuleProblem[]> {
  // Resolution reads nothing from core but the config; importing an external module runs only its top level.
  const manager = new ModuleManager({ config } as Core, bundled);
  const problems = new Map<string, ModuleProblem>();
  const add = (yamlPath: string, problem: string) => problems.set(`${yamlPath}\n${problem}`, { yamlPath, problem });
  const defs = new Map<string, AnyDef>();
  const perHost = moduleHosts(config);
  for (const [name, hosts] of perHost) {
    const first = [...hosts.values()][0]!;
    try {
      defs.set(name, await manager.resolve(name, false, config.module_paths));
    } catch (err) {
      add(first.path, (err as Error).message);
      continue;
    }
    const schema = defs.get(name)!.options ?? {};
    const known = Object.keys(schema);
    for (const hm of hosts.values()) {
      for (const [key, value] of Object.entries(hm.options)) {
        const spec = schema[key];
        if (!spec || !Object.hasOwn(schema, key)) {
          add(`${hm.path}.${key}`, withSuggestion(`unknown option${known.length ? ` (known: ${known.join(', ')})` : ' (this module takes none)'}`, [key]));
          continue;
        }
        const problem = value === undefined || value === null ? 'must have a value (leave the key out for the default)' : spec.check(value);
        if (problem) add(`${hm.path}.${key}`, problem);
      }
    }
  }
  for (const host of config.hosts) {
    for (const [name, hosts] of perHost) {
      const hm = hosts.get(host);
      const def = defs.get(name);
      if (!hm || !def) continue;
      for (const dep of def.requires ?? []) {
        if (perHost.get(dep)?.has(host)) continue;
        const line = missingDependency(config, host, name, dep, hm.path);
        const cut = line.indexOf(': ');
        add(line.slice(0, cut), line.slice(cut + 2));
      }
    }
  }
  return [...problems.values()];
}
