// The `auth` section (top level, and per host under host_config.<host>.auth): which provider a host uses
// and how the external program runs. Errors name the YAML path and say what to fix.
import { accessSync, constants } from 'node:fs';
import type { AuthConfig } from '../config/types.js';

const KEYS = new Set(['method', 'program', 'program_args', 'pool_size', 'timeout', 'cache_ttl']);

export const DEFAULT_AUTH: AuthConfig = { method: 'internal', program_args: [], pool_size: 1, timeout: 5, cache_ttl: 0 };

interface Checkers {
  fail: (p: string, problem: string) => never;
  abs: (p: string) => string;
}

/**
 * Parse one auth mapping at YAML path `p`; keys it leaves out come from `base` (the top-level section
 * for a host override). `hosts` are the hosts it applies to.
 */
export function parseAuthConfig(raw: unknown, p: string, c: Checkers, hosts: string[], base: AuthConfig = DEFAULT_AUTH): AuthConfig {
  const { fail, abs } = c;
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail(p, 'must be a mapping such as {method: internal} or {method: external, program: /path/to/script}');
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!KEYS.has(key)) fail(`${p}.${key}`, `unknown option (known: ${[...KEYS].join(', ')})`);
  const int = (key: 'pool_size' | 'timeout' | 'cache_ttl', min: number, max: number): number => {
    const v = r[key];
    if (v === undefined) return base[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(`${p}.${key}`, `must be an integer from ${min} to ${max}`);
    return v;
  };

  const method = r.method ?? base.method;
  if (typeof method !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(method)) {
    fail(`${p}.method`, 'must be internal, external, or the name of a provider a module registers (lowercase letters, digits, - and _)');
  }
  let program = base.program;
  if (r.program !== undefined) {
    if (typeof r.program !== 'string' || r.program === '') fail(`${p}.program`, 'must be the path of the extauth program');
    // A bare name is looked up in PATH when spawned; anything with a slash is a file relative to the config.
    program = (r.program as string).includes('/') ? abs(r.program as string) : (r.program as string);
    if (program.includes('/')) {
      try {
        accessSync(program, constants.X_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        fail(`${p}.program`, code === 'ENOENT'
          ? `${program} does not exist`
          : `${program} is not executable (chmod +x it, or run it through its interpreter: program: /usr/bin/python3, program_args: [${program}])`);
      }
    }
  }
  let program_args = base.program_args;
  if (r.program_args !== undefined) {
    if (!Array.isArray(r.program_args) || r.program_args.some((a) => typeof a !== 'string' && typeof a !== 'number')) {
      fail(`${p}.program_args`, 'must be a list of arguments (strings)');
    }
    program_args = (r.program_args as unknown[]).map(String);
  }
  if (method === 'external') {
    if (!program) fail(`${p}.program`, 'is required with method: external (the extauth program to run)');
    // The protocol separates fields with ':' (an IPv6-literal host cannot be sent).
    const bad = hosts.find((h) => h.includes(':'));
    if (bad) fail(`${p}.method`, `external cannot serve ${bad}: the extauth protocol cannot carry a ':' in the server name`);
  }
  return {
    method: method as string,
    ...(program !== undefined ? { program } : {}),
    program_args,
    pool_size: int('pool_size', 1, 64),
    timeout: int('timeout', 1, 300),
    cache_ttl: int('cache_ttl', 0, 86_400),
  };
}
