// The module contract (DESIGN.md "Modules"): a declarative object; everything it registers through
// its context is recorded and released when it stops.
import type { OptionSchema, OptionValues } from './options.js';
import type { ModuleContext } from './module-context.js';
import type { PortableSection } from './portable-section.js';
import type { DataContext } from './data-context.js';
import type { Jid } from '../jid.js';
import type { Op } from '../../data/index.js';

export interface ModuleDefinition<S extends OptionSchema = OptionSchema, State = unknown> {
  name: string;
  description?: string;
  /** XEPs (or RFCs) it implements, e.g. ['XEP-0199']. */
  xeps?: string[];
  /** Modules that must be loaded (on the same host) before this one. */
  requires?: string[];
  /** Modules used when present; only orders start-up. */
  optional?: string[];
  /** disco#info features advertised by the server while the module runs. */
  features?: string[];
  /** disco#info features advertised on account (bare JID) queries. */
  accountFeatures?: string[];
  options?: S;
  /**
   * Its share of XEP-0227 export/import, declared so that it also runs with the server stopped (CLI on the
   * data directory), with the module's options for each host.
   */
  portable?: PortableSection<OptionValues<S>>;
  /**
   * Its share of an account's removal: the delete ops for the rows it keeps for `user` (a bare JID). They
   * commit with the account row in ONE transaction, on a running server and with the server stopped (CLI on
   * the data directory), and even where the module is not configured on the account's host (rows left from
   * when it was). Deletes only: memory state is dropped on the user_removed hook.
   */
  removeUser?(data: DataContext<OptionValues<S>>, user: Jid): Op[] | Promise<Op[]>;
  start(ctx: ModuleContext<OptionValues<S>>): State | Promise<State>;
  /** Extra cleanup; what was registered through ctx is released without it. */
  stop?(ctx: ModuleContext<OptionValues<S>>, state: State): void | Promise<void>;
}

/** Identity function that gives a module definition its types. */
export function defineModule<S extends OptionSchema, State = void>(def: ModuleDefinition<S, State>): ModuleDefinition<S, State> {
  return def;
}
