// What a module's data code (XEP-0227 export/import, ModuleDefinition.portable) is given: its tables, its
// options as resolved for one host, a logger, a keyed lock. A running instance's ModuleContext is one; with
// the server stopped (CLI on the data directory) the core builds one from the configuration.
import type { Logger } from '../log.js';
import type { Store, Table } from '../../data/index.js';

export interface DataContext<O = Record<string, unknown>> {
  /** The virtual host the data belongs to. */
  readonly host: string;
  readonly moduleName: string;
  /** The module's options for this host (host_config.<host>.modules.<name> over modules.<name>, then defaults). */
  readonly options: O;
  readonly log: Logger;
  table<V>(name: string): Table<V>;
  readonly store: Pick<Store, 'transact' | 'barrier'>;
  /** Operations under one key run one at a time in this process. */
  lock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** A service of a module running on this host (undefined with the server stopped, or when not loaded). */
  service<T>(name: string): T | undefined;
}
