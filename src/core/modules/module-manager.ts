// Module manager (DESIGN.md "Modules"): resolves bundled and external modules, starts them per host in
// dependency order, and loads, reloads and unloads them at runtime without leaks.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Core } from '../core.js';
import { OperatorError } from '../errors.js';
import { ModuleContext } from './module-context.js';
import type { ModuleDefinition } from './module-definition.js';
import { OptionError, resolveOptions } from './options.js';

type AnyDef = ModuleDefinition<any, any>;

interface Instance { ctx: ModuleContext<any>; state: unknown }
interface Loaded {
  def: AnyDef;
  rawOptions: Record<string, unknown>;
  instances: Map<string, Instance>; // host -> instance
  status: 'running' | 'failed';
  error?: string;
}

export interface ModuleInfo { name: string; status: 'running' | 'failed'; hosts: string[]; xeps: string[]; error?: string; options: Record<string, unknown> }

export class ModuleError extends OperatorError {
  constructor(message: string) {
    super('XMPPD_ERR_MODULE', message);
  }
}

export class ModuleManager {
  private readonly loaded = new Map<string, Loaded>();
  private importSeq = 0;

  constructor(private readonly core: Core, private readonly bundled: Record<string, AnyDef>) {}

  /** Boot: start every configured module; any failure is thrown with the YAML path (fail-fast). */
  async startConfigured(modules: Record<string, Record<string, unknown>>): Promise<void> {
    const defs = new Map<string, AnyDef>();
    for (const name of Object.keys(modules)) {
      const def = await this.resolve(name).catch((err: Error) => {
        throw new ModuleError(`${this.core.config.path || '<config>'}: modules.${name}: ${err.message}`);
      });
      defs.set(name, def);
    }
    for (const [name, def] of defs) {
      for (const dep of def.requires ?? []) {
        if (!defs.has(dep)) throw new ModuleError(`${this.core.config.path || '<config>'}: modules.${name}: requires module "${dep}", which is not enabled`);
      }
    }
    for (const name of this.order([...defs.keys()], defs)) {
      await this.startModule(defs.get(name)!, modules[name] ?? {}, true);
    }
  }

  /** Load a module at runtime (CLI `module load`). */
  async load(name: string, options: Record<string, unknown> = {}): Promise<ModuleInfo> {
    const existing = this.loaded.get(name);
    if (existing?.status === 'running') throw new ModuleError(`module ${name} is already loaded`);
    if (existing) this.loaded.delete(name);
    const def = await this.resolve(name, true);
    for (const dep of def.requires ?? []) {
      if (this.loaded.get(dep)?.status !== 'running') throw new ModuleError(`module ${name} requires module "${dep}"; load it first`);
    }
    await this.startModule(def, options, false);
    return this.info(name)!;
  }

  /** Unload a module; refused while a running module requires it. */
  async unload(name: string): Promise<void> {
    const m = this.loaded.get(name);
    if (!m) throw new ModuleError(`module ${name} is not loaded`);
    const dependents = [...this.loaded.values()].filter((o) => o.status === 'running' && o.def.requires?.includes(name)).map((o) => o.def.name);
    if (dependents.length) throw new ModuleError(`module ${name} is required by ${dependents.join(', ')}; unload those first`);
    await this.stopModule(m);
    this.loaded.delete(name);
  }

  /** Reload with new options (or the same ones) and fresh code; a failure leaves the module marked failed. */
  async reload(name: string, options?: Record<string, unknown>): Promise<ModuleInfo> {
    const m = this.loaded.get(name);
    if (!m) throw new ModuleError(`module ${name} is not loaded`);
    const rawOptions = options ?? m.rawOptions;
    const def = await this.resolve(name, true);
    resolveOptions(def.options, rawOptions, `modules.${name}`); // validate before stopping anything
    await this.stopModule(m);
    this.loaded.delete(name);
    await this.startModule(def, rawOptions, false);
    return this.info(name)!;
  }

  list(): ModuleInfo[] {
    return [...this.loaded.keys()].map((n) => this.info(n)!);
  }

  info(name: string): ModuleInfo | undefined {
    const m = this.loaded.get(name);
    if (!m) return undefined;
    return { name, status: m.status, hosts: [...m.instances.keys()], xeps: m.def.xeps ?? [], error: m.error, options: m.rawOptions };
  }

  /** Config reload (src/core/config/reload): the definition and options a module runs with, to restore them. */
  current(name: string): { def: AnyDef; rawOptions: Record<string, unknown>; status: Loaded['status'] } | undefined {
    const m = this.loaded.get(name);
    return m && { def: m.def, rawOptions: m.rawOptions, status: m.status };
  }

