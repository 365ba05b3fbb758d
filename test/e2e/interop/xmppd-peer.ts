// An in-process xmppd for federation tests: one domain, c2s on an ephemeral port, s2s on a chosen port (so
// peers can name it in s2s.overrides before it starts, and a restart keeps it), its own certificate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../../src/core/log.js';
import { startTestServer, type TestServer } from '../../support/harness.js';
import type { S2sStreamInfo } from '../../../src/interface/s2s/s2s-stream.js';
import { runCommand } from '../../../src/core/admin/commands.js';

export interface PeerOptions {
  domain: string;
  s2sPort: number;
  /** Also listen for XEP-0368 direct TLS s2s on this port. */
  s2sTlsPort?: number;
  cert: { certFile: string; keyFile: string };
  /** The `s2s` config section. */
  s2s?: Record<string, unknown>;
  /** Other top-level config (acl, access_rules, modules...). */
  config?: Record<string, unknown>;
  users?: Record<string, string>;
}

export class XmppdPeer {
  t!: TestServer;
  /** The server's log lines (JSON), newest last. */
  readonly logLines: string[] = [];
  private constructor(readonly opts: PeerOptions, readonly dir: string) {}

  static async start(opts: PeerOptions): Promise<XmppdPeer> {
    const p = new XmppdPeer(opts, await mkdtemp(join(tmpdir(), `xmppd-${opts.domain}-`)));
    await p.boot();
    for (const [u, pw] of Object.entries(opts.users ?? {})) await p.t.addUser(u, pw);
    return p;
  }

  get domain(): string {
    return this.opts.domain;
  }

  get c2sPort(): number {
    return this.t.c2sPort;
  }

  private async boot(): Promise<void> {
    const o = this.opts;
    const listen: Array<Record<string, unknown>> = [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: o.s2sPort, ip: '127.0.0.1', type: 's2s' },
    ];
    if (o.s2sTlsPort) listen.push({ port: o.s2sTlsPort, ip: '127.0.0.1', type: 's2s_tls' });
    // info lines are kept (bounded) for tests that check what an operator reads; printed with XMPPD_TEST_LOG.
    const level = (process.env.XMPPD_TEST_LOG as 'debug' | 'info' | undefined) ?? 'info';
    const print = process.env.XMPPD_TEST_LOG !== undefined;
    const sink = (line: string) => {
      this.logLines.push(line);
      if (this.logLines.length > 5000) this.logLines.splice(0, 1000);
      if (print) process.stderr.write(line + '\n');
    };
    this.t = await startTestServer({
      hosts: [o.domain],
      listen,
      tls: { cert: o.cert.certFile, key: o.cert.keyFile },
      s2s: { system_ca: false, connect_timeout: 5, ...o.s2s },
      acl: { admin: { user: [`admin@${o.domain}`] }, loopback: { ip: ['127.0.0.0/8'] } },
      access_rules: { register: [{ allow: 'loopback' }, { deny: 'all' }] },
      ...o.config,
    }, { dir: this.dir, log: new Logger(level, { server: o.domain }, sink, false) });
  }

  /** Stop (graceful, streams get system-shutdown) and start again on the same ports and data. */
  async restart(): Promise<void> {
    await this.t.server.stop();
    await this.boot();
  }

  async stopOnly(): Promise<void> {
    await this.t.server.stop();
  }

  async startAgain(): Promise<void> {
    await this.boot();
  }

  /** The admin command behind `xmppd s2s`. */
  async s2sList(): Promise<S2sStreamInfo[]> {
    const r = await runCommand({ core: this.t.server.core, modules: this.t.server.modules, s2s: this.t.server.s2s }, 's2s.list', {}) as { s2s: S2sStreamInfo[] };
    return r.s2s;
  }

  async stop(): Promise<void> {
    await this.t.server.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
