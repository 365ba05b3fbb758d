// Config reload, the modules part: resolve and validate every changed module before anything stops, then
// apply the steps in dependency order, recording each one so a failure can put the old set back.
import type { ModuleDefinition } from '../../modules/module-definition.js';
import type { ModuleManager } from '../../modules/module-manager.js';
import { resolveOptions } from '../../modules/options.js';
import type { ModuleChange } from './config-diff.js';

type AnyDef = ModuleDefinition<any, any>;
type Running = NonNullable<ReturnType<ModuleManager['current']>>;

interface Step { name: string; action: 'start' | 'reload' | 'stop'; def?: AnyDef; options?: Record<string, unknown> }

/** Problems found while preparing (each names the YAML path); nothing has been touched. */
export class PlanError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export class ModulePlan {
  /** What was running before each step that has been (or was being) applied, for rollback. */
  private readonly journal: Array<{ name: string; before: Running | undefined }> = [];
  readonly started: string[] = [];
  readonly reloaded: string[] = [];
  readonly stopped: string[] = [];

  private constructor(private readonly manager: ModuleManager, private readonly steps: Step[]) {
    for (const s of steps) (s.action === 'start' ? this.started : s.action === 'reload' ? this.reloaded : this.stopped).push(s.name);
  }

  /**
   * Resolve each changed module (from `modulePaths`, the new module_paths), validate its options and the
   * dependencies of the resulting set. `fresh` re-imports external code (a real reload; not a dry run).
   */
  static async prepare(manager: ModuleManager, changes: ModuleChange[], modulePaths: string[], fresh: boolean): Promise<ModulePlan> {
    const problems: string[] = [];
    const steps: Step[] = [];
    for (const c of changes) {
      const running = manager.current(c.name);
      if (!c.options) {
        if (running) steps.push({ name: c.name, action: 'stop' });
        continue;
      }
      try {
        const def = await manager.resolve(c.name, fresh, modulePaths);
        resolveOptions(def.options, c.options, `modules.${c.name}`); // OptionError names modules.<name>.<option>
        steps.push({ name: c.name, action: running ? 'reload' : 'start', def, options: c.options });
      } catch (err) {
        const msg = (err as Error).message;
        problems.push(msg.startsWith(`modules.${c.name}`) ? msg : `modules.${c.name}: ${msg}`);
      }
    }
    if (problems.length) throw new PlanError(problems);

    // The set after the plan: modules left running, plus those (re)started with their new definitions.
    const after = new Map<string, AnyDef>();
    for (const m of manager.list()) {
      const cur = manager.current(m.name);
      if (cur?.status === 'running') after.set(m.name, cur.def);
    }
    for (const s of steps) {
      if (s.action === 'stop') after.delete(s.name);
      else after.set(s.name, s.def!);
    }
    for (const [name, def] of after) {
      for (const dep of def.requires ?? []) {
        if (!after.has(dep)) problems.push(`modules.${name}: requires module "${dep}", which would not be running`);
      }
    }
    if (problems.length) throw new PlanError(problems);

    // Stops go first, dependents before what they depend on; then (re)starts, dependencies first.
    const stops = steps.filter((s) => s.action === 'stop');
    const oldDefs = new Map(stops.map((s) => [s.name, manager.current(s.name)!.def] as const));
    const starts = steps.filter((s) => s.action !== 'stop');
    const newDefs = new Map(starts.map((s) => [s.name, s.def!] as const));
    let ordered: Step[];
    try {
      const stopOrder = manager.order([...oldDefs.keys()], oldDefs).reverse();
      const startOrder = manager.order([...newDefs.keys()], newDefs);
      ordered = [...stopOrder.map((n) => stops.find((s) => s.name === n)!), ...startOrder.map((n) => starts.find((s) => s.name === n)!)];
    } catch (err) {
      throw new PlanError([`modules: ${(err as Error).message}`]);
    }
    return new ModulePlan(manager, ordered);
  }

  get empty(): boolean {
    return this.steps.length === 0;
  }

  /** Apply every step; the first failure is thrown (call rollback() then). */
  async commit(): Promise<void> {
    for (const s of this.steps) {
      this.journal.push({ name: s.name, before: this.manager.current(s.name) });
      if (s.action === 'stop') await this.manager.drop(s.name);
      else await this.manager.replace(s.def!, s.options!);
    }
  }

  /** Undo the applied steps, last first: the old definitions and options, as they ran. Returns what could not be restored. */
  async rollback(): Promise<string[]> {
    const problems: string[] = [];
    for (const { name, before } of this.journal.reverse()) {
      try {
        if (!before) await this.manager.drop(name);
        else await this.manager.replace(before.def, before.rawOptions);
      } catch (err) {
        // A module that had already failed before the reload may fail again: that is the state it was in.
        if (before?.status !== 'failed') problems.push(`module ${name} could not be restored: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}
