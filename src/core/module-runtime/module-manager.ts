// Module manager (DESIGN.md "Modules"): resolves bundled and external modules, starts them per host in
// dependency order, and loads, reloads and unloads them at runtime without leaks.
import { isDeepStrictEqual } from 'node:util';
import type { Core } from '../core.js';
import { OperatorError } from '../errors.js';
import { missingDependency, moduleHosts, modulesOfHost } from '../config/host-modules.js';
import { ModuleContext } from './module-context.js';
import { ModuleLoader } from './module-loader.js';
import type { ModuleDefinition } from './module-definition.js';
import { OptionError, resolveOptions } from './options.js';

type AnyDef = ModuleDefinition<any, any>;

/** One module running on one host, with the definition and raw options it was started with. */
interface Instance { ctx: ModuleContext<any>; state: unknown; def: AnyDef; rawOptions: Record<string, unknown> }
interface Loaded {
  def: AnyDef;
  rawOptions: Record<string, unknown>; // the global (or CLI) options; hosts may differ (host_config)
  instances: Map<string, Instance>; // host -> instance
  status: 'running' | 'failed';
  error?: string;
}

export interface ModuleInfo {
  name: string; status: 'running' | 'failed'; hosts: string[]; xeps: string[]; error?: string; options: Record<string, unknown>;
  /** Options per host where they differ from `options` (host_config.<host>.modules). */
  host_options?: Record<string, Record<string, unknown>>;
}

export class ModuleError extends OperatorError {
  constructor(message: string) {
    super('XMPPD_ERR_MODULE', message);
  }
}

export class ModuleManager {
  private readonly loaded = new Map<string, Loaded>();
  private readonly loader = new ModuleLoader();

  constructor(private readonly core: Core, private readonly bundled: Record<string, AnyDef>) {}

  private get file(): string {
    return this.core.config.path || '<config>';
  }

  /** Boot: start every configured module on its hosts; any failure is thrown with the YAML path (fail-fast). */
  async startConfigured(modules: Record<string, Record<string, unknown>> = this.core.config.modules): Promise<void> {
    this.loader.cleanup(this.core.config.module_paths);
    const config = { ...this.core.config, modules };
    const perModule = moduleHosts(config);
    const defs = new Map<string, AnyDef>();
    for (const [name, hosts] of perModule) {
      const def = await this.resolve(name).catch((err: Error) => {
        throw new ModuleError(`${this.file}: ${[...hosts.values()][0]!.path}: ${err.message}`);
      });
      defs.set(name, def);
    }
    for (const host of config.hosts) {
      const set = modulesOfHost(config, host);
      for (const [name, hm] of set) {
        for (const dep of defs.get(name)!.requires ?? []) {
          if (!set.has(dep)) throw new ModuleError(`${this.file}: ${missingDependency(config, host, name, dep, hm.path)}`);
        }
      }
    }
    for (const name of this.order([...defs.keys()], defs)) {
      const hosts = perModule.get(name)!;
      await this.startModule(defs.get(name)!, modules[name] ?? {}, [...hosts].map(([h, hm]) => [h, hm.options, hm.path] as const), true);
    }
  }

  /**
   * Load a module at runtime (CLI `module load`) with `options` as its global options: on every host, except
   * where host_config.<host>.modules removes it (or, when only host_config lists it, on those hosts only),
   * with that host's option overrides on top.
   */
  async load(name: string, options: Record<string, unknown> = {}): Promise<ModuleInfo> {
    const existing = this.loaded.get(name);
    if (existing?.status === 'running') throw new ModuleError(`module ${name} is already loaded`);
    if (existing) this.loaded.delete(name);
    const def = await this.resolve(name, true);
    const hosts = this.hostsFor(name, options);
    for (const dep of def.requires ?? []) {
      const missing = hosts.filter(([h]) => !this.loaded.get(dep)?.instances.has(h)).map(([h]) => h);
      if (missing.length) throw new ModuleError(`module ${name} requires module "${dep}" on ${missing.join(', ')}; load it first`);
    }
    await this.startModule(def, options, hosts, false);
    return this.info(name)!;
  }

