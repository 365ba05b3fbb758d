// A real Prosody (Debian's 0.12 package) for interop tests: its config written into a temp dir, ports on
// 127.0.0.1, certificates from the test, and DNS through a loopback responder: Prosody has no per-domain
// s2s override, but with lua-unbound its resolver takes `unbound = { forward = "127.0.0.1@port" }`, so
// SRV/A records served by the test (DnsResponder) lead it to xmppd. (libunbound refuses the .test TLD
// as a special-use name, so the interop domains live under .example.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PeerProcess, logFileLines } from './peer-process.js';

export const PROSODY = '/usr/bin/prosody';
export const PROSODYCTL = '/usr/bin/prosodyctl';

export interface ProsodyOptions {
  dir: string;
  domain: string;
  c2sPort: number;
  s2sPort: number;
  /** XEP-0368 direct TLS s2s port (s2s_direct_tls_ports). */
  s2sTlsPort?: number;
  cert: { certFile: string; keyFile: string };
  /** Trust anchors for peer certificates (s2s_secure_auth). */
  cafile?: string;
  /** s2s_secure_auth: peers must present valid certificates (no dialback without one). */
  secureAuth: boolean;
  /** The DnsResponder port Prosody resolves through. */
  dnsPort: number;
  modules?: string[];
  /** Extra global Lua config lines. */
  extra?: string[];
}

const DEFAULT_MODULES = ['roster', 'saslauth', 'tls', 'dialback', 'disco', 'ping', 'vcard', 'private', 'smacks', 'time', 'version', 'lastactivity'];

/** Why Prosody cannot run here (null when it can). */
export function prosodyUnavailable(): string | null {
  if (!existsSync(PROSODY) || !existsSync(PROSODYCTL)) return `Prosody is not installed (${PROSODY}; Debian package "prosody")`;
  const ub = spawnSync('lua5.4', ['-e', 'require "lunbound"'], { encoding: 'utf8', timeout: 10_000 });
  if (ub.status !== 0) return 'lua-unbound is not installed (Debian package "lua-unbound"): Prosody cannot be pointed at the test DNS responder';
  return null;
}

const lua = (s: string) => JSON.stringify(s); // a Lua string literal (JSON escapes are valid Lua escapes here)

export class ProsodyPeer {
  readonly process: PeerProcess;
  readonly configFile: string;
  readonly logFile: string;

  constructor(readonly opts: ProsodyOptions) {
    mkdirSync(join(opts.dir, 'data'), { recursive: true });
    mkdirSync(join(opts.dir, 'certs'), { recursive: true });
    this.configFile = join(opts.dir, 'prosody.cfg.lua');
    this.logFile = join(opts.dir, 'prosody.log');
    writeFileSync(this.configFile, this.config());
    this.process = new PeerProcess({
      name: 'prosody',
      command: PROSODY,
      args: ['--config', this.configFile, '-F'],
      cwd: opts.dir,
      ports: [opts.c2sPort, opts.s2sPort, ...(opts.s2sTlsPort ? [opts.s2sTlsPort] : [])],
      diagnostics: () => this.logTail(),
    });
  }

  private config(): string {
    const o = this.opts;
    const ssl = [`certificate = ${lua(o.cert.certFile)}`, `key = ${lua(o.cert.keyFile)}`];
    if (o.cafile) ssl.push(`cafile = ${lua(o.cafile)}`);
    return [
      '-- written by the xmppd interop tests',
      `pidfile = ${lua(join(o.dir, 'prosody.pid'))}`,
      `data_path = ${lua(join(o.dir, 'data'))}`,
      `certificates = ${lua(join(o.dir, 'certs'))}`,
      `log = { { levels = { min = "debug" }, to = "file", filename = ${lua(this.logFile)} } }`,
      'daemonize = false',
      'run_as_root = true', // prosodyctl otherwise switches to the prosody user, who cannot read the temp dir
      'interfaces = { "127.0.0.1" }',
      'local_interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${o.c2sPort} }`,
      'c2s_direct_tls_ports = { }',
      'legacy_ssl_ports = { }',
      `s2s_ports = { ${o.s2sPort} }`,
      `s2s_direct_tls_ports = { ${o.s2sTlsPort ?? ''} }`,
      'http_ports = { }',
      'https_ports = { }',
      'use_ipv6 = false',
      `modules_enabled = { ${(o.modules ?? DEFAULT_MODULES).map(lua).join(', ')} }`,
      'authentication = "internal_hashed"',
      'storage = "internal"',
      'allow_registration = false',
      'c2s_require_encryption = true',
      's2s_require_encryption = true',
      `s2s_secure_auth = ${o.secureAuth}`,
      `ssl = { ${ssl.join(', ')} }`,
      `unbound = { forward = ${lua(`127.0.0.1@${o.dnsPort}`)}, resolvconf = false, hoststxt = false }`,
      ...(o.extra ?? []),
      '',
      `VirtualHost ${lua(o.domain)}`,
      '',
    ].join('\n');
  }

  /** Create an account with prosodyctl against this config (works whether or not Prosody runs). */
  adduser(user: string, password: string): void {
    const r = spawnSync(PROSODYCTL, ['--config', this.configFile, 'register', user, this.opts.domain, password], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`prosodyctl register ${user}@${this.opts.domain} failed (${r.status}): ${r.stdout}${r.stderr}`);
  }

  start(): Promise<void> {
    return this.process.start();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  restart(): Promise<void> {
    return this.process.restart();
  }

  logTail(lines = 60): string {
    const all = logFileLines(this.logFile);
    return all.length ? all.slice(-lines).join('\n') : '(no log)';
  }

  /** Log lines matching re (for assertions on what Prosody decided, e.g. the s2s auth method). */
  logLines(re: RegExp): string[] {
    return logFileLines(this.logFile).filter((l) => re.test(l));
  }
}
