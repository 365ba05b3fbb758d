// The modules' shares of an account removal (ModuleDefinition.removeUser), collected for Accounts.remove on a
// running server and with the server stopped (CLI on the data directory): every module definition at hand
// is asked, with its running instance on the account's host, else a data context built from the config.
import type { Core } from '../core.js';
import type { Jid } from '../jid.js';
import type { Op } from '../../data/index.js';
import type { ModuleManager } from './module-manager.js';
import type { ModuleDefinition } from './module-definition.js';
import type { DataContext } from './data-context.js';
import { resolveOptions } from './options.js';
import { offlineDataContext } from './offline-data-context.js';
import { modulesOfHost, moduleHosts } from '../config/host-modules.js';
import { KeyedLock } from '../keyed-lock.js';

type AnyDef = ModuleDefinition<any, any>;

export interface UserDataSource {
  /** The running server's modules (their current code, and their instances as data contexts). */
  modules?: ModuleManager;
  /** The definitions at hand besides: the bundled modules (server stopped, or not loaded at all). */
  definitions?: Record<string, AnyDef>;
}

/** What Accounts.remove commits with the account row, and what it could not include. */
export interface UserDataOps { ops: Op[]; warnings: string[] }

export type UserDataCollector = (user: Jid) => Promise<UserDataOps>;

/**
 * A module is asked even where it is not enabled on the account's host: its rows may be left from when it
 * was, and a re-created account must not get them back. A module configured somewhere whose definition is
 * not at hand (one from module_paths, server stopped) cannot be asked: that is reported, not hidden.
 */
export function userDataCollector(core: Pick<Core, 'config' | 'store' | 'log'>, src: UserDataSource): UserDataCollector {
  return async (user) => {
    const host = user.domain;
    const defs = new Map<string, AnyDef>();
    const running = new Map<string, DataContext<any>>();
    if (src.modules) {
      for (const { def, ctx } of src.modules.instancesOn(host)) {
        defs.set(def.name, def);
        running.set(def.name, ctx);
      }
      for (const { name } of src.modules.list()) {
        const cur = src.modules.current(name);
        if (cur && !defs.has(name)) defs.set(name, cur.def);
      }
    }
    for (const [name, def] of Object.entries(src.definitions ?? {})) if (!defs.has(name)) defs.set(name, def);

    const warnings: string[] = [];
    const missing = [...moduleHosts(core.config).keys()].filter((n) => !defs.has(n));
    if (missing.length) {
      const why = src.modules ? 'not loaded' : 'no definition at hand with the server stopped';
      warnings.push(`not deleted: the data of ${missing.join(', ')} for ${user.toString()}, if any (${why}); re-create the account and delete it with ${src.modules ? 'the module loaded' : 'the server running'} to remove it`);
    }

    const onHost = modulesOfHost(core.config, host);
    const lock = new KeyedLock();
    const ops: Op[] = [];
    for (const [name, def] of defs) {
      if (!def.removeUser) continue;
      let data = running.get(name);
      if (!data) {
        let options: Record<string, unknown>;
        const hm = onHost.get(name);
        try {
          options = resolveOptions(def.options, hm?.options ?? {}, hm?.path ?? `modules.${name}`);
        } catch {
          // A bad option only matters to a module that runs; deletes need no more than the defaults.
          options = resolveOptions(def.options, {}, `modules.${name}`);
        }
        data = offlineDataContext(core, name, host, options, lock);
      }
      try {
        ops.push(...(await def.removeUser(data, user)));
      } catch (err) {
        // Nothing is deleted then: better the account stays, whole, than half of its data disappears.
        throw new Error(`module ${name} could not list the data of ${user.toString()} to delete: ${(err as Error).message}`, { cause: err });
      }
    }
    return { ops, warnings };
  };
}
