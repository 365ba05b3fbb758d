// A module's DataContext built from its definition and the configuration, for data work where no instance
// of it runs on the host: the server stopped (CLI on the data directory), or not enabled on that host.
import type { Core } from '../core.js';
import type { DataContext } from './data-context.js';
import type { KeyedLock } from '../keyed-lock.js';

/** `options`: already resolved for `host` (resolveOptions); `lock`: shared by the contexts of one command. */
export function offlineDataContext(core: Pick<Core, 'store' | 'log'>, name: string, host: string, options: Record<string, unknown>, lock: KeyedLock): DataContext<any> {
  const store = core.store;
  return {
    host, moduleName: name, options, log: core.log.child({ host, module: name }),
    table: (t) => store.table(t),
    store,
    lock: (key, fn) => lock.run(`${name}\u0000${key}`, fn),
    service: () => undefined,
  };
}
