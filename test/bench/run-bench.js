#!/usr/bin/env node
// `npm run bench -- --server X [options]`: one load benchmark run of one server's c2s path with the shared
// harness (../shared/bench). Without --server, `npm run bench` runs the whole table instead (bench-table.mjs:
// xmppd, ejabberd and Prosody, interleaved repetitions, plain and STARTTLS, fan-out rows, ratios and targets).
// Builds if dist/ is stale, copies the harness to a work dir, writes a benchmark config, pre-provisions the
// accounts directly in the data dir (cached per user count), runs the harness's run.sh against xmppd
// (--server custom) and prints the JSON line plus a short summary. See test/bench/README.md.
//
//   npm run bench                                   # the whole table (see bench-table.mjs / test/bench/README.md)
//   npm run bench -- --server xmppd                 # xmppd, 10000 users, plain TCP, all phases but login_plain
//   npm run bench -- --server xmppd --tls 1 --phases throughput    # any run.sh option is passed through
//   npm run bench -- --server ejabberd              # the harness's own ejabberd (same work dir / results.jsonl)
//   npm run bench -- --server xmppd --cpu-prof --phases throughput # node --cpu-prof on the server; prints top self-time functions
//
// Own options (not passed to run.sh): --server xmppd|ejabberd|prosody|sink (default xmppd), --workdir DIR,
// --no-build, --reprovision, --keep-tmp, --cpu-prof, --default-modules (the module set of a config without `modules`),
// --iterations N (SCRAM iterations of xmppd's accounts and of Prosody's default_iteration_count, default 4096 =
// ejabberd's fixed count),
// --nats URL (run xmppd as a cluster node on that NATS, JetStream on), --workers N (N node processes, needs --nats),
// --server-cpus LIST (widen the server's CPU affinity from the harness's CPU 0, e.g. 0,1).
// Env: BENCH_HARNESS (harness dir, default <repo>/../shared/bench), BENCH_WORKDIR (default $TMPDIR/xmppd-bench),
//      BENCH_SESSION (session id, as in run.sh).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import {
  existsSync, mkdirSync, readdirSync, statSync, rmSync, cpSync, chmodSync, writeFileSync, readFileSync, renameSync, mkdtempSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { roomForSessions } from './many-sockets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
if (!process.argv.slice(2).includes('--server')) {
  await import('./bench-table.mjs'); // no --server: the whole table
  await new Promise(() => {}); // bench-table.mjs exits by itself
}
const REPO = resolve(HERE, '../..');
const HARNESS_SRC = resolve(process.env.BENCH_HARNESS || defaultHarness());
/** ../shared/bench beside the checkout, or beside the main checkout when this is a git worktree. */
function defaultHarness() {
  const beside = join(REPO, '../shared/bench');
  if (existsSync(join(beside, 'run.sh'))) return beside;
  try {
    const common = execFileSync('git', ['-C', REPO, 'rev-parse', '--path-format=absolute', '--git-common-dir'], { encoding: 'utf8' }).trim();
    const main = join(dirname(common), '../shared/bench');
    if (existsSync(join(main, 'run.sh'))) return main;
  } catch { /* not a git checkout */ }
  return beside;
}
const say = (...m) => process.stderr.write(`[bench] ${m.join(' ')}\n`);
const die = (m) => { say(`error: ${m}`); process.exit(1); };

// ------------------------------------------------------------------ arguments
const argv = process.argv.slice(2);
const own = { server: 'xmppd', workdir: process.env.BENCH_WORKDIR || join(tmpdir(), 'xmppd-bench'), build: true,
  reprovision: false, keepTmp: false, cpuProf: false, defaultModules: false, iterations: 4096, nats: '', workers: 1, serverCpus: '' };
