// Starts one benchmark server of any kind — xmppd (this checkout's dist/), ejabberd 23.01 or Prosody 0.12 from
// Debian — as a private process pinned to one CPU (taskset), loopback ports only, with the features a fan-out
// benchmark asks for (muc, pep, ws, s2s) and accounts u0..u{N-1}/benchpass. Nothing touches the system
// services; s2s peers are found through xmppd's s2s.overrides or, for ejabberd/Prosody, a DnsResponder.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, pool } from './client.mjs';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BENCH = resolve(REPO, 'test/bench');
export const KINDS = ['xmppd', 'ejabberd', 'prosody'];
/** Port bases of the three kinds; instance k of a kind uses base + 10k .. base + 10k + 3 (c2s, s2s, http, erl dist). */
export const PORT_BASE = { xmppd: 27460, ejabberd: 25460, prosody: 26460 };
/** --ports xmppd=27460,ejabberd=25460,prosody=26460: other port bases (each kind needs base .. base+13 for s2s). */
export function setPortBases(spec) {
  for (const kv of String(spec ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!(k in PORT_BASE) || !(Number(v) > 0)) throw new Error(`--ports: bad entry ${kv}`);
    PORT_BASE[k] = Number(v);
  }
}

/** The ports instance k of a kind uses. */
export function portsOf(kind, instance = 0) {
  const base = PORT_BASE[kind] + 10 * instance;
  return { c2sPort: base, s2sPort: base + 1, httpPort: base + 2, distPort: base + 3 };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (...m) => process.stderr.write(`[servers] ${m.join(' ')}\n`);

/** A self-signed P-256 certificate for the benchmark domains (made once per work dir). */
export function benchCert(workdir) {
  const dir = join(workdir, 'cert');
  const c = { crt: join(dir, 'bench.crt'), key: join(dir, 'bench.key'), pem: join(dir, 'bench.pem') };
  if (existsSync(c.pem)) return c;
  mkdirSync(dir, { recursive: true });
  const san = ['bench.local', 'a.example', 'b.example'].flatMap((d) => [`DNS:${d}`, `DNS:*.${d}`]).join(',');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
    '-subj', '/CN=bench.local', '-addext', `subjectAltName=${san}`, '-keyout', c.key, '-out', c.crt], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  writeFileSync(c.pem, readFileSync(c.crt, 'utf8') + readFileSync(c.key, 'utf8'));
  return c;
}

const portOpen = (port) => new Promise((res) => {
  const s = connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
  s.on('error', () => res(false));
});

/**
 * o: { kind, workdir, instance (0, 1), domain, users, features: { muc, pep, ws, s2s }, peers: [{ domain, s2sPort }],
 *      dnsPort (ejabberd/prosody s2s), cpu ('0') }.
 * Returns { kind, domain, c2sPort, s2sPort, wsUrl, muc, pid, stop() }.
 */
