// The modules bundled with the server, by name (external ones load from module_paths).
import type { ModuleDefinition } from '../src/sdk.js';
import disco from './disco/index.js';
import ping from './ping/index.js';
import version from './version/index.js';
import time from './time/index.js';

export const BUNDLED_MODULES: Record<string, ModuleDefinition<any, any>> = {
  [disco.name]: disco,
  [ping.name]: ping,
  [version.name]: version,
  [time.name]: time,
};