  /** Hosts (with their raw options and YAML path) a module loaded at runtime with global `options` runs on. */
  private hostsFor(name: string, options: Record<string, unknown>): Array<readonly [string, Record<string, unknown>, string]> {
    const cfg = this.core.config;
    const perHostOnly = !(name in cfg.modules) && cfg.hosts.some((h) => cfg.host_config[h]?.modules?.[name]);
    const out: Array<readonly [string, Record<string, unknown>, string]> = [];
    for (const h of cfg.hosts) {
      const own = cfg.host_config[h]?.modules?.[name];
      if (own === false || (perHostOnly && !own)) continue;
      out.push([h, { ...options, ...(own || {}) }, own ? `host_config.${h}.modules.${name}` : `modules.${name}`]);
    }
    return out;
  }

  /** Unload a module; refused while a running module requires it. */
  async unload(name: string): Promise<void> {
    const m = this.loaded.get(name);
    if (!m) throw new ModuleError(`module ${name} is not loaded`);
    const dependents = [...this.loaded.values()].filter((o) => o.status === 'running' && o.def.requires?.includes(name)).map((o) => o.def.name);
    if (dependents.length) throw new ModuleError(`module ${name} is required by ${dependents.join(', ')}; unload those first`);
    await this.stopModule(m);
    this.loaded.delete(name);
    this.loader.forget(name);
  }

  /**
   * Reload with the module's current code (all of its files, see module-loader.ts) on the hosts it runs on,
   * each with its own options, or with `options` on all of them; a failure leaves the module marked failed.
   */
  async reload(name: string, options?: Record<string, unknown>): Promise<ModuleInfo> {
    const m = this.loaded.get(name);
    if (!m) throw new ModuleError(`module ${name} is not loaded`);
    const def = await this.resolve(name, true);
    // Given options replace the global ones; each host's host_config overrides still apply on top.
    const planned = this.hostsFor(name, options ?? m.rawOptions);
    const hosts = !m.instances.size ? planned : [...m.instances].map(([h, inst]) => {
      if (!options) return [h, inst.rawOptions, `modules.${name}`] as const;
      return planned.find(([x]) => x === h) ?? ([h, options, `modules.${name}`] as const);
    });
    for (const [, raw, path] of hosts) resolveOptions(def.options, raw, path); // validate before stopping anything
    await this.stopModule(m);
    this.loaded.delete(name);
    await this.startModule(def, options ?? m.rawOptions, hosts, false);
    return this.info(name)!;
  }

  list(): ModuleInfo[] {
    return [...this.loaded.keys()].map((n) => this.info(n)!);
  }

  info(name: string): ModuleInfo | undefined {
    const m = this.loaded.get(name);
    if (!m) return undefined;
    const info: ModuleInfo = { name, status: m.status, hosts: [...m.instances.keys()], xeps: m.def.xeps ?? [], error: m.error, options: m.rawOptions };
    for (const [h, inst] of m.instances) {
      if (!isDeepStrictEqual(inst.rawOptions, m.rawOptions)) (info.host_options ??= {})[h] = inst.rawOptions;
    }
    return info;
  }

  /** Config reload (src/core/config/reload): the definition and options a module runs with, to restore them. */
  current(name: string): { def: AnyDef; rawOptions: Record<string, unknown>; status: Loaded['status'] } | undefined {
    const m = this.loaded.get(name);
    return m && { def: m.def, rawOptions: m.rawOptions, status: m.status };
  }

  /** Config reload: what runs on one host (undefined: the module does not run there). */
  currentOn(name: string, host: string): { def: AnyDef; rawOptions: Record<string, unknown> } | undefined {
    const inst = this.loaded.get(name)?.instances.get(host);
    return inst && { def: inst.def, rawOptions: inst.rawOptions };
  }

  /** Hosts a module runs on. */
  hostsOf(name: string): string[] {
    return [...(this.loaded.get(name)?.instances.keys() ?? [])];
  }

  /** Config reload: (re)start a module on one host from a definition resolved and validated beforehand; throws if it fails. */
  async replaceOn(def: AnyDef, host: string, rawOptions: Record<string, unknown>, globalOptions: Record<string, unknown>): Promise<void> {
    await this.dropOn(def.name, host);
    let entry = this.loaded.get(def.name);
    if (!entry || entry.status === 'failed') {
      entry = { def, rawOptions: globalOptions, instances: new Map(), status: 'running' };
      this.loaded.set(def.name, entry);
    }
    entry.def = def;
    entry.rawOptions = globalOptions;
    await this.startOn(entry, def, host, rawOptions, `modules.${def.name}`, false, false);
    this.core.log.info('module started', { module: def.name, host });
  }

