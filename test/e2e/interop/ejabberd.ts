// A real ejabberd (Debian's 23.01 package) for interop tests, run as a PRIVATE Erlang node on loopback: its
// own node name, Mnesia directory, cookie and distribution port (no epmd), a generated ejabberd.yml with c2s
// and s2s listeners on ports the test chose, certificates from the test. The system ejabberd service (and
// its node ejabberd@localhost) is never touched.
//
// Reaching xmppd without the system resolver: ejabberd 23.01 has no per-domain s2s address override
// (ejabberd_s2s_out has no `resolve` callback; the only knob is `outgoing_s2s_port` for the A/AAAA fallback).
// Its stream code (p1_xmpp 1.6.1, xmpp_stream_out) looks up `_xmpps-server._tcp` and `_xmpp-server._tcp` SRV
// records with inet_res:getbyname/3, i.e. Erlang's own DNS client, which an inetrc file (ERL_INETRC) points
// at the test's DnsResponder:
//   {resolv_conf, ""}. {hosts_file, ""}.     forget /etc/resolv.conf and /etc/hosts (order matters: a later
//   {host, {127,0,0,1}, ["localhost"]}.       {resolv_conf, ""} clears the nameservers given before it)
//   {lookup, [file, dns]}.
//   {nameserver, {127,0,0,1}, PORT}.
// The SRV *target* is then resolved with net:getaddrinfo/2 (libc getaddrinfo, the system resolver; inetrc
// does not apply, nor does outgoing_s2s_families) unless ejabberd was built with USE_GETHOSTBYNAME, which
// Debian's is not ("DNS lookup failed: enoname" otherwise). So the SRV records the tests publish for xmppd's
// domains name an IP literal as target ("127.0.0.1"), which getaddrinfo parses without asking anyone.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PeerProcess, logFileLines } from './peer-process.js';

export const ERL = '/usr/bin/erl';
export const EJABBERDCTL = '/usr/sbin/ejabberdctl';
/** Where Debian installs the ejabberd OTP application (and what ERL_LIBS must point at). */
export const EJABBERD_LIBS = '/usr/lib/x86_64-linux-gnu';

export interface EjabberdHost {
  domain: string;
  /** Certificate and key files (PEM); ejabberd picks the one whose names cover the domain. */
  cert: { certFile: string; keyFile: string };
  /** Load mod_s2s_dialback for this host (XEP-0220); without it, peers must use SASL EXTERNAL (XEP-0178). */
  dialback: boolean;
}

export interface EjabberdOptions {
  dir: string;
  hosts: EjabberdHost[];
  c2sPort: number;
  s2sPort: number;
  /** Erlang distribution port (no epmd): the node listens here, ejabberdctl connects here. */
  distPort: number;
  /** The DnsResponder port the Erlang resolver asks. */
  dnsPort: number;
  /** s2s_cafile: trust anchors for peer certificates. */
  cafile?: string;
  /** s2s_max_retry_delay (seconds): how long ejabberd bounces after a failed outbound attempt. */
  maxRetryDelay?: number;
  loglevel?: 'info' | 'debug' | 'warning';
}

/** Why ejabberd cannot run here (null when it can). */
export function ejabberdUnavailable(): string | null {
  if (!existsSync(EJABBERDCTL) || !existsSync(ERL)) return `ejabberd is not installed (${EJABBERDCTL}, ${ERL}; Debian package "ejabberd")`;
  const app = spawnSync('sh', ['-c', `ls -d ${EJABBERD_LIBS}/ejabberd-*/ebin`], { encoding: 'utf8' });
  if (app.status !== 0) return `the ejabberd OTP application is missing under ${EJABBERD_LIBS} (Debian package "ejabberd")`;
  return null;
}

const yamlStr = (s: string) => JSON.stringify(s); // a YAML double-quoted scalar (JSON strings are valid YAML)

export class EjabberdPeer {
  readonly process: PeerProcess;
  readonly node: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly inetrcFile: string;
  private readonly cookie = randomBytes(12).toString('hex');

  constructor(readonly opts: EjabberdOptions) {
    for (const d of ['db', 'log']) mkdirSync(join(opts.dir, d), { recursive: true });
    this.node = `xmppd-interop-${opts.distPort}@localhost`;
    this.configFile = join(opts.dir, 'ejabberd.yml');
    this.logFile = join(opts.dir, 'log', 'ejabberd.log');
    this.inetrcFile = join(opts.dir, 'inetrc');
    writeFileSync(this.configFile, this.config());
    writeFileSync(this.inetrcFile, this.inetrc());
    // ejabberdctl sources this file as shell after it has decided how to run: run as the current user
    // (as root it would `su ejabberd`, who cannot read the temp dir), and reach the node on the
    // distribution port without epmd (the script then adds -erl_epmd_port/-start_epmd false/-dist_listen false).
    writeFileSync(join(opts.dir, 'ejabberdctl.cfg'), [
      'EXEC_CMD=as_current_user',
      `ERL_DIST_PORT=${opts.distPort}`,
      `ERL_OPTIONS="-setcookie ${this.cookie}"`,
      '',
    ].join('\n'));
    this.process = new PeerProcess({
      name: 'ejabberd',
      command: ERL,
      // What `ejabberdctl foreground` runs, minus its wrapper shell (which would not pass SIGTERM on):
      // erl execs beam.smp, and the VM turns SIGTERM into init:stop() (a graceful shutdown).
      args: [
        '-sname', this.node, '-setcookie', this.cookie,
        '-start_epmd', 'false', '-erl_epmd_port', String(opts.distPort),
        '-kernel', 'inet_dist_use_interface', '{127,0,0,1}',
        '-noinput', '+K', 'true', '+P', '250000',
        '-mnesia', 'dir', JSON.stringify(join(opts.dir, 'db')),
        '-s', 'ejabberd',
      ],
      cwd: opts.dir,
      env: this.env(),
      ports: [opts.c2sPort, opts.s2sPort],
      startTimeoutMs: 30_000,
      diagnostics: () => this.logTail(),
    });
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.opts.dir;
    return {
      HOME: d,
      EJABBERD_CONFIG_PATH: this.configFile,
      EJABBERD_LOG_PATH: this.logFile,
      ERL_CRASH_DUMP: join(d, 'log', 'erl_crash.dump'),
      ERL_CRASH_DUMP_BYTES: '0',
      ERL_INETRC: this.inetrcFile,
      ERL_LIBS: EJABBERD_LIBS,
      ERL_MAX_ETS_TABLES: '1400',
      // keep the developer's ERL_AFLAGS/ERL_FLAGS out of the node
      ERL_AFLAGS: '',
      ERL_FLAGS: '',
    };
  }

