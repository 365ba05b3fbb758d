// A module's share of XEP-0227 portable data (ModuleDefinition.portable): the children of a <user> element
// it writes on export and reads on import. The core keeps the file format and the orchestration
// (src/core/portable); the module keeps its tables, its limits and its update rules.
import type { Element } from '@xmpp/xml';
import type { Jid } from '../jid.js';
import type { DataContext } from './data-context.js';

export interface PortableExport {
  /** Children of the user's <user> element (each declaring its namespace). */
  elements: Element[];
  /** Named figures added up into the export report (e.g. { vcards: 1 }). */
  counts?: Record<string, number>;
}

export interface PortableImport {
  /** Named figures added up into the import report (e.g. { rosterItems: 3 }). */
  counts?: Record<string, number>;
  /** Data left out because it is over the module's limits, by kind (reported with the option to change). */
  overLimit?: Record<string, number>;
  warnings?: string[];
}

export interface PortableSection<O = Record<string, unknown>> {
  /**
   * The <user> children it imports, as '{namespace}name'; '{}name' for an element in the XEP-0227
   * namespace itself (or none), e.g. '{}offline-messages'. Children no module claims are reported as ignored.
   */
  elements: string[];
  /** The data of one account as <user> children. */
  export(data: DataContext<O>, user: Jid): Promise<PortableExport>;
  /** Write the claimed children of one account's <user> (each a standalone copy, in file order). */
  import(data: DataContext<O>, user: Jid, elements: Element[]): Promise<PortableImport>;
}
