// The one static check of a configuration, run by `xmppd start` before anything starts and by both check
// verbs (`xmppd check-config`, `xmppd config check`): the file, every key at every level, and the modules'
// options and dependencies, with every problem located in the file.
import { resolve } from 'node:path';
import type { ModuleDefinition } from '../module-runtime/module-definition.js';
import { buildConfig, readConfigFile } from './load-config.js';
import { checkModuleOptions } from './module-options-check.js';
import { resolvePath } from './yaml-path.js';
import type { ConfigProblem } from './config-problem.js';
import type { ServerConfig } from './types.js';
import type { YamlSource } from './yaml-source.js';

export interface CheckResult {
  /** Absolute path of the file; '' for the embedded default. */
  file: string;
  /** The config; with errors, defaults stand in for the bad values (good for further checks, never to run). */
  config: ServerConfig | null;
  problems: ConfigProblem[];
  /** The parsed file and its plain value, to locate further findings (certificates, DNS). */
  source?: YamlSource;
  raw?: unknown;
}

/** `file` undefined: the embedded default. */
export async function checkConfig(file: string | undefined, bundled: Record<string, ModuleDefinition<any, any>>): Promise<CheckResult> {
  if (file === undefined) {
    const config = buildConfig({});
    const problems = (await checkModuleOptions(config, bundled)).map((m): ConfigProblem => ({ severity: 'error', file: '', ...m }));
    return { file: '', config, problems };
  }
  const path = resolve(file);
  const { config, problems, source, raw } = readConfigFile(path);
  if (config) {
    for (const m of await checkModuleOptions(config, bundled)) {
      const { segments, rest } = resolvePath(raw, m.yamlPath);
      const at = source?.locate(segments, rest !== '' || m.problem.startsWith('unknown') ? 'key' : 'value');
      problems.push({ severity: 'error', file: path, ...m, ...(at ? { at } : {}) });
    }
  }
  problems.sort((a, b) => (a.at?.line ?? 0) - (b.at?.line ?? 0) || (a.at?.column ?? 0) - (b.at?.column ?? 0));
  return { file: path, config, problems, ...(source ? { source } : {}), ...(raw !== undefined ? { raw } : {}) };
}