export async function startServer(o) {
  const base = PORT_BASE[o.kind] + 10 * (o.instance ?? 0);
  const s = { kind: o.kind, domain: o.domain, ...portsOf(o.kind, o.instance), muc: `conference.${o.domain}` };
  for (const p of [s.c2sPort, s.s2sPort, s.httpPort]) if (await portOpen(p)) throw new Error(`port ${p} is in use: not starting over someone's server`);
  const dir = join(o.workdir, `${o.kind}-${base}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cert = benchCert(o.workdir);
  const f = o.features ?? {};
  const c = { ...o, ...s, dir, cert, f };
  let cmd;
  if (o.kind === 'xmppd') cmd = xmppd(c);
  else if (o.kind === 'ejabberd') cmd = ejabberd(c);
  else if (o.kind === 'prosody') cmd = prosody(c);
  else throw new Error(`unknown server ${o.kind}`);
  if (o.kind === 'xmppd') provisionXmppd(c);
  const proc = spawn('taskset', ['-c', o.cpu ?? '0', ...cmd.argv], { cwd: dir, env: cmd.env ?? process.env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  // (BENCH_SERVER_STDERR=1: the server's whole stderr, its log for xmppd, also goes to <dir>/stderr.log)
  const keep = process.env.BENCH_SERVER_STDERR ? createWriteStream(join(dir, 'stderr.log')) : null;
  proc.stderr.setEncoding('utf8').on('data', (d) => { keep?.write(d); stderr = (stderr + d).slice(-4000); });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  s.pid = proc.pid;
  s.dir = dir;
  s.stop = async () => {
    if (exited) return;
    try { process.kill(-proc.pid, 'SIGTERM'); } catch { return; }
    for (let i = 0; i < 100 && !exited; i++) await sleep(100);
    if (!exited) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  process.on('exit', () => { if (!exited) try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  // a benchmark stopped with ^C or a timeout must not leave its servers behind
  for (const sig of ['SIGINT', 'SIGTERM']) if (!process.listenerCount(sig)) process.on(sig, () => process.exit(130));
  const ports = [s.c2sPort, ...(f.s2s ? [s.s2sPort] : []), ...(f.ws ? [s.httpPort] : [])];
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`${o.kind} exited: ${stderr}\n${cmd.log ? tail(cmd.log) : ''}`);
    if ((await Promise.all(ports.map(portOpen))).every(Boolean)) break;
    if (i > 600) throw new Error(`${o.kind} did not open ${ports} in 60 s: ${stderr}`);
    await sleep(100);
  }
  s.wsUrl = o.kind === 'ejabberd' ? `ws://127.0.0.1:${s.httpPort}/ws` : `ws://127.0.0.1:${s.httpPort}/xmpp-websocket`;
  s.log = cmd.log;
  if (o.kind !== 'xmppd' && o.users) {
    const t0 = performance.now();
    await pool(o.users, 50, (i) => new Client({ port: s.c2sPort, domain: o.domain, user: `u${i}` }).register());
    say(`${o.kind} ${o.domain}: ${o.users} accounts by in-band registration in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  say(`${o.kind} ${o.domain} pid ${proc.pid} on CPU ${o.cpu ?? '0'}, c2s ${s.c2sPort}${f.s2s ? `, s2s ${s.s2sPort}` : ''}${f.ws ? `, ws ${s.wsUrl}` : ''}`);
  return s;
}

function tail(file) { try { return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n'); } catch { return ''; } }

function provisionXmppd(c) {
  if (!c.users) return;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(BENCH, 'provision.mjs'), '--data-dir', join(c.dir, 'data'), '--domain', c.domain, '--users', String(c.users),
    '--iterations', '4096', '--concurrency', '16'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('provision.mjs failed');
  say(`xmppd ${c.domain}: ${c.users} accounts provisioned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function xmppd(c) {
  const mods = ['disco: {}', `ping: { ${process.env.BENCH_XMPPD_PING ?? ''} }`, 'roster: {}', 'presence: {}'];
  if (c.f.muc) mods.push('muc: { history_size: 0 }');
  if (c.f.pep) mods.push('pep: {}', 'pubsub: {}', 'caps: {}');
  const listen = [`{ type: c2s, ip: 127.0.0.1, port: ${c.c2sPort}, starttls_required: false }`];
  if (c.f.ws) listen.push(`{ type: http, ip: 127.0.0.1, port: ${c.httpPort} }`);
  if (c.f.s2s) listen.push(`{ type: s2s, ip: 127.0.0.1, port: ${c.s2sPort} }`);
  const lines = [
    `hosts: [${c.domain}]`,
    `data_dir: ${join(c.dir, 'data')}`,
    `control_socket: ${join(c.dir, 'ctl.sock')}`,
    `log_level: ${process.env.BENCH_XMPPD_LOG_LEVEL || 'warn'}`,
    `listen: [${listen.join(', ')}]`,
    `tls: { cert: ${c.cert.crt}, key: ${c.cert.key} }`,
    `max_send_queue: ${256 * 1024 * 1024}`,
    'c2s_idle_timeout: 3600',
    'scram_iterations: 4096',
    `modules: { ${mods.join(', ')} }`,
    'limits: { c2s: { bytes_per_second: 0, stanzas_per_second: 0 }, s2s: { bytes_per_second: 0, stanzas_per_second: 0 }, max_connections_per_ip: 0, max_http_connections_per_ip: 100000, max_sessions_per_user: 0 }',
  ];
  if (c.f.s2s) {
    const ov = (c.peers ?? []).map((p) => `${p.domain}: '127.0.0.1:${p.s2sPort}'`).join(', ');
    lines.push(`s2s: { policy: allow_dialback, overrides: { ${ov} }, max_queue: 1000000 }`);
  }
  const cfg = join(c.dir, 'xmppd.yaml');
  writeFileSync(cfg, `${lines.join('\n')}\n`);
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  return { argv: [process.execPath, ...prof, join(REPO, 'bin/xmppd.js'), 'start', '-c', cfg] };
}

function ejabberd(c) {
  for (const d of ['db', 'log']) mkdirSync(join(c.dir, d), { recursive: true });
  const listen = [
    `  - { port: ${c.c2sPort}, ip: "127.0.0.1", module: ejabberd_c2s, backlog: 4096, max_stanza_size: 262144, shaper: none, access: c2s, starttls: true, starttls_required: false }`,
  ];
  if (c.f.s2s) listen.push(`  - { port: ${c.s2sPort}, ip: "127.0.0.1", module: ejabberd_s2s_in, shaper: none, max_stanza_size: 524288 }`);
  if (c.f.ws) listen.push(`  - { port: ${c.httpPort}, ip: "127.0.0.1", module: ejabberd_http, request_handlers: { "/ws": ejabberd_http_ws } }`);
  const mods = [
    '  mod_disco: {}', '  mod_ping: {}', '  mod_roster: { versioning: false }',
    '  mod_register: { access: register, ip_access: all, password_strength: 0 }',
  ];
  if (c.f.muc) mods.push(`  mod_muc: { hosts: ["conference.${c.domain}"], access_create: all, history_size: 0, max_users: 5000, max_users_presence: 5000, default_room_options: { max_users: 5000 } }`);
  if (c.f.pep) mods.push('  mod_caps: {}', `  mod_pubsub: { hosts: ["pubsub.${c.domain}"], access_createnode: pubsub_createnode, plugins: ["flat", "pep"] }`);
  if (c.f.s2s) mods.push('  mod_s2s_dialback: {}');
  const yml = [
    `hosts: ["${c.domain}"]`,
    'loglevel: warning',
    'log_rotate_count: 0',
    'hide_sensitive_log_data: true',
    `certfiles: ["${c.cert.pem}"]`,
    'listen:', ...listen,
    'auth_method: internal',
    'auth_password_format: scram',
    'auth_scram_hash: sha',
    'registration_timeout: infinity',
    's2s_use_starttls: required',
    's2s_dns_timeout: 2',
    's2s_dns_retries: 1',
    'acl:', '  local: { user_regexp: "" }',
    'access_rules:', '  local: { allow: local }', '  c2s: { allow: all }', '  register: { allow: all }', '  pubsub_createnode: { allow: local }',
    'shaper_rules:', '  max_user_sessions: 10', '  c2s_shaper: none', '  s2s_shaper: none',
    'modules:', ...mods, '',
  ].join('\n');
  const cfg = join(c.dir, 'ejabberd.yml');
  writeFileSync(cfg, yml);
  const inetrc = join(c.dir, 'inetrc');
  // Erlang's resolver asks the benchmark's DnsResponder only (see test/e2e/interop/ejabberd.ts for why).
  writeFileSync(inetrc, ['{resolv_conf, ""}.', '{hosts_file, ""}.', '{host, {127,0,0,1}, ["localhost"]}.', '{lookup, [file, dns]}.',
    ...(c.dnsPort ? [`{nameserver, {127,0,0,1}, ${c.dnsPort}}.`] : []), ''].join('\n'));
  const log = join(c.dir, 'log', 'ejabberd.log');
  return {
    log,
    env: { PATH: process.env.PATH, HOME: c.dir, EJABBERD_CONFIG_PATH: cfg, EJABBERD_LOG_PATH: log, ERL_CRASH_DUMP: join(c.dir, 'log', 'erl_crash.dump'),
      ERL_CRASH_DUMP_BYTES: '0', ERL_INETRC: inetrc, ERL_LIBS: '/usr/lib/x86_64-linux-gnu', ERL_MAX_PORTS: '65536', ERL_MAX_ETS_TABLES: '1400' },
    // as the shared harness's start-ejabberd.sh: one scheduler (the VM is pinned to one core), no epmd
    argv: ['/usr/bin/erl', '-sname', `bench-fanout-${c.c2sPort}@localhost`, '-setcookie', 'benchcookie', '-start_epmd', 'false',
      '-erl_epmd_port', String(c.distPort), '-kernel', 'inet_dist_use_interface', '{127,0,0,1}', '+K', 'true', '+P', '250000',
      '+S', '1:1', '+SDcpu', '1:1', '+SDio', '2', '-noinput', '-mnesia', 'dir', JSON.stringify(join(c.dir, 'db')), '-s', 'ejabberd'],
  };
}

function prosody(c) {
  const lua = (s) => JSON.stringify(s);
  const mods = ['roster', 'saslauth', 'tls', 'disco', 'ping', 'register'];
  if (c.f.pep) mods.push('pep');
  if (c.f.ws) mods.push('websocket');
  if (c.f.s2s) mods.push('dialback');
  const log = join(c.dir, 'prosody.log');
  const lines = [
    'run_as_root = true',
    'daemonize = false',
    `pidfile = ${lua(join(c.dir, 'prosody.pid'))}`,
    'network_backend = "epoll"',
    'network_settings = { tcp_backlog = 4096 }',
    `data_path = ${lua(join(c.dir, 'data'))}`,
    `log = { { levels = { min = "warn" }, to = "file", filename = ${lua(log)} } }`,
    'interfaces = { "127.0.0.1" }',
    'local_interfaces = { "127.0.0.1" }',
    'use_ipv6 = false',
    `c2s_ports = { ${c.c2sPort} }`,
    'c2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    `s2s_ports = { ${c.f.s2s ? c.s2sPort : ''} }`,
    's2s_direct_tls_ports = { }',
    `http_ports = { ${c.f.ws ? c.httpPort : ''} }`,
    'http_interfaces = { "127.0.0.1" }',
    'https_ports = { }',
    `http_default_host = ${lua(c.domain)}`,
    'consider_websocket_secure = true',
    `modules_enabled = { ${mods.map(lua).join(', ')} }`,
    `modules_disabled = { "offline"${c.f.s2s ? '' : ', "s2s"'} }`,
    'allow_registration = true',
    'registration_whitelist = { "127.0.0.1" }',
    'min_seconds_between_registrations = 0',
    'registration_throttle_max = 1000000',
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    's2s_require_encryption = true',
    's2s_secure_auth = false',
    'authentication = "internal_hashed"',
    'storage = "internal"',
    // Setup only: the PEP run makes 1000 roster entries over the wire, and the flat-file roster store rewrites
    // the whole file at each change (minutes at 1000); the measured PEP items stay in the internal store.
    ...(c.f.pep ? ['storage = { roster = "memory" }', 'default_storage = "internal"'] : []),
    `certificates = ${lua(join(c.dir, 'certs'))}`,
    `ssl = { certificate = ${lua(c.cert.crt)}, key = ${lua(c.cert.key)} }`,
    'c2s_stanza_size_limit = 262144',
    ...(c.dnsPort ? [`unbound = { forward = ${lua(`127.0.0.1@${c.dnsPort}`)}, resolvconf = false, hoststxt = false }`] : []),
    '',
    `VirtualHost ${lua(c.domain)}`,
  ];
  if (c.f.muc) lines.push('', `Component ${lua(`conference.${c.domain}`)} "muc"`, '  muc_room_default_history_length = 0', '  max_history_messages = 0', '  restrict_room_creation = false');
  const cfg = join(c.dir, 'prosody.cfg.lua');
  mkdirSync(join(c.dir, 'certs'), { recursive: true });
  writeFileSync(cfg, `${lines.join('\n')}\n`);
  return { log, argv: ['/usr/bin/prosody', '-F', '--config', cfg] };
}

/** A DnsResponder (test/e2e/interop, compiled) publishing _xmpp-server SRV records for each { domain, s2sPort }. */
export async function startDns(entries) {
  const { DnsResponder } = await import(pathToFileURL(join(REPO, 'dist/test/e2e/interop/dns-responder.js')).href);
  const dns = new DnsResponder();
  // the SRV target is an IP literal: ejabberd resolves targets with libc (see test/e2e/interop/ejabberd.ts)
  for (const e of entries) dns.xmppServer(e.domain, { host: '127.0.0.1', port: e.s2sPort });
  await dns.start(0);
  return dns;
}

/** The CPU list a PID may run on (for the log). */
export function affinity(pid) {
  const r = spawnSync('taskset', ['-cp', String(pid)], { encoding: 'utf8' });
  return r.stdout.trim().split(': ').pop();
}

/** Pin this (client) process to a CPU unless it already is. */
export function pinSelf(cpu = '1') {
  spawnSync('taskset', ['-a', '-cp', cpu, String(process.pid)], { stdio: 'ignore' });
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch { return NaN; }
}
