// The limits the data modules put on what a user stores (vcard.max_size, private.max_size,
// roster.max_items, offline.max_messages), applied to imported data too. Read without importing modules/:
// the module's definition comes from the running module manager (bundled or plugin) or, with the server
// stopped, from the definitions the CLI hands in; its options are the running ones, else config.modules.<name>,
// else the module's defaults.
import type { Core } from '../core.js';
import type { ModuleManager } from '../module-runtime/module-manager.js';
import type { ModuleDefinition } from '../module-runtime/module-definition.js';
import { resolveOptions } from '../module-runtime/options.js';

export interface DataLimits {
  vcardMaxSize?: number;
  privateMaxSize?: number;
  rosterMaxItems?: number;
  offlineMaxMessages?: number;
}

type Source = { modules?: ModuleManager; definitions?: Record<string, ModuleDefinition<any, any>> };

async function optionOf(core: Core, src: Source, module: string, option: string): Promise<number | undefined> {
  const running = src.modules?.current(module);
  const def = running?.def ?? src.definitions?.[module] ?? (src.modules ? await src.modules.resolve(module).catch(() => undefined) : undefined);
  const raw = running?.rawOptions ?? core.config.modules[module] ?? {};
  if (!def) {
    const v = raw[option];
    return typeof v === 'number' ? v : undefined; // no definition to take a default from: only an explicit value
  }
  try {
    const v = (resolveOptions(def.options, raw, `modules.${module}`) as Record<string, unknown>)[option];
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined; // an invalid option fails the module's own start; nothing to apply here
  }
}

export async function dataLimits(core: Core, src: Source): Promise<DataLimits> {
  const [vcardMaxSize, privateMaxSize, rosterMaxItems, offlineMaxMessages] = await Promise.all([
    optionOf(core, src, 'vcard', 'max_size'),
    optionOf(core, src, 'private', 'max_size'),
    optionOf(core, src, 'roster', 'max_items'),
    optionOf(core, src, 'offline', 'max_messages'),
  ]);
  return { vcardMaxSize, privateMaxSize, rosterMaxItems, offlineMaxMessages };
}