const pass = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  switch (a) {
    case '--server': own.server = argv[++i]; break;
    case '--workdir': own.workdir = resolve(argv[++i]); break;
    case '--no-build': own.build = false; break;
    case '--reprovision': own.reprovision = true; break;
    case '--keep-tmp': own.keepTmp = true; break;
    case '--cpu-prof': own.cpuProf = true; break;
    case '--default-modules': own.defaultModules = true; break;
    case '--iterations': own.iterations = Number(argv[++i]); break;
    case '--nats': own.nats = argv[++i]; break;
    case '--workers': own.workers = Number(argv[++i]); break;
    case '--server-cpus': own.serverCpus = argv[++i]; break;
    case '-h': case '--help':
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1).filter((l, i, a) => a.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    default: pass.push(a);
  }
}
/** Value of a pass-through run.sh option, or the default. */
const opt = (name, def) => { const i = pass.lastIndexOf(name); return i >= 0 && i + 1 < pass.length ? pass[i + 1] : def; };
const setOpt = (name, value) => { const i = pass.lastIndexOf(name); if (i >= 0) pass[i + 1] = String(value); else pass.push(name, String(value)); };
const isXmppd = own.server === 'xmppd';
if (!isXmppd && !['ejabberd', 'prosody', 'sink', 'custom'].includes(own.server)) die(`unknown --server ${own.server}`);
const USERS = Number(opt('--users', 10000));
const TLS = opt('--tls', '0') === '1' ? 1 : 0;
const DOMAIN = opt('--domain', 'bench.local');
const PORT = Number(opt('--port', { xmppd: 27222, custom: 27222, sink: 27222, ejabberd: 25222, prosody: 26222 }[own.server]));
if (!Number.isInteger(USERS) || USERS < 2) die('--users must be an integer >= 2');

// ------------------------------------------------------------------ (a) build if needed
function newestMtime(dir, ext) {
  let m = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules') m = Math.max(m, newestMtime(p, ext)); } else if (e.name.endsWith(ext)) m = Math.max(m, statSync(p).mtimeMs);
  }
  return m;
}
if (isXmppd) {
  const distMain = join(REPO, 'dist/src/cli/main.js');
  const srcNewest = Math.max(...['src', 'modules', 'hooks', 'test'].map((d) => newestMtime(join(REPO, d), '.ts')), statSync(join(REPO, 'tsconfig.json')).mtimeMs);
  const stale = !existsSync(distMain) || statSync(distMain).mtimeMs < srcNewest;
  if (stale && own.build) {
    say('dist/ is older than the sources: npm run build');
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) {
      if (!existsSync(distMain)) die('build failed and there is no dist/');
      say('WARNING: build failed (another change in progress?); benchmarking the existing dist/');
    }
  } else if (stale) say('WARNING: dist/ is stale (--no-build)');
}

