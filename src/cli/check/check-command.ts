// What `xmppd check-config` and `xmppd config check` (check-verb.ts) run: the static check start runs (every
// key, module options and dependencies), then certificates and DNS as prosodyctl check does them.
import { checkConfig, type CheckResult } from '../../core/config/check-config.js';
import { errorsOf, formatProblem, type ConfigProblem } from '../../core/config/config-problem.js';
import { resolvePath } from '../../core/config/yaml-path.js';
import type { ModuleDefinition } from '../../core/module-runtime/module-definition.js';
import type { DnsClient } from '../../interface/s2s/s2s-resolver.js';
import { checkCertificates, serviceDomains } from './cert-check.js';
import { checkDns } from './dns-check.js';

export interface FullCheckOptions {
  /** false: no DNS lookups at all (--no-dns). */
  dns?: boolean;
  /** The resolver for the DNS part; default: s2s.dns_servers, else the system resolver. */
  resolver?: DnsClient;
  now?: number;
}

/** The static check plus certificates and DNS; the findings of the latter carry positions too. */
export async function fullCheck(file: string | undefined, bundled: Record<string, ModuleDefinition<any, any>>, opts: FullCheckOptions = {}): Promise<CheckResult> {
  const result = await checkConfig(file, bundled);
  const { config } = result;
  // Certificates and DNS of a config with errors would only report on stand-in defaults.
  if (!config || errorsOf(result.problems).length) return result;
  const place = (f: Omit<ConfigProblem, 'file' | 'at'>): ConfigProblem => {
    if (!result.source) return { ...f, file: result.file };
    const { segments, rest } = resolvePath(result.raw, f.yamlPath);
    const at = segments.length ? result.source.locate(segments, rest ? 'key' : 'value') : undefined;
    return { ...f, file: result.file, ...(at ? { at } : {}) };
  };
  result.problems.push(...checkCertificates(config, opts.now, serviceDomains(config, bundled)).map(place));
  if (opts.dns !== false) result.problems.push(...(await checkDns(config, opts.resolver)).map(place));
  return result;
}

/** The report as both verbs print it; `exit` is the process exit code. */
export function formatCheck(result: CheckResult): { stdout: string[]; stderr: string[]; exit: number } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (const p of result.problems) (p.severity === 'error' ? stderr : stdout).push(formatProblem(p, true));
  const errors = errorsOf(result.problems).length;
  const warnings = result.problems.filter((p) => p.severity === 'warning').length;
  const name = result.file || 'embedded default';
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (errors) {
    stderr.push(`${name}: ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}; the server would not start`);
    return { stdout, stderr, exit: 1 };
  }
  const c = result.config!;
  // Warnings are listed above; this line stays the same with or without them (scripts match it).
  stdout.push(`${name}: OK (hosts: ${c.hosts.join(', ')}; modules: ${Object.keys(c.modules).join(', ')})`);
  return { stdout, stderr, exit: 0 };
}

/** The report as data (for a --json output): one entry per finding, positions flattened. */
export function checkAsJson(result: CheckResult): Record<string, unknown> {
  const errors = errorsOf(result.problems).length;
  return {
    file: result.file || null,
    ok: errors === 0,
    errors,
    warnings: result.problems.filter((p) => p.severity === 'warning').length,
    problems: result.problems.map((p) => ({
      severity: p.severity, path: p.yamlPath, problem: p.problem,
      line: p.at?.line ?? null, column: p.at?.column ?? null, source: p.at?.source ?? null,
    })),
  };
}
