// `npm run bench` (no --server): the performance table of issue 15. xmppd, ejabberd 23.01 and Prosody 0.12 from
// Debian through the shared harness (one run-bench.js run per server, TLS mode and repetition, interleaved), then
// the fan-out / transport scripts (muc-fanout, pep-fanout, websocket, s2s*) per server; prints median [min-max],
// the ratios to xmppd and the issue's targets as a markdown table (stdout + --out DIR/latest.md, rows as JSON).
//
//   npm run bench                          # everything: 3 reps, plain TCP and STARTTLS, 50,000 users (ETA printed)
//   npm run bench -- --reps 1              # one repetition (about a third of the time)
//   npm run bench -- --quick               # smoke run: 2,000 users, 1 rep, short phases (results/quick.md)
//   npm run bench -- --only xmppd --tls 0  # a subset of servers / TLS modes
//   npm run bench -- --report FILE.jsonl   # render the table again from a finished run's rows
//   npm run bench -- --dry-run             # the plan and its time estimate only
//   npm run bench -- --server xmppd ...    # ONE run of one server instead (run-bench.js; --server X --help)
//
// Options: --reps N (3), --tls 0,1, --only|--servers LIST (xmppd,ejabberd,prosody), --quick, --users N (50000),
// --idle-steps LIST (10000,50000), --big-idle-reps N (reps that include the largest idle step, default 1),
// --big-idle-servers LIST|all (servers that take the largest step, default xmppd: the targets are xmppd's, and the
// others then need only 10,000 accounts; `all` adds ~10 min and ~30 min of first-time account creation),
// --rate R (fixed-rate phase, 2000), --ports xmppd=P,ejabberd=P,prosody=P (27222/25222/26222),
// --workdir DIR ($TMPDIR/xmppd-bench), --out DIR (test/bench/results), --session ID, --no-c2s, --no-fanout,
// --fanout-reps N (reps that run the fan-out scripts, default 1), --fanout-timeout S (900), --fanout-dir DIR (where
// the scripts are, default test/bench), --timeout S (per c2s run, 2400), --verbose (child output on stderr), --no-build.
// Any other option goes to every run-bench.js / run.sh run (e.g. --online 1000).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTable } from './table-report.mjs';
import { planJobs, estimateSeconds, fmtDuration } from './table-plan.mjs';
import { maxSessions } from './many-sockets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const say = (...m) => process.stderr.write(`[table ${new Date().toISOString().slice(11, 19)}] ${m.join(' ')}\n`);
const die = (m) => { say(`error: ${m}`); process.exit(1); };

