// Every configuration value can come from the environment (containers, orchestrators): XMPPD_<PATH>=<YAML value>,
// `__` between levels (XMPPD_CLUSTER__NODE=n1, XMPPD_HOSTS='[a.example, b.example]', XMPPD_LISTEN__0__PORT=5222),
// applied over the file (or the embedded default) before validation; an error in such a value names the variable.
import { parse } from 'yaml';
import { ConfigError } from './config-error.js';

export const ENV_PREFIX = 'XMPPD_';
/** Variables with the prefix that are not configuration: the file itself, the CLI's stack traces, a worker's index, test tools. */
const NOT_CONFIG = /^XMPPD_(CONFIG|DEBUG|ADMIN|WORKER_INDEX|TEST_.*|FUZZ_.*|CRASH_.*|BENCH_.*)$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface EnvOverride { variable: string; path: string }

/** The YAML path an override sets, as errors print it: cluster.node, listen[0].port. */
function yamlPath(segments: (string | number)[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

/**
 * `raw` with every XMPPD_* variable of `env` whose first level is a top-level option (`known`) applied; the
 * others are returned as `ignored` (the caller warns). Keys match the existing ones whatever their case.
 */
export function applyEnv(raw: Obj, file: string, known: ReadonlySet<string>, env: NodeJS.ProcessEnv = process.env): { raw: Obj; applied: EnvOverride[]; ignored: string[] } {
  const out: Obj = structuredClone(raw);
  const applied: EnvOverride[] = [];
  const ignored: string[] = [];
  // Sorted: a deterministic result when two variables touch the same place (the longer path wins).
  for (const variable of Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX)).sort()) {
    if (NOT_CONFIG.test(variable)) continue;
    const names = variable.slice(ENV_PREFIX.length).split('__').map((s) => s.toLowerCase());
    if (!known.has(names[0]!)) {
      ignored.push(variable);
      continue;
    }
    if (names.some((n) => n === '')) throw new ConfigError(file, '', `the environment variable ${variable} has an empty level (write XMPPD_A__B)`);
    let value: unknown;
    try {
      value = parse(env[variable] ?? '');
    } catch (err) {
      throw new ConfigError(file, names.join('.'), `the environment variable ${variable} is not a YAML value: ${(err as Error).message.split('\n')[0]}`);
    }
    const segments: (string | number)[] = [];
    let node: unknown = out;
    for (const [i, name] of names.entries()) {
      const last = i === names.length - 1;
      let key: string | number;
      if (Array.isArray(node)) {
        if (!/^\d+$/.test(name)) throw new ConfigError(file, yamlPath(segments), `is a list: the environment variable ${variable} must give an index there (such as __0__)`);
        key = Number(name);
        if (key > node.length) throw new ConfigError(file, yamlPath(segments), `has ${node.length} entries: the environment variable ${variable} can set index ${node.length} at most`);
      } else if (isObj(node)) {
        // the existing spelling of the key (host names, module names keep theirs)
        key = Object.keys(node).find((k) => k.toLowerCase() === name) ?? name;
      } else {
        throw new ConfigError(file, yamlPath(segments), `is not a mapping or a list: the environment variable ${variable} cannot set a value inside it`);
      }
      segments.push(key);
      const container = node as Obj & unknown[];
      if (last) {
        container[key as never] = value as never;
      } else {
        if (container[key as never] === undefined || container[key as never] === null) container[key as never] = (/^\d+$/.test(names[i + 1]!) ? [] : {}) as never;
        node = container[key as never];
      }
    }
    applied.push({ variable, path: yamlPath(segments) });
  }
  return { raw: out, applied, ignored };
}

/**
 * Build a configuration from `raw` with the environment applied; a validation error at (or under) a path an
 * environment variable set says so, since the file does not show that value.
 */
export function buildWithEnv<T>(raw: Obj, file: string, known: ReadonlySet<string>, build: (raw: Obj) => T, env: NodeJS.ProcessEnv = process.env): T {
  const { raw: merged, applied } = applyEnv(raw, file, known, env);
  try {
    return build(merged);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const by = applied.filter((a) => err.yamlPath === a.path || err.yamlPath.startsWith(`${a.path}.`) || err.yamlPath.startsWith(`${a.path}[`)).pop();
    if (!by) throw err;
    throw new ConfigError(err.file, err.yamlPath, `${err.problem} (set by the environment variable ${by.variable})`);
  }
}

/** XMPPD_* variables that set nothing (their first level is not an option): worth a warning, they look like typos. */
export function ignoredEnv(known: ReadonlySet<string>, env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX) && !NOT_CONFIG.test(k) && !known.has(k.slice(ENV_PREFIX.length).split('__')[0]!.toLowerCase())).sort();
}