  /** Config reload: (re)start a module from a definition resolved and validated beforehand; throws if it fails. */
  async replace(def: AnyDef, rawOptions: Record<string, unknown>): Promise<void> {
    await this.drop(def.name);
    await this.startModule(def, rawOptions, false);
  }

  /** Config reload: stop a module and forget it, without the dependents check (the caller orders the steps). */
  async drop(name: string): Promise<void> {
    const m = this.loaded.get(name);
    if (m) await this.stopModule(m);
    this.loaded.delete(name);
  }

  isRunning(name: string): boolean {
    return this.loaded.get(name)?.status === 'running';
  }

  /** Stop everything in reverse dependency order. */
  async stopAll(): Promise<void> {
    const names = this.order([...this.loaded.keys()], new Map([...this.loaded].map(([n, m]) => [n, m.def]))).reverse();
    for (const n of names) {
      const m = this.loaded.get(n);
      if (m) await this.stopModule(m);
      this.loaded.delete(n);
    }
  }

  private async startModule(def: AnyDef, rawOptions: Record<string, unknown>, boot: boolean): Promise<void> {
    const path = `${this.core.config.path || '<config>'}: modules.${def.name}`;
    let options: Record<string, unknown>;
    try {
      options = resolveOptions(def.options, rawOptions, `modules.${def.name}`);
    } catch (err) {
      if (err instanceof OptionError) throw new ModuleError(`${this.core.config.path || '<config>'}: ${err.message}`);
      throw err;
    }
    const entry: Loaded = { def, rawOptions, instances: new Map(), status: 'running' };
    this.loaded.set(def.name, entry);
    for (const host of this.core.config.hosts) {
      const log = this.core.log.child({ host, module: def.name });
      const ctx = new ModuleContext(this.core, host, def.name, options, log);
      for (const f of def.features ?? []) ctx.feature(f, 'server');
      for (const f of def.accountFeatures ?? []) ctx.feature(f, 'account');
      try {
        const state = await def.start(ctx);
        entry.instances.set(host, { ctx, state });
      } catch (err) {
        await ctx.dispose();
        await this.stopModule(entry);
        entry.status = 'failed';
        entry.error = (err as Error).message;
        log.error('module failed to start', { err });
        if (boot) throw new ModuleError(`${path}: failed to start: ${(err as Error).message}`);
        throw new ModuleError(`module ${def.name} failed to start on ${host}: ${(err as Error).message}`);
      }
    }
    this.core.log.info('module started', { module: def.name, hosts: this.core.config.hosts.length });
  }

  private async stopModule(m: Loaded): Promise<void> {
    for (const [host, inst] of m.instances) {
      try {
        await m.def.stop?.(inst.ctx, inst.state);
      } catch (err) {
        inst.ctx.log.error('module stop failed', { err });
      }
      await inst.ctx.dispose();
      m.instances.delete(host);
    }
  }

  /** Topological order over requires + optional (only among the given names). */
  order(names: string[], defs: Map<string, AnyDef>): string[] {
    const out: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: string, chain: string[]) => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'visiting') throw new ModuleError(`module dependency cycle: ${[...chain, n].join(' -> ')}`);
      state.set(n, 'visiting');
      const d = defs.get(n)!;
      for (const dep of [...(d.requires ?? []), ...(d.optional ?? [])]) if (defs.has(dep)) visit(dep, [...chain, n]);
      state.set(n, 'done');
      out.push(n);
    };
    for (const n of names) visit(n, []);
    return out;
  }

  /** A bundled module by name, else `<module_path>/<name>` (a package dir or index.js), imported fresh on reload. */
  async resolve(name: string, fresh = false, paths: string[] = this.core.config.module_paths): Promise<AnyDef> {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) throw new Error(`"${name}" is not a valid module name (lowercase letters, digits, - and _)`);
    const bundled = this.bundled[name];
    if (bundled) return bundled;
    for (const dir of paths) {
      for (const candidate of [join(dir, name, 'dist', 'index.js'), join(dir, name, 'index.js'), join(dir, `${name}.js`)]) {
        if (!existsSync(candidate)) continue;
        const url = pathToFileURL(candidate).href + (fresh ? `?v=${++this.importSeq}` : '');
        const mod = await import(url);
        const def = (mod.default ?? mod.module) as AnyDef | undefined;
        if (!def || typeof def.start !== 'function' || def.name !== name) {
          throw new Error(`${candidate} does not export default defineModule({ name: '${name}', start() {...} })`);
        }
        return def;
      }
    }
    const where = paths.length ? ` or in module_paths (${paths.join(', ')})` : '';
    throw new Error(`no module named "${name}" among the bundled modules (${Object.keys(this.bundled).join(', ')})${where}`);
  }
}
