// Config reload, the modules part: resolve and validate every changed module before anything stops, then
// apply the steps per (module, host) in dependency order, recording each one so a failure can put the old
// set back. A host whose module options did not change keeps its running instance untouched.
import type { ModuleDefinition } from '../../module-runtime/module-definition.js';
import type { ModuleManager } from '../../module-runtime/module-manager.js';
import { resolveOptions } from '../../module-runtime/options.js';
import { missingDependency } from '../host-modules.js';
import type { ServerConfig } from '../types.js';
import type { ModuleChange } from './config-diff.js';

type AnyDef = ModuleDefinition<any, any>;
type Before = { def: AnyDef; rawOptions: Record<string, unknown>; global: Record<string, unknown> } | undefined;

interface Step { name: string; host: string; action: 'start' | 'reload' | 'stop'; def?: AnyDef; options?: Record<string, unknown>; global?: Record<string, unknown> }

/** Problems found while preparing (each names the YAML path); nothing has been touched. */
export class PlanError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export class ModulePlan {
  /** What was running before each step that has been (or was being) applied, for rollback. */
  private readonly journal: Array<{ name: string; host: string; before: Before }> = [];
  /** Names; "name on host" when the step concerns only some of the hosts. */
  readonly started: string[] = [];
  readonly reloaded: string[] = [];
  readonly stopped: string[] = [];

  private constructor(private readonly manager: ModuleManager, private readonly steps: Step[], hosts: string[]) {
    const seen = new Set<string>();
    for (const s of steps) {
      const key = `${s.name}/${s.action}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const same = steps.filter((o) => o.name === s.name && o.action === s.action).map((o) => o.host);
      const into = s.action === 'start' ? this.started : s.action === 'reload' ? this.reloaded : this.stopped;
      if (same.length === hosts.length) into.push(s.name);
      else into.push(...same.map((h) => `${s.name} on ${h}`));
    }
  }

  /**
   * Resolve each changed module (from the new module_paths), validate its options on each host and the
   * dependencies of each host's resulting set. `fresh` imports external code anew (a real reload; not a dry run).
   */
  static async prepare(manager: ModuleManager, changes: ModuleChange[], config: ServerConfig, fresh: boolean): Promise<ModulePlan> {
    const problems: string[] = [];
    const steps: Step[] = [];
    const defs = new Map<string, AnyDef>();
    for (const c of changes) {
      const added = [...c.hosts].filter(([, hm]) => hm);
      let def: AnyDef | undefined;
      if (added.length) {
        try {
          def = await manager.resolve(c.name, fresh, config.module_paths);
          defs.set(c.name, def);
        } catch (err) {
          problems.push(`${added[0]![1]!.path}: ${(err as Error).message}`);
          continue;
        }
      }
      for (const [host, hm] of c.hosts) {
        const running = manager.currentOn(c.name, host);
        if (!hm) {
          if (running) steps.push({ name: c.name, host, action: 'stop' });
          continue;
        }
        try {
          resolveOptions(def!.options, hm.options, hm.path); // OptionError names <path>.<option>
          steps.push({ name: c.name, host, action: running ? 'reload' : 'start', def, options: hm.options, global: config.modules[c.name] ?? {} });
        } catch (err) {
          const msg = (err as Error).message;
          problems.push(msg.startsWith(hm.path) ? msg : `${hm.path}: ${msg}`);
        }
      }
    }
    if (problems.length) throw new PlanError(problems);

    // Each host's set after the plan: modules left running there, plus those (re)started with their new definitions.
    for (const host of config.hosts) {
      const after = new Map<string, { def: AnyDef; path: string }>();
      for (const m of manager.list()) {
        const cur = manager.currentOn(m.name, host);
        if (cur) after.set(m.name, { def: cur.def, path: `modules.${m.name}` });
      }
      for (const s of steps.filter((x) => x.host === host)) {
        if (s.action === 'stop') after.delete(s.name);
        else after.set(s.name, { def: s.def!, path: changes.find((c) => c.name === s.name)!.hosts.get(host)!.path });
      }
      for (const [name, { def, path }] of after) {
        for (const dep of def.requires ?? []) {
          if (!after.has(dep)) problems.push(missingDependency(config, host, name, dep, path));
        }
      }
    }
    if (problems.length) throw new PlanError([...new Set(problems)]);

    // Stops go first, dependents before what they depend on; then (re)starts, dependencies first.
    const stops = steps.filter((s) => s.action === 'stop');
    const oldDefs = new Map(stops.map((s) => [s.name, manager.currentOn(s.name, s.host)!.def] as const));
    const starts = steps.filter((s) => s.action !== 'stop');
    const newDefs = new Map(starts.map((s) => [s.name, s.def!] as const));
    let ordered: Step[];
    try {
      const stopOrder = manager.order([...oldDefs.keys()], oldDefs).reverse();
      const startOrder = manager.order([...newDefs.keys()], newDefs);
      ordered = [...stopOrder.flatMap((n) => stops.filter((s) => s.name === n)), ...startOrder.flatMap((n) => starts.filter((s) => s.name === n))];
    } catch (err) {
      throw new PlanError([`modules: ${(err as Error).message}`]);
    }
    return new ModulePlan(manager, ordered, config.hosts);
  }

  get empty(): boolean {
    return this.steps.length === 0;
  }

  /** Apply every step; the first failure is thrown (call rollback() then). */
  async commit(): Promise<void> {
    for (const s of this.steps) {
      const on = this.manager.currentOn(s.name, s.host);
      this.journal.push({ name: s.name, host: s.host, before: on && { ...on, global: this.manager.current(s.name)!.rawOptions } });
      if (s.action === 'stop') await this.manager.dropOn(s.name, s.host);
      else await this.manager.replaceOn(s.def!, s.host, s.options!, s.global!);
    }
  }

  /** Undo the applied steps, last first: the old definitions and options, as they ran. Returns what could not be restored. */
  async rollback(): Promise<string[]> {
    const problems: string[] = [];
    for (const { name, host, before } of this.journal.reverse()) {
      try {
        if (!before) await this.manager.dropOn(name, host);
        else await this.manager.replaceOn(before.def, host, before.rawOptions, before.global);
      } catch (err) {
        problems.push(`module ${name} could not be restored on ${host}: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}