// ------------------------------------------------------------------ (b) harness work copy
// The harness writes run/ and results.jsonl beside itself; keep both across runs (one results.jsonl per work
// dir, so xmppd and ejabberd runs of one session can be summarized together), refresh the scripts each run.
const WORK = own.workdir;
const BENCH = join(WORK, 'harness');
if (!existsSync(join(HARNESS_SRC, 'run.sh'))) die(`no harness at ${HARNESS_SRC} (set BENCH_HARNESS)`);
mkdirSync(BENCH, { recursive: true });
for (const e of readdirSync(HARNESS_SRC)) {
  if (e === 'run' || e === 'results.jsonl' || e === 'node_modules') continue;
  rmSync(join(BENCH, e), { recursive: true, force: true });
  cpSync(join(HARNESS_SRC, e), join(BENCH, e), { recursive: true });
}
const chmodW = (p) => { const s = statSync(p); chmodSync(p, s.mode | 0o200); if (s.isDirectory()) for (const e of readdirSync(p)) chmodW(join(p, e)); };
chmodW(BENCH);
// Prosody 0.12 hashes new accounts with 10000 PBKDF2 iterations; the table compares logins at one count
// (ejabberd 23.01's fixed 4096, xmppd's --iterations), so the copied template gets default_iteration_count and
// accounts made with another count are made again (--fresh).
if (own.server === 'prosody') {
  const tmpl = join(BENCH, 'servers/prosody.cfg.lua.tmpl');
  writeFileSync(tmpl, readFileSync(tmpl, 'utf8').replace(/^VirtualHost/m,
    `default_iteration_count = ${own.iterations}   -- set by test/bench/run-bench.js --iterations\n\nVirtualHost`));
  const mark = join(BENCH, 'run', `prosody-${PORT}`, 'iterations');
  const before = existsSync(mark) ? readFileSync(mark, 'utf8').trim() : '';
  if (before !== String(own.iterations)) {
    if (!pass.includes('--fresh')) pass.push('--fresh');
    say(`prosody accounts ${before ? `have ${before} iterations` : 'have no recorded iteration count'}: provisioning again with ${own.iterations}`);
    mkdirSync(dirname(mark), { recursive: true });
    writeFileSync(mark, `${own.iterations}\n`);
  }
}
// TLS certificate the harness's server templates expect (run/cert/bench.{crt,key,pem}); not shipped with it.
const CERT = join(BENCH, 'run/cert');
if (!existsSync(join(CERT, 'bench.pem'))) {
  mkdirSync(CERT, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${DOMAIN}`, '-addext', `subjectAltName=DNS:${DOMAIN}`, '-keyout', join(CERT, 'bench.key'), '-out', join(CERT, 'bench.crt')],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(join(CERT, 'bench.pem'), readFileSync(join(CERT, 'bench.crt'), 'utf8') + readFileSync(join(CERT, 'bench.key'), 'utf8'));
  chmodSync(join(CERT, 'bench.key'), 0o600); chmodSync(join(CERT, 'bench.pem'), 0o600);
  say(`created a self-signed P-256 certificate for ${DOMAIN} in ${CERT}`);
}

// The port must be free: never benchmark (or kill) somebody else's server.
const listening = spawnSync('ss', ['-Hltn', `sport = :${PORT}`], { encoding: 'utf8' }).stdout.trim();
if (listening && !opt('--pid', '')) die(`something already listens on port ${PORT}; stop it or pass --port`);

// ------------------------------------------------------------------ phases
let phases = opt('--phases', '');
if (isXmppd && !TLS) {
  if (!phases) {
    phases = 'login_scram,throughput,fixedrate,idle';
    setOpt('--phases', phases);
    say('NOTE: --tls 0: login_plain left out (xmppd never offers PLAIN on an unencrypted stream, RFC 6120 §6.4.5 / by design); use --tls 1 for all phases');
  } else if (phases.split(',').includes('login_plain')) {
    say('WARNING: login_plain with --tls 0 will fail against xmppd (PLAIN is not offered without TLS)');
  }
}

// ------------------------------------------------------------------ (c)(d) config + provisioned data (xmppd only)
let tmp = null, startCmd = null, profDir = null;
if (isXmppd) {
  const cacheDir = join(WORK, 'cache', `${DOMAIN}-u${USERS}-i${own.iterations}`);
  if (own.reprovision) rmSync(cacheDir, { recursive: true, force: true });
  if (!existsSync(join(cacheDir, 'data/db'))) {
    const part = `${cacheDir}.partial`;
    rmSync(part, { recursive: true, force: true });
    say(`provisioning ${USERS} users directly in a data dir (cached in ${cacheDir})`);
    const r = spawnSync(process.execPath, [join(HERE, 'provision.mjs'), '--data-dir', join(part, 'data'), '--domain', DOMAIN,
      '--users', String(USERS), '--iterations', String(own.iterations), '--concurrency', '16'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) die('provisioning failed');
    say(`provisioned: ${r.stdout.trim()}`);
    writeFileSync(join(part, 'provision.json'), r.stdout);
    mkdirSync(dirname(cacheDir), { recursive: true });
    renameSync(part, cacheDir);
  } else say(`using the provisioned data dir cached in ${cacheDir}`);

  tmp = mkdtempSync(join(WORK, 'xmppd-'));
  const dataDir = join(tmp, 'data');
  // A cluster node replays the cluster's log (a copied local store would belong to no stream): the accounts go
  // into a cluster of their own for this run, and every node (worker) starts empty and catches up.
  const clusterName = `bench${Date.now().toString(36)}`;
  if (own.nats) {
    say(`provisioning ${USERS} users through the cluster log ${clusterName} on ${own.nats}`);
    const r = spawnSync(process.execPath, [join(HERE, 'provision.mjs'), '--data-dir', join(tmp, 'provision'), '--domain', DOMAIN,
      '--users', String(USERS), '--iterations', String(own.iterations), '--concurrency', '16', '--nats', own.nats, '--cluster-name', clusterName],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) die('provisioning through the cluster failed');
    say(`provisioned: ${r.stdout.trim()}`);
  } else {
    cpSync(join(cacheDir, 'data'), dataDir, { recursive: true }); // fresh copy per run; the idle restart reuses it
  }
  const cfg = join(tmp, 'xmppd.yaml');
  writeFileSync(cfg, [
    '# generated by test/bench/run-bench.js',
    `hosts: [${DOMAIN}]`,
    `data_dir: ${dataDir}`,
    'log_level: warn',
    'listen:',
    `  - { type: c2s, ip: 127.0.0.1, port: ${PORT}, starttls_required: false }`,
    `tls: { cert: ${join(CERT, 'bench.crt')}, key: ${join(CERT, 'bench.key')} }`,
    `max_send_queue: ${256 * 1024 * 1024}`,
    'c2s_idle_timeout: 3600',
    'c2s_negotiation_timeout: 300',
    'sasl_max_failures: 10',
    `scram_iterations: ${own.iterations}`,
    // --default-modules: no modules key, so the server loads what `npm start` loads without a config
    ...(own.defaultModules ? [] : ['modules: { disco: {}, ping: {}, version: {}, time: {} }']),
    // the harness opens 10000 connections from 127.0.0.1 and must not be shaped
    'limits: { c2s: { bytes_per_second: 0, stanzas_per_second: 0 }, max_connections_per_ip: 0, max_sessions_per_user: 0 }',
    ...(own.nats ? [`cluster: { node: bench, name: ${clusterName}, nats: [${own.nats}], replicas: 1 }`] : []),
    ...(own.workers > 1 ? [`workers: ${own.workers}`] : []),
    '',
  ].join('\n'));
  const chk = spawnSync(process.execPath, [join(REPO, 'bin/xmppd.js'), 'check-config', '-c', cfg], { encoding: 'utf8' });
  if (chk.status !== 0) die(`config rejected: ${chk.stderr || chk.stdout}`);
  // run.sh runs "exec <cmd>" under setsid + taskset -c 0, so the node process itself owns the socket and is measured.
  let nodeArgs = '';
  if (own.cpuProf) { profDir = join(tmp, 'prof'); mkdirSync(profDir); nodeArgs = `--cpu-prof --cpu-prof-dir=${profDir} `; }
  startCmd = `${own.serverCpus ? `taskset -c ${own.serverCpus} ` : ''}${process.execPath} ${nodeArgs}${join(REPO, 'bin/xmppd.js')} start -c ${cfg}`;
  // run.sh provisions once per run dir (marker file = user count); the accounts are already in the data dir.
  const rundir = join(BENCH, 'run', `custom-${PORT}`);
  mkdirSync(rundir, { recursive: true });
  writeFileSync(join(rundir, 'provisioned'), `${USERS}\n`);
}

// ------------------------------------------------------------------ (e) run.sh
const args = ['--server', isXmppd ? 'custom' : own.server, ...pass];
if (isXmppd) {
  if (!pass.includes('--port')) args.push('--port', String(PORT));
  if (!pass.includes('--domain')) args.push('--domain', DOMAIN);
  args.push('--start-cmd', startCmd, '--provision-cmd', 'true');
  if (!pass.includes('--label')) args.push('--label', 'xmppd');
}
say(`${join(BENCH, 'run.sh')} ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`);
const t0 = Date.now();
// The idle phase keeps its largest step open at once: file descriptors and ephemeral ports for that many.
const runPhases = opt('--phases', 'login_scram,login_plain,throughput,fixedrate,idle').split(',');
const openAtOnce = runPhases.includes('idle') ? Math.max(...opt('--idle-steps', '5000,10000').split(',').map(Number)) : 0;
const room = roomForSessions(openAtOnce, say);
const child = spawn(room.prefix[0] || join(BENCH, 'run.sh'), [...room.prefix.slice(1), ...(room.prefix.length ? [join(BENCH, 'run.sh')] : []), ...args],
  { cwd: BENCH, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => { out += d; });
const forward = (sig) => () => child.kill(sig);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
const rc = await new Promise((r) => child.on('close', (code) => r(code ?? 1)));
room.restore();

// Safety net: run.sh stops the server it started on exit; make sure (by its recorded PID only).
const pidFile = join(BENCH, 'run', `${isXmppd ? 'custom' : own.server}-${PORT}`, 'srv', 'server.pid');
if (existsSync(pidFile)) spawnSync(join(BENCH, 'servers/stop-server.sh'), [dirname(pidFile)], { stdio: 'inherit' });

// ------------------------------------------------------------------ (f) result
const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
let res = null;
try { res = line ? JSON.parse(line) : null; } catch { /* reported below */ }
if (!res) { say(`run.sh exited ${rc} without a JSON line; see ${join(BENCH, 'run', `${isXmppd ? 'custom' : own.server}-${PORT}`, 'bench.log')}`); if (tmp && !own.keepTmp) rmSync(tmp, { recursive: true, force: true }); process.exit(1); }
if (isXmppd) {
  // Name the row "xmppd" (the harness calls every --start-cmd server "custom") and record the build, in place.
  let rev = '';
  try {
    rev = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    if (execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'modules', 'hooks'], { encoding: 'utf8' }).trim()) rev += '+dirty';
  } catch { /* not a git checkout */ }
  res.server = 'xmppd'; res.harness_server = 'custom'; res.version = `xmppd ${rev}`.trim();
  const rf = join(BENCH, 'results.jsonl');
  const lines = readFileSync(rf, 'utf8').split('\n');
  const idx = lines.lastIndexOf(line);
  if (idx >= 0) { lines[idx] = JSON.stringify(res); writeFileSync(rf, lines.join('\n')); line && (out = JSON.stringify(res)); }
}
process.stdout.write(JSON.stringify(res) + '\n');
const f = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '-');
const ph = res.phases || {};
const errs = Object.entries(ph).filter(([, v]) => v && (v.error || v.failed)).map(([k, v]) => `${k}: ${v.error || `${v.failed} failed ${JSON.stringify(v.fails || {})}`}`);
say(`--- ${res.server} tls=${res.tls} users=${res.users} session=${res.session} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
say(`SCRAM logins/s ${f(res.login_scram_per_s)} (${f(res.login_scram_cpu_ms, 2)} ms CPU each)   PLAIN logins/s ${f(res.login_plain_per_s)} (${f(res.login_plain_cpu_ms, 2)} ms)`);
say(`saturation ${f(res.msg_per_s, 0)} msg/s, ${f(res.cpu_s_per_100k_msgs, 2)} CPU-s/100k, p50/p99 ${f(res.sat_lat_p50_ms)}/${f(res.sat_lat_p99_ms)} ms, gen CPU ${f(res.sat_gen_cpu_util, 2)}`);
say(`fixed ${res.fixed_rate ?? '-'}/s: delivered ${f(res.fixed_delivered_per_s, 0)}/s, p50/p99 ${f(res.fixed_lat_p50_ms, 2)}/${f(res.fixed_lat_p99_ms, 2)} ms, ${f(res.fixed_cpu_s_per_100k_msgs, 2)} CPU-s/100k`);
say(`idle KiB/session ${f(res.idle_kib_per_conn_5000)} (5000) ${f(res.idle_kib_per_conn_10000)} (10000); loadavg ${res.loadavg_start} -> ${res.loadavg_end}; other load on server core max ${res.other_util_server_core_max}`);
if (isXmppd && !TLS && !String(opt('--phases', '')).includes('login_plain')) say('login_plain not run: xmppd does not offer PLAIN without TLS (use --tls 1)');
if (errs.length) say(`PHASE ERRORS: ${errs.join(' | ')}`);
say(`results: ${join(BENCH, 'results.jsonl')}; summary: node ${join(BENCH, 'summarize.js')} <session> --md`);

// --cpu-prof: top self-time functions of the (first) server process
if (profDir) {
  const profs = readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile')).map((n) => join(profDir, n));
  const keep = join(WORK, 'prof'); mkdirSync(keep, { recursive: true });
  for (const p of profs) cpSync(p, join(keep, `${res.session || 'nosession'}-${Date.now()}-${p.split('/').pop()}`));
  if (profs.length) {
    const r = spawnSync(process.execPath, [join(HERE, 'cpuprofile-top.mjs'), profs.sort()[0], '15'], { encoding: 'utf8' });
    process.stderr.write(r.stdout + r.stderr);
    say(`profiles kept in ${keep}`);
  } else say('no .cpuprofile written (server killed before exit?)');
}
if (tmp && !own.keepTmp) rmSync(tmp, { recursive: true, force: true });
process.exit(rc === 0 && !errs.length ? 0 : 1);
