// A third-party server run as a child process for interop tests (Prosody, ejabberd, ...): start it, wait for
// its ports, keep its output for failure messages, stop it gracefully (SIGTERM, then SIGKILL), restart it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitForPort } from './net-util.js';

export interface PeerProcessOptions {
  /** Shown in errors, e.g. 'prosody'. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Ports that must accept connections before start() resolves. */
  ports: number[];
  startTimeoutMs?: number;
  /** Extra diagnostics for failure messages (e.g. the tail of a log file). */
  diagnostics?: () => string;
}

export class PeerProcess {
  private child: ChildProcess | null = null;
  private output = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(readonly opts: PeerProcessOptions) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Recent stdout/stderr (and diagnostics) for assertion messages. */
  transcript(): string {
    const extra = this.opts.diagnostics?.() ?? '';
    return `--- ${this.opts.name} output ---\n${this.output.slice(-4000)}${extra ? `\n--- ${this.opts.name} diagnostics ---\n${extra}` : ''}`;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.opts.name} is already running`);
    const child = spawn(this.opts.command, this.opts.args, {
      cwd: this.opts.cwd,
      env: { ...process.env, ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output = (this.output + d).slice(-20000)));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output = (this.output + d).slice(-20000)));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (err) => {
        this.output += `\nspawn error: ${err.message}`;
        resolve(null);
      });
    });
    const timeout = this.opts.startTimeoutMs ?? 20_000;
    const died = this.exited.then((code) => {
      throw new Error(`${this.opts.name} exited (code ${code}) before listening\n${this.transcript()}`);
    });
    try {
      await Promise.race([Promise.all(this.opts.ports.map((p) => waitForPort(p, timeout))), died]);
    } catch (err) {
      await this.stop();
      throw err instanceof Error && err.message.includes(this.opts.name) ? err : new Error(`${(err as Error).message}\n${this.transcript()}`);
    }
    died.catch(() => undefined);
  }

  /** SIGTERM (the server closes its streams gracefully); SIGKILL if it is still there after graceMs. */
  async stop(graceMs = 8000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** The lines of a peer's log file ([] while it does not exist yet). */
export function logFileLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}
