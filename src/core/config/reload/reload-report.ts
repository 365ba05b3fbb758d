// What a config reload (SIGHUP, `xmppd config reload`, config.reload) did, or a dry run would do.
import type { RestartNeeded } from './config-diff.js';

export interface ReloadReport {
  /** The file that was re-read. */
  file: string;
  /** A dry run (config.check): validated and compared, nothing applied. */
  dry_run: boolean;
  /** true: every change that can be applied now is in effect (would be, on a dry run); false: nothing changed. */
  ok: boolean;
  /** Keys applied now ('s2s.<key>' per federation option, 'modules.<name>' per module). */
  applied: string[];
  /** Keys that differ but take effect only after a restart: the running values are kept. */
  restart_required: RestartNeeded[];
  modules: { started: string[]; reloaded: string[]; stopped: string[] };
  /** Why the reload was refused (each names the YAML path where there is one). */
  errors: string[];
}

export function emptyReport(file: string, dryRun: boolean): ReloadReport {
  return { file, dry_run: dryRun, ok: false, applied: [], restart_required: [], modules: { started: [], reloaded: [], stopped: [] }, errors: [] };
}

/** Human-readable lines for the CLI. */
export function formatReport(r: ReloadReport): string {
  const lines: string[] = [];
  const verb = r.dry_run ? 'would apply' : 'applied';
  if (!r.ok) {
    lines.push(`${r.file || '<config>'}: ${r.dry_run ? 'would be refused' : 'not applied, nothing changed'}:`);
    for (const e of r.errors) lines.push(`  error: ${e}`);
    return lines.join('\n');
  }
  if (!r.applied.length && !r.restart_required.length) return `${r.file}: no changes`;
  lines.push(`${r.file}: ${r.applied.length ? `${verb}: ${r.applied.join(', ')}` : 'nothing to apply now'}`);
  const m = r.modules;
  if (m.started.length) lines.push(`  modules started: ${m.started.join(', ')}`);
  if (m.reloaded.length) lines.push(`  modules reloaded: ${m.reloaded.join(', ')}`);
  if (m.stopped.length) lines.push(`  modules stopped: ${m.stopped.join(', ')}`);
  if (r.restart_required.length) {
    lines.push(`needs a restart (${r.dry_run ? 'would not be applied' : 'not applied; the running value is kept'}):`);
    for (const k of r.restart_required) lines.push(`  ${k.key}: ${k.reason}`);
  }
  return lines.join('\n');
}