// ------------------------------------------------------------------ arguments
const argv = process.argv.slice(2);
const o = {
  reps: 3, fanoutReps: 1, tls: [0, 1], servers: ['xmppd', 'ejabberd', 'prosody'], quick: false, users: 0, idleSteps: '', bigIdleReps: 1,
  bigIdleServers: ['xmppd'],
  rate: 2000, ports: { xmppd: 27222, ejabberd: 25222, prosody: 26222 }, workdir: process.env.BENCH_WORKDIR || join(tmpdir(), 'xmppd-bench'),
  out: join(HERE, 'results'), session: process.env.BENCH_SESSION || '', c2s: true, fanout: true, fanoutTimeout: 900, timeout: 2400,
  verbose: false, build: true, report: '', dryRun: false, fanoutDir: HERE,
};
const pass = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], next = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--reps': o.reps = Number(next()); break;
    case '--fanout-reps': o.fanoutReps = Number(next()); break;
    case '--tls': o.tls = next().split(',').map(Number); break;
    case '--only': case '--servers': o.servers = next().split(',').filter(Boolean); break;
    case '--quick': o.quick = true; break;
    case '--users': o.users = Number(next()); break;
    case '--idle-steps': o.idleSteps = next(); break;
    case '--big-idle-reps': o.bigIdleReps = Number(next()); break;
    case '--big-idle-servers': { const v = next(); o.bigIdleServers = v === 'all' ? ['xmppd', 'ejabberd', 'prosody'] : v.split(','); break; }
    case '--rate': o.rate = Number(next()); break;
    case '--ports': for (const kv of next().split(',')) { const [k, v] = kv.split('='); o.ports[k] = Number(v); } break;
    case '--workdir': o.workdir = resolve(next()); break;
    case '--out': o.out = resolve(next()); break;
    case '--session': o.session = next(); break;
    case '--no-c2s': o.c2s = false; break;
    case '--no-fanout': o.fanout = false; break;
    case '--fanout-timeout': o.fanoutTimeout = Number(next()); break;
    case '--fanout-dir': o.fanoutDir = resolve(next()); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--verbose': o.verbose = true; break;
    case '--no-build': o.build = false; break;
    case '--report': o.report = resolve(next()); break;
    case '--dry-run': o.dryRun = true; break;
    case '-h': case '--help':
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l, i, a) => a.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    default: pass.push(a);
  }
}
for (const s of o.servers) if (!(s in o.ports)) die(`unknown server ${s} (xmppd, ejabberd, prosody)`);
if (!Number.isInteger(o.reps) || o.reps < 1) die('--reps must be >= 1');
if (o.tls.some((t) => t !== 0 && t !== 1)) die('--tls takes 0, 1 or 0,1');
// ------------------------------------------------------------------ report only
if (o.report) {
  const rows = readFileSync(o.report, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const { md } = renderTable(rows, { command: rows.find((r) => r.kind === 'meta')?.command || 'npm run bench' });
  process.stdout.write(md + '\n');
  process.exit(0);
}

const usersGiven = o.users > 0;
if (o.quick) {
  // ejabberd's and Prosody's run dirs remember one account count: quick runs keep theirs apart from full runs
  o.workdir = join(o.workdir, 'quick');
  if (!argv.includes('--reps')) o.reps = 1;
  o.users ||= 2000;
  o.idleSteps ||= '1000,2000';
  o.bigIdleServers = ['xmppd', 'ejabberd', 'prosody'];
  for (const [k, v] of [['--login-count', '2000'], ['--login-duration', '5'], ['--login-pool', '1000']]) if (!pass.includes(k)) pass.push(k, v);
}
o.users ||= 50000;
o.idleSteps ||= '10000,50000';
let idleSteps = o.idleSteps.split(',').map(Number);
if (Math.max(...idleSteps) > o.users) die(`--users ${o.users} is below the largest idle step ${Math.max(...idleSteps)}`);
// One generator process and one server process hold the largest step: without a way to raise the hard
// open-files limit (a container without CAP_SYS_RESOURCE), measure the largest step that fits, and say so.
const notes = [];
{
  const want = Math.max(...idleSteps), { max, hard } = maxSessions(want);
  if (want > max) {
    const note = `idle step ${want.toLocaleString('en-US')} does not fit: the hard open-files limit is ${hard} and cannot be raised here `
      + `(no CAP_SYS_RESOURCE); measured at ${max.toLocaleString('en-US')} instead`;
    idleSteps = [...new Set(idleSteps.map((n) => Math.min(n, max)))];
    notes.push(note);
    say(`WARNING: ${note}`);
    if (!usersGiven) o.users = Math.max(o.quick ? 2000 : 10000, ...idleSteps);
  }
}
const stem = o.quick ? 'quick' : 'latest';
/** Accounts per server: enough for its largest idle step (and at least 10,000, the harness's default, or --users). */
const usersFor = (s) => (o.bigIdleServers.includes(s) || idleSteps.length < 2 ? o.users
  : Math.min(o.users, Math.max(10000, ...idleSteps.slice(0, -1))));

// ------------------------------------------------------------------ which servers / scripts exist here
const missing = {};
if (!existsSync('/usr/bin/erl') || !existsSync('/usr/sbin/ejabberdctl')) missing.ejabberd = 'ejabberd (Debian package) is not installed';
if (!existsSync('/usr/bin/prosody')) missing.prosody = 'prosody (Debian package) is not installed';
// The s2s benchmark's file name is not fixed: every test/bench/s2s*.mjs (listed as missing when there is none).
const s2sScripts = readdirSync(o.fanoutDir).filter((n) => /^s2s.*\.mjs$/.test(n)).sort();
const FANOUT_SCRIPTS = ['muc-fanout.mjs', 'pep-fanout.mjs', 'websocket.mjs', ...(s2sScripts.length ? s2sScripts : ['s2s.mjs'])];
/** Why a fan-out script cannot run in table mode, or '' if it can. */
function fanoutUnfit(script) {
  const p = join(o.fanoutDir, script);
  if (!existsSync(p)) return `${script} is not there`;
  const src = readFileSync(p, 'utf8');
  if (!src.includes('--json') && !/['"]json['"]/.test(src)) return `${script} has no --server/--json mode yet`;
  return '';
}

// ------------------------------------------------------------------ plan
const session = o.session || `table-${new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}${o.quick ? '-quick' : ''}`;
const jobs = planJobs({ ...o, idleSteps, fanoutScripts: FANOUT_SCRIPTS });
const harnessRun = join(o.workdir, 'harness', 'run');
const provisioned = (s) => {
  if (s === 'xmppd') return existsSync(join(o.workdir, 'cache', `bench.local-u${usersFor(s)}-i4096`, 'data/db'));
  const dir = join(harnessRun, `${s}-${o.ports[s]}`);
  return existsSync(join(dir, 'srv')) && readFileSync(join(dir, 'provisioned'), 'utf8').trim() === String(usersFor(s))
    && (s !== 'prosody' || (existsSync(join(dir, 'iterations')) && readFileSync(join(dir, 'iterations'), 'utf8').trim() === '4096'));
};
const newEstCtx = () => ({ usersFor, quick: o.quick, provisioned: Object.fromEntries(o.servers.map((s) => { try { return [s, provisioned(s)]; } catch { return [s, false]; } })) });
const unfitJob = (f) => f.kind === 'fanout' && fanoutUnfit(f.script);
const estCtx = newEstCtx();
for (const j of jobs) j.est = estimateSeconds(j, estCtx, unfitJob);
const total = jobs.reduce((a, j) => a + j.est, 0);
const oneRep = () => { const c = newEstCtx(); return planJobs({ ...o, reps: 1, idleSteps, fanoutScripts: FANOUT_SCRIPTS }).reduce((a, j) => a + estimateSeconds(j, c, unfitJob), 0); };
say(`session ${session}: ${o.reps} rep(s) x ${o.servers.join('/')} x tls ${o.tls.join(',')}, idle steps ${idleSteps.join(',')} `
  + `(the largest for ${o.bigIdleServers.filter((v) => o.servers.includes(v)).join('/') || 'none'} in ${Math.min(o.bigIdleReps, o.reps)} rep(s)), `
  + `accounts ${o.servers.map((v) => `${v} ${usersFor(v)}`).join(', ')}, fixed rate ${o.rate}/s; ${jobs.length} jobs`);
say(`estimated ${fmtDuration(total)} (done ~${new Date(Date.now() + total * 1000).toISOString().slice(11, 16)} UTC)`
  + `${estCtx.provisionS ? `, of which ~${fmtDuration(estCtx.provisionS)} making accounts (first run in this work dir only)` : ''}`
  + `${total > 45 * 60 && o.reps > 1 ? `; --reps 1: ~${fmtDuration(oneRep())}` : ''}`);
for (const [s, why] of Object.entries(missing)) if (o.servers.includes(s)) say(`SKIP ${s}: ${why}`);
for (const s of o.servers) if (!missing[s] && !estCtx.provisioned[s] && o.c2s) say(`${s}: ${usersFor(s)} accounts are made first (once per work dir), included in the estimate`);
if (o.dryRun) { for (const j of jobs) say(`  ${j.name} ~${fmtDuration(j.est)}`); process.exit(0); }

// ------------------------------------------------------------------ run
const runDir = join(o.out, 'runs');
mkdirSync(runDir, { recursive: true });
const logDir = join(o.workdir, 'table-logs', session);
mkdirSync(logDir, { recursive: true });
const rowsFile = join(runDir, `${session}.jsonl`);
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
const record = (r) => appendFileSync(rowsFile, JSON.stringify(r) + '\n');
record({ kind: 'meta', session, command, started: new Date().toISOString(), reps: o.reps, tls: o.tls, servers: o.servers, users: Object.fromEntries(o.servers.map((v) => [v, usersFor(v)])),
  idle_steps: idleSteps, notes, rate: o.rate, host: { loadavg: readFileSync('/proc/loadavg', 'utf8').trim(), node: process.version } });

let current = null, stopping = false;
const stop = (sig) => { say(`${sig}: stopping ${current ? current.name : ''}`); if (current?.child) current.child.kill('SIGTERM'); process.exitCode = 130; stopping = true; };
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

/** Runs a command; resolves { rc, out } (stdout text), stderr to the log file (and to ours with --verbose). */
function run(job, cmd, args, env, timeoutS) {
  return new Promise((res) => {
    const log = createWriteStream(job.log);
    log.write(`$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    job.child = child;
    let out = '';
    child.stdout.on('data', (d) => { out += d; log.write(d); });
    child.stderr.on('data', (d) => { log.write(d); if (o.verbose) process.stderr.write(d); });
    const timer = setTimeout(() => { say(`${job.name}: timeout after ${timeoutS} s, stopping it`); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 30000).unref(); }, timeoutS * 1000);
    child.on('close', (code, sig) => { clearTimeout(timer); log.end(); res({ rc: code ?? (sig ? 128 : 1), out }); });
  });
}
const lastJson = (out) => { const l = out.trim().split('\n').filter((x) => x.trim().startsWith('{')).pop(); try { return l ? JSON.parse(l) : null; } catch { return null; } };
const tail = (file, n = 12) => { try { return readFileSync(file, 'utf8').trim().split('\n').slice(-n).map((l) => `    ${l}`).join('\n'); } catch { return ''; } };

const t0 = Date.now();
let spentEst = 0, spentReal = 0, built = !o.build;
for (let k = 0; k < jobs.length && !stopping; k++) {
  const job = jobs[k];
  current = job;
  job.log = join(logDir, `${String(k + 1).padStart(2, '0')}-${job.name.replace(/[^\w.-]+/g, '_')}.log`);
  const left = jobs.slice(k).reduce((a, j) => a + j.est, 0) * (spentEst > 60 ? Math.min(3, Math.max(0.5, spentReal / spentEst)) : 1);
  say(`[${k + 1}/${jobs.length}] ${job.name} (~${fmtDuration(job.est)}); elapsed ${fmtDuration((Date.now() - t0) / 1000)}, `
    + `left ~${fmtDuration(left)} (ETA ${new Date(Date.now() + left * 1000).toISOString().slice(11, 16)} UTC)`);
  const base = { kind: job.kind, rep: job.rep, server: job.server, tls: job.tls ?? null, script: job.script, session };
  const skipWhy = missing[job.server] || (job.kind === 'fanout' ? fanoutUnfit(job.script) : '');
  if (skipWhy) { say(`  skipped: ${skipWhy}`); record({ ...base, skipped: skipWhy }); continue; }
  const ts = Date.now();
  if (job.kind === 'c2s') {
    const args = [join(HERE, 'run-bench.js'), '--server', job.server, '--port', String(o.ports[job.server]), '--workdir', o.workdir,
      '--tls', String(job.tls), '--session', session, '--label', `rep${job.rep}`, '--users', String(usersFor(job.server)),
      '--phases', job.phases, '--idle-steps', job.idleSteps, '--rate', String(o.rate), ...(built ? ['--no-build'] : []), ...pass];
    const { rc, out } = await run(job, process.execPath, args, {}, o.timeout);
    if (job.server === 'xmppd') built = true;
    const row = lastJson(out);
    if (row) {
      record({ ...base, rc, row });
      const f = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : '-');
      const idle = (row.phases?.idle?.steps || []).map((s) => `${s.n}:${f(s.kib_per_conn, 1)}`).join(' ');
      say(`  ${job.server} tls=${job.tls}: SCRAM ${f(row.login_scram_per_s)}/s ${f(row.login_scram_cpu_ms, 2)} ms, PLAIN ${f(row.login_plain_per_s)}/s, `
        + `${f(row.msg_per_s)} msg/s, fixed p99 ${f(row.fixed_lat_p99_ms, 1)} ms, idle KiB ${idle || '-'}${rc ? ` (rc ${rc}: phase errors, see ${job.log})` : ''}`);
    } else {
      record({ ...base, rc, error: `no result (rc ${rc}); log ${job.log}` });
      say(`  FAILED rc=${rc}; last lines of ${job.log}:\n${tail(job.log)}`);
    }
  } else {
    const env = { BENCH_WORKDIR: join(o.workdir, 'fanout'), BENCH_PORT_BASE: String(o.ports[job.server] + 10), BENCH_SESSION: session,
      ...(o.quick ? { BENCH_QUICK: '1' } : {}) };
    const { rc, out } = await run(job, process.execPath, [join(o.fanoutDir, job.script), '--server', job.server, '--json'], env, o.fanoutTimeout);
    const res = lastJson(out);
    if (res && !res.skipped && !res.error && rc === 0) { record({ ...base, rc, result: res }); say(`  ${JSON.stringify(res)}`); }
    else {
      const why = res?.skipped || res?.error || `rc ${rc} without a JSON line; log ${job.log}`;
      record({ ...base, rc, ...(res?.skipped ? { skipped: why } : { error: why }), result: res || undefined });
      say(`  ${res?.skipped ? 'skipped' : 'FAILED'}: ${why}${res ? '' : `\n${tail(job.log, 6)}`}`);
    }
  }
  const took = (Date.now() - ts) / 1000;
  spentEst += job.est; spentReal += took;
}
current = null;

// ------------------------------------------------------------------ table
const rows = readFileSync(rowsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const { md, summary } = renderTable(rows, { command });
writeFileSync(join(o.out, `${stem}.md`), md + '\n');
writeFileSync(join(o.out, `${stem}.json`), JSON.stringify({ session, command, finished: new Date().toISOString(), summary, rows }, null, 1) + '\n');
process.stdout.write(md + '\n');
say(`done in ${fmtDuration((Date.now() - t0) / 1000)}; table ${join(o.out, `${stem}.md`)}, rows ${rowsFile}, logs ${logDir}`);
process.exit(process.exitCode || 0);
