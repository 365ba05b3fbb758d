// The job list of `npm run bench` (bench-table.mjs) and a time estimate per job, so a run can say up front how
// long it takes. Rates below are rough figures of this 2-core machine (test/bench/RESULTS.md, the harness README).

const C2S_PHASES = { 0: 'login_scram,throughput,fixedrate,idle', 1: 'login_scram,login_plain,throughput,fixedrate,idle' };

/**
 * Repetitions are interleaved: every rep runs each TLS mode on every server (order reversed on even reps), then
 * each fan-out script on every server (in the first `fanoutReps` reps). Only the first `bigIdleReps` reps of the
 * `bigIdleServers` include the largest idle step.
 */
export function planJobs(o) {
  const jobs = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    const order = rep % 2 ? o.servers : [...o.servers].reverse();
    if (o.c2s) {
      for (const tls of o.tls) {
        for (const server of order) {
          const big = rep <= o.bigIdleReps && o.bigIdleServers.includes(server);
          const steps = big || o.idleSteps.length < 2 ? o.idleSteps : o.idleSteps.slice(0, -1);
          jobs.push({ kind: 'c2s', rep, server, tls, phases: C2S_PHASES[tls], idleSteps: steps.join(','),
            name: `rep ${rep} ${server} c2s ${tls ? 'STARTTLS' : 'plain'}${steps.length < o.idleSteps.length ? '' : ` (idle to ${Math.max(...steps)})`}` });
        }
      }
    }
    if (o.fanout && rep <= o.fanoutReps) for (const script of o.fanoutScripts) for (const server of order) jobs.push({ kind: 'fanout', rep, server, script, name: `rep ${rep} ${server} ${script}` });
  }
  return jobs;
}

// logins/s [plain TCP, STARTTLS]; PLAIN at 4096 iterations
const RATE = {
  xmppd: { scram: [900, 500], plain: [400, 350] },
  ejabberd: { scram: [800, 440], plain: [120, 105] },
  prosody: { scram: [280, 170], plain: [300, 220] },
};
const PROVISION_PER_S = { xmppd: 900, ejabberd: 70, prosody: 70 }; // IBR + first login: 48-100/s seen

/** Seconds one job is expected to take; `unfit(job)` true = it will be skipped. */
export function estimateSeconds(job, ctx, unfit) {
  if (unfit(job)) return 0;
  if (job.kind === 'fanout') return 90;
  const r = RATE[job.server], t = job.tls;
  const pool = ctx.quick ? 1000 : 2000, window = ctx.quick ? 5 : 10;
  let s = 15; // start, data dir copy, stop
  if (!ctx.provisioned[job.server]) {
    const n = ctx.usersFor(job.server), p = n / PROVISION_PER_S[job.server] + n * 0.0015; // accounts + the generator's SCRAM cache
    s += p; ctx.provisionS = (ctx.provisionS || 0) + p;
    ctx.provisioned[job.server] = true;
  }
  const phases = job.phases.split(',');
  if (phases.includes('login_scram')) s += pool / r.scram[t] + window + 3;
  if (phases.includes('login_plain')) s += pool / r.plain[t] + window + 3;
  if (phases.includes('throughput')) s += 1000 / r.scram[t] + 13;
  if (phases.includes('fixedrate')) s += 1000 / r.scram[t] + 13;
  if (phases.includes('idle')) {
    const steps = job.idleSteps.split(',').map(Number);
    s += 8 + 200 / r.scram[t] + 8 + Math.max(...steps) / r.scram[t] + 8 * steps.length + 3 + Math.max(...steps) / 5000;
  }
  return Math.round(s);
}

export function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
