// The modules' shares of a XEP-0227 file (ModuleDefinition.portable) for one host, each with its data
// context: a running server's module instances, or — server stopped, CLI on the data directory — the
// modules the configuration enables on that host, built from their definitions with their options for
// that host (host_config.<host>.modules.<name> over modules.<name>, then the defaults).
import type { Core } from '../core.js';
import type { ModuleManager } from '../module-runtime/module-manager.js';
import type { ModuleDefinition } from '../module-runtime/module-definition.js';
import type { DataContext } from '../module-runtime/data-context.js';
import type { PortableSection } from '../module-runtime/portable-section.js';
import { OptionError, resolveOptions } from '../module-runtime/options.js';
import { modulesOfHost } from '../config/host-modules.js';
import { KeyedLock } from '../keyed-lock.js';
import { offlineDataContext } from '../module-runtime/offline-data-context.js';
import { CommandError } from '../admin/command-def.js';

export interface Section { module: string; portable: PortableSection<any>; data: DataContext<any> }

export interface SectionSource {
  /** The running server's modules. */
  modules?: ModuleManager;
  /** Server stopped: the module definitions at hand (the bundled ones). */
  definitions?: Record<string, ModuleDefinition<any, any>>;
}

/** Sections per host, built once per export or import. */
export class ModuleSections {
  private readonly byHost = new Map<string, Section[]>();
  /**
   * Modules the configuration enables on a host whose data is left out, with why: not running there (failed
   * or unloaded at runtime), or no definition at hand with the server stopped (a module from module_paths).
   */
  readonly unavailable = new Set<string>();

  constructor(private readonly core: Core, private readonly src: SectionSource) {}

  of(host: string): Section[] {
    let s = this.byHost.get(host);
    if (!s) this.byHost.set(host, (s = this.src.modules ? this.running(host) : this.offline(host)));
    return s;
  }

  private running(host: string): Section[] {
    const mm = this.src.modules!;
    const running = mm.instancesOn(host);
    for (const name of modulesOfHost(this.core.config, host).keys()) {
      if (running.some((r) => r.def.name === name)) continue;
      const def = mm.current(name)?.def;
      if (!def || def.portable) this.unavailable.add(`${name} on ${host} (not running there)`);
    }
    return running.flatMap(({ def, ctx }) => (def.portable ? [{ module: def.name, portable: def.portable, data: ctx }] : []));
  }

  private offline(host: string): Section[] {
    const out: Section[] = [];
    const lock = new KeyedLock();
    for (const [name, hm] of modulesOfHost(this.core.config, host)) {
      const def = this.src.definitions?.[name];
      if (!def) {
        this.unavailable.add(`${name} (no definition at hand with the server stopped)`);
        continue;
      }
      if (!def.portable) continue;
      let options: Record<string, unknown>;
      try {
        options = resolveOptions(def.options, hm.options, hm.path);
      } catch (err) {
        if (err instanceof OptionError) throw new CommandError(`${this.core.config.path || '<config>'}: ${err.message}`);
        throw err;
      }
      const data = offlineDataContext(this.core, name, host, options, lock);
      out.push({ module: name, portable: def.portable, data });
    }
    return out;
  }
}