  /** Config reload: stop a module on one host (and forget it when no host runs it), without the dependents check. */
  async dropOn(name: string, host: string): Promise<void> {
    const m = this.loaded.get(name);
    const inst = m?.instances.get(host);
    if (m && inst) await this.stopInstance(m, host, inst);
    if (m && !m.instances.size) this.loaded.delete(name);
  }

  /** Config reload: stop a module on every host and forget it. */
  async drop(name: string): Promise<void> {
    const m = this.loaded.get(name);
    if (m) await this.stopModule(m);
    this.loaded.delete(name);
  }

  /** The module instances running on `host`, in start order (XEP-0227 export/import asks each for its data). */
  instancesOn(host: string): Array<{ def: AnyDef; ctx: ModuleContext<any> }> {
    const names = this.order([...this.loaded.keys()], new Map([...this.loaded].map(([n, m]) => [n, m.def])));
    return names.flatMap((n) => {
      const inst = this.loaded.get(n)!.instances.get(host);
      return inst ? [{ def: inst.def, ctx: inst.ctx }] : [];
    });
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
    this.loader.cleanup([]);
  }

  private async startModule(def: AnyDef, rawOptions: Record<string, unknown>, hosts: ReadonlyArray<readonly [string, Record<string, unknown>, string]>, boot: boolean): Promise<void> {
    const entry: Loaded = { def, rawOptions, instances: new Map(), status: 'running' };
    this.loaded.set(def.name, entry);
    for (const [host, raw, path] of hosts) await this.startOn(entry, def, host, raw, path, boot, true);
    this.core.log.info('module started', { module: def.name, hosts: hosts.length });
  }

  /**
   * Start one instance. On failure, with `all` (load, reload, boot) every instance of the module stops and it
   * is marked failed; without (a config reload's per-host step) the other hosts' instances keep running.
   */
  private async startOn(entry: Loaded, def: AnyDef, host: string, raw: Record<string, unknown>, path: string, boot: boolean, all: boolean): Promise<void> {
    let options: Record<string, unknown>;
    try {
      options = resolveOptions(def.options, raw, path);
    } catch (err) {
      if (err instanceof OptionError) throw new ModuleError(`${this.file}: ${err.message}`);
      throw err;
    }
    const log = this.core.log.child({ host, module: def.name });
    const ctx = new ModuleContext(this.core, host, def.name, options, log);
    for (const f of def.features ?? []) ctx.feature(f, 'server');
    for (const f of def.accountFeatures ?? []) ctx.feature(f, 'account');
    try {
      const state = await def.start(ctx);
      entry.instances.set(host, { ctx, state, def, rawOptions: raw });
    } catch (err) {
      await ctx.dispose();
      if (all) await this.stopModule(entry);
      if (!entry.instances.size) {
        entry.status = 'failed';
        entry.error = (err as Error).message;
      }
      log.error('module failed to start', { err });
      if (boot) throw new ModuleError(`${this.file}: ${path}: failed to start on ${host}: ${(err as Error).message}`);
      throw new ModuleError(`module ${def.name} failed to start on ${host}: ${(err as Error).message}`);
    }
  }

  private async stopModule(m: Loaded): Promise<void> {
    for (const [host, inst] of m.instances) await this.stopInstance(m, host, inst);
  }

  private async stopInstance(m: Loaded, host: string, inst: Instance): Promise<void> {
    try {
      await inst.def.stop?.(inst.ctx, inst.state);
    } catch (err) {
      inst.ctx.log.error('module stop failed', { err });
    }
    await inst.ctx.dispose();
    m.instances.delete(host);
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

  /** A bundled module by name, else one from module_paths (module-loader.ts), its current code when fresh. */
  async resolve(name: string, fresh = false, paths: string[] = this.core.config.module_paths): Promise<AnyDef> {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) throw new Error(`"${name}" is not a valid module name (lowercase letters, digits, - and _)`);
    const bundled = this.bundled[name];
    if (bundled) return bundled;
    const loc = this.loader.locate(name, paths);
    if (!loc) {
      const where = paths.length ? ` or in module_paths (${paths.join(', ')})` : '';
      throw new Error(`no module named "${name}" among the bundled modules (${Object.keys(this.bundled).join(', ')})${where}`);
    }
    const mod = await this.loader.import(name, loc, fresh);
    const def = (mod.default ?? mod.module) as AnyDef | undefined;
    if (!def || typeof def.start !== 'function' || def.name !== name) {
      throw new Error(`${loc.entry} does not export default defineModule({ name: '${name}', start() {...} })`);
    }
    return def;
  }
}
