// Test harness: xmppd as a real child process (`xmppd start -c FILE`), for what in-process servers cannot show:
// kill -9, SIGTERM drains, several nodes of a cluster on one machine. Ports are read from its "listening" logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));

export class XmppdProcess {
  proc: ChildProcess | null = null;
  log = '';
  /** Bound port per listener type (first listener of each type), from the latest start. */
  ports: Record<string, number> = {};
  readonly configFile: string;

  private constructor(readonly dir: string, private readonly config: Record<string, unknown>) {
    this.configFile = join(dir, 'xmppd.yaml');
  }

  /** Writes `config` (data_dir and control_socket default into a temp dir) and starts the process. */
  static async start(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<XmppdProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'xmppd-proc-'));
    const p = new XmppdProcess(dir, { data_dir: join(dir, 'data'), control_socket: join(dir, 'ctl.sock'), log_level: 'info', ...config });
    await writeFile(p.configFile, stringify(p.config));
    await p.restart(env);
    return p;
  }

  /** (Re)starts the process on the same config and data; resolves once it logged "xmppd started". */
  async restart(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<void> {
    this.log = '';
    this.ports = {};
    const proc = spawn(process.execPath, [BIN, 'start', '-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.proc = proc;
    const onData = (d: Buffer) => {
      this.log += d.toString();
      if (this.log.length > 2_000_000) this.log = this.log.slice(-1_000_000);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    const deadline = Date.now() + timeoutMs;
    while (!/xmppd started/.test(this.log)) {
      if (proc.exitCode !== null) throw new Error(`xmppd exited with ${proc.exitCode}: ${this.log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`xmppd did not start: ${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const m of this.log.matchAll(/"listening".*?"type":"([a-z_0-9]+)".*?"port":(\d+)/g)) this.ports[m[1]!] ??= Number(m[2]);
  }

  port(type: string): number {
    const p = this.ports[type];
    if (p === undefined) throw new Error(`no ${type} listener in: ${this.log.slice(0, 2000)}`);
    return p;
  }

  /** kill -9: no drain, no goodbye to NATS or clients. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM (graceful drain); resolves when the process has exited. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(sig);
    await gone;
  }

  /** Stops the process if it runs and removes its directory. */
  async dispose(): Promise<void> {
    await this.kill9();
    await rm(this.dir, { recursive: true, force: true });
  }
}
