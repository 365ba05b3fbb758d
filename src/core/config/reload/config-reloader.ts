// Config reload (SIGHUP, `xmppd config reload`, the config.reload command): re-read the file the server
// started with, validate all of it, prepare every change, then apply all of it or none.
import { Counter } from 'prom-client';
import type { Core } from '../../core.js';
import type { ModuleManager } from '../../module-runtime/module-manager.js';
import { Acl } from '../../acl.js';
import { readConfigFile } from '../load-config.js';
import { formatProblem } from '../config-problem.js';
import type { ServerConfig } from '../types.js';
import { diffConfig, mergeConfig } from './config-diff.js';
import { ModulePlan, PlanError } from './module-plan.js';
import { emptyReport, type ReloadReport } from './reload-report.js';

export class ConfigReloader {
  /** Reloads run one at a time: each one diffs against what the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly counter: Counter<'result'>;

  constructor(private readonly core: Core, private readonly modules: ModuleManager) {
    this.counter = new Counter({
      name: 'xmppd_config_reloads_total', help: 'Configuration reloads by result (applied, refused)', labelNames: ['result'], registers: [core.metrics.registry],
    });
  }

  /** Reload (or, with dryRun, only validate and compare). Never throws: the report says what happened. */
  reload(opts: { dryRun?: boolean } = {}): Promise<ReloadReport> {
    const run = this.queue.then(() => this.run(opts.dryRun === true));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(dryRun: boolean): Promise<ReloadReport> {
    const old = this.core.config;
    const report = emptyReport(old.path, dryRun);
    if (!old.path) {
      report.errors.push('the server runs on the embedded default configuration: there is no file to re-read (start it with -c <file>)');
      return this.done(report);
    }
    // Every problem of the file, each with its line, as check-config shows them; with errors, the file is still
    // read as far as it goes (defaults in place of bad values) so that module problems are reported too.
    const { config: next, problems } = readConfigFile(old.path);
    report.errors.push(...problems.map((p) => formatProblem(p)));
    if (!next) return this.done(report);
    const diff = diffConfig(old, next);
    const merged = mergeConfig(old, next, diff);

    // Prepare everything that can fail before touching anything.
    const where = (problem: string) => `${old.path}: ${problem}`;
    let acl: Acl | undefined;
    try {
      acl = buildAcl(merged);
    } catch (err) {
      report.errors.push(where((err as Error).message));
    }
    let plan: ModulePlan | undefined;
    try {
      plan = await ModulePlan.prepare(this.modules, diff.modules, merged, !dryRun);
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      report.errors.push(...err.problems.map(where));
    }
    if (problems.length || !acl || !plan) return this.done(report);
    const fill = () => {
      report.applied = diff.hot;
      report.restart_required = diff.restart;
      report.modules = { started: plan!.started, reloaded: plan!.reloaded, stopped: plan!.stopped };
    };
    if (dryRun) {
      report.ok = true;
      fill();
      return this.done(report);
    }

    // Commit: one swap of the config and the ACL (readers look both up per use), then the module steps.
    const oldAcl = this.core.acl;
    this.core.config = merged;
    this.core.acl = acl;
    this.core.log.setLevel(merged.log_level);
    try {
      await plan.commit();
    } catch (err) {
      this.core.config = old;
      this.core.acl = oldAcl;
      this.core.log.setLevel(old.log_level);
      const unrestored = await plan.rollback();
      report.errors.push(`${(err as Error).message}; rolled back to the running configuration`, ...unrestored);
      return this.done(report);
    }
    report.ok = true;
    fill();
    return this.done(report);
  }

  private done(r: ReloadReport): ReloadReport {
    const log = this.core.log.child({ part: 'config' });
    if (r.dry_run) return r;
    this.counter.inc({ result: r.ok ? 'applied' : 'refused' });
    if (!r.ok) {
      log.error('configuration reload refused; nothing changed', { file: r.file, errors: r.errors });
      return r;
    }
    if (!r.applied.length && !r.restart_required.length) log.info('configuration reloaded: no changes', { file: r.file });
    else if (r.applied.length) log.info('configuration reloaded', { file: r.file, applied: r.applied, modules: r.modules });
    if (r.restart_required.length) {
      log.warn('configuration changes that need a restart were not applied; the running values are kept', { keys: r.restart_required.map((k) => k.key) });
    }
    return r;
  }
}

/** The new ACL; regular expressions are checked here (buildConfig keeps them as strings) so the path is named. */
function buildAcl(c: ServerConfig): Acl {
  for (const [name, spec] of Object.entries(c.acl)) {
    (spec.user_regexp ?? []).forEach((re, i) => {
      try {
        new RegExp(re);
      } catch (err) {
        throw new Error(`acl.${name}.user_regexp[${i}]: not a valid regular expression (${(err as Error).message})`);
      }
    });
  }
  return new Acl(c.acl, c.access_rules, c.host_config);
}