  private inetrc(): string {
    return [
      '{resolv_conf, ""}.',
      '{hosts_file, ""}.',
      '{host, {127,0,0,1}, ["localhost"]}.',
      '{lookup, [file, dns]}.',
      `{nameserver, {127,0,0,1}, ${this.opts.dnsPort}}.`,
      '',
    ].join('\n');
  }

  private config(): string {
    const o = this.opts;
    const certfiles = o.hosts.flatMap((h) => [h.cert.certFile, h.cert.keyFile]);
    const lines = [
      '# written by the xmppd interop tests',
      `hosts: [${o.hosts.map((h) => yamlStr(h.domain)).join(', ')}]`,
      `loglevel: ${o.loglevel ?? 'info'}`,
      'log_rotate_count: 0',
      'hide_sensitive_log_data: true',
      `certfiles: [${certfiles.map(yamlStr).join(', ')}]`,
      ...(o.cafile ? [`s2s_cafile: ${yamlStr(o.cafile)}`] : []),
      's2s_use_starttls: required',
      's2s_dns_timeout: 2',
      's2s_dns_retries: 1',
      'outgoing_s2s_timeout: 5',
      `s2s_max_retry_delay: ${o.maxRetryDelay ?? 1}`,
      'negotiation_timeout: 20',
      'listen:',
      `  - { port: ${o.c2sPort}, ip: "127.0.0.1", module: ejabberd_c2s, starttls_required: true, shaper: none, access: c2s, max_stanza_size: 262144 }`,
      `  - { port: ${o.s2sPort}, ip: "127.0.0.1", module: ejabberd_s2s_in, shaper: none, max_stanza_size: 524288 }`,
      'auth_method: internal',
      'acl:',
      '  local: { user_regexp: "" }',
      'access_rules:',
      '  local: { allow: local }',
      '  c2s: { allow: all }',
      'shaper_rules:',
      '  max_user_sessions: 10',
      '  c2s_shaper: none',
      '  s2s_shaper: none',
      'modules:',
      '  mod_disco: {}',
      '  mod_ping: {}',
      '  mod_roster: { versioning: false }',
      '  mod_vcard: { search: false }',
      '  mod_version: { show_os: false }',
      '  mod_last: {}',
      '  mod_time: {}',
      '  mod_stream_mgmt: {}',
    ];
    const dialback = o.hosts.filter((h) => h.dialback);
    if (dialback.length) {
      lines.push('append_host_config:');
      for (const h of dialback) lines.push(`  ${yamlStr(h.domain)}:`, '    modules:', '      mod_s2s_dialback: {}');
    }
    lines.push('');
    return lines.join('\n');
  }

  start(): Promise<void> {
    return this.process.start();
  }

  stop(): Promise<void> {
    return this.process.stop(10_000);
  }

  restart(): Promise<void> {
    return this.process.restart();
  }

  /** `ejabberdctl --node <ours> <args>` against this node (it must be running). */
  ctl(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
    const d = this.opts.dir;
    const argv = ['--config-dir', d, '--ctl-config', join(d, 'ejabberdctl.cfg'), '--config', this.configFile,
      '--spool', join(d, 'db'), '--logs', join(d, 'log'), '--node', this.node, ...args];
    return new Promise((resolve) => {
      const child = spawn(EJABBERDCTL, argv, { cwd: d, env: { ...process.env, ...this.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, out: `${out}\nspawn error: ${err.message}` });
      });
    });
  }

  /** Create an account with `ejabberdctl register` (ejabberd must be running). */
  async register(user: string, domain: string, password: string): Promise<void> {
    const r = await this.ctl(['register', user, domain, password]);
    if (r.code !== 0) throw new Error(`ejabberdctl register ${user}@${domain} failed (${r.code}): ${r.out}\n${this.process.transcript()}`);
  }

  logTail(lines = 80): string {
    const all = logFileLines(this.logFile);
    return all.length ? all.slice(-lines).join('\n') : '(no log)';
  }

  /** Log lines matching re (e.g. which s2s authentication ejabberd accepted). */
  logLines(re: RegExp): string[] {
    return logFileLines(this.logFile).filter((l) => re.test(l));
  }
}
