// Per-host module sets (ejabberd's host_config.<host>.modules): which modules run on each host and with
// which options, from the global `modules` section and each host's additions, overrides and removals.
import type { ServerConfig } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `host_config.<host>.modules`: a mapping from a module name to
 *   false          - the module does not run on this host;
 *   {} / null      - the module runs on this host (with the global options if it is also global);
 *   { opt: value } - these options replace the global ones of the same name on this host only.
 * A module listed only here runs only on this host.
 */
export function parseHostModules(raw: unknown, path: string, fail: (p: string, problem: string) => never): Record<string, Obj | false> {
  if (!isObj(raw)) fail(path, 'must be a mapping from a module name to its options, or false to remove it on this host');
  const out: Record<string, Obj | false> = {};
  for (const [name, v] of Object.entries(raw as Obj)) {
    if (v === false) out[name] = false;
    else if (v === null || v === undefined) out[name] = {};
    else if (isObj(v)) out[name] = v;
    else fail(`${path}.${name}`, 'must be a mapping of options, empty, or false to remove the module on this host');
  }
  return out;
}

/** One module on one host: its raw options and the YAML path that set them (for errors). */
export interface HostModule { options: Obj; path: string }

/** The modules of one host in start order (global file order, then those added by the host). */
export function modulesOfHost(config: Pick<ServerConfig, 'modules' | 'host_config'>, host: string): Map<string, HostModule> {
  const own = config.host_config[host]?.modules ?? {};
  const out = new Map<string, HostModule>();
  for (const [name, options] of Object.entries(config.modules)) {
    const o = own[name];
    if (o === false) continue;
    if (o === undefined) out.set(name, { options, path: `modules.${name}` });
    else out.set(name, { options: { ...options, ...o }, path: `host_config.${host}.modules.${name}` });
  }
  for (const [name, o] of Object.entries(own)) {
    if (o !== false && !(name in config.modules)) out.set(name, { options: o, path: `host_config.${host}.modules.${name}` });
  }
  return out;
}

/** Every module with the hosts it runs on: name -> host -> options. */
export function moduleHosts(config: Pick<ServerConfig, 'modules' | 'host_config' | 'hosts'>): Map<string, Map<string, HostModule>> {
  const out = new Map<string, Map<string, HostModule>>();
  for (const host of config.hosts) {
    for (const [name, hm] of modulesOfHost(config, host)) {
      let m = out.get(name);
      if (!m) out.set(name, (m = new Map()));
      m.set(host, hm);
    }
  }
  return out;
}

/** The YAML path to blame when `dep`, required by a module on `host`, is missing there. */
export function missingDependency(config: Pick<ServerConfig, 'modules' | 'host_config'>, host: string, name: string, dep: string, at: string): string {
  if (config.host_config[host]?.modules?.[dep] === false) {
    return `host_config.${host}.modules.${dep}: removing "${dep}" on ${host} breaks module "${name}" (${at}), which requires it there`;
  }
  return `${at}: requires module "${dep}", which is not enabled on ${host}`;
}
