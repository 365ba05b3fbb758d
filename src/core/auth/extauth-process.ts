// One external authentication program (ejabberd extauth protocol): spawned on first use and again after
// it dies, one request in flight at a time (the protocol has no request ids), a deadline per request.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { AuthUnavailableError } from './auth-provider.js';
import { ReplyReader, type ExtauthOp } from './extauth-protocol.js';

export interface ExtauthProgram {
  program: string;
  args: string[];
  /** A request that has no answer this long after it was queued fails (and the program is restarted). */
  timeoutMs: number;
}

export type ExtauthResult = 'true' | 'false' | 'timeout' | 'error';

interface Pending {
  op: ExtauthOp;
  user: string;
  frame: Buffer;
  deadline: number;
  resolve(v: boolean): void;
  reject(err: Error): void;
}

export class ExtauthProcess {
  private child: ChildProcess | null = null;
  private readonly reader = new ReplyReader();
  private queue: Pending[] = [];
  private current: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private starts = 0;
  /** Counted by the provider's metrics. */
  onResult: (op: ExtauthOp, result: ExtauthResult) => void = () => {};
  onRestart: () => void = () => {};

  constructor(private readonly spec: ExtauthProgram, private readonly log: Logger) {}

  /** Requests waiting or in flight: the pool sends new ones to the least busy program. */
  get load(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start the program now (at boot) rather than on the first request. */
  start(): void {
    if (!this.child && !this.stopped) this.spawnChild();
  }

  /** Send one framed request; resolves to the program's answer. */
  request(op: ExtauthOp, user: string, frame: Buffer): Promise<boolean> {
    if (this.stopped) return Promise.reject(new AuthUnavailableError('the external auth program is stopped'));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, user, frame, deadline: Date.now() + this.spec.timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Close stdin (a well-behaved program exits on EOF), then make sure it is gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    const err = new AuthUnavailableError('the server is shutting down');
    for (const p of this.queue.splice(0)) p.reject(err);
    this.finish(null, err);
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      kill.unref();
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin?.end();
      child.kill('SIGTERM');
    });
  }

  private pump(): void {
    while (!this.current && this.queue.length && !this.stopped) {
      const next = this.queue.shift()!;
      const left = next.deadline - Date.now();
      if (left <= 0) {
        // It waited its whole timeout behind a slow request: fail it rather than start it late.
        this.onResult(next.op, 'timeout');
        next.reject(new AuthUnavailableError('the external auth program did not answer in time'));
        continue;
      }
      if (!this.child) this.spawnChild();
      const child = this.child;
      if (!child?.stdin?.writable) {
        this.onResult(next.op, 'error');
        next.reject(new AuthUnavailableError('the external auth program is not running'));
        continue;
      }
      this.current = next;
      this.timer = setTimeout(() => this.timedOut(child), left);
      child.stdin.write(next.frame);
    }
  }

  private spawnChild(): void {
    this.starts++;
    if (this.starts > 1) this.onRestart();
    this.reader.reset();
    let child: ChildProcess;
    try {
      child = spawn(this.spec.program, this.spec.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      this.log.error('cannot start the external auth program', { program: this.spec.program, err: (err as Error).message });
      return;
    }
    this.child = child;
    child.stdin!.on('error', () => {}); // EPIPE when it died; 'exit' reports that
    child.stdout!.on('data', (chunk: Buffer) => this.onData(child, chunk));
    let line = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      // The program's own diagnostics, line by line (whatever it prints is its business; we log no request).
      line += s;
      let nl: number;
      while ((nl = line.indexOf('\n')) >= 0) {
        const text = line.slice(0, nl).trimEnd();
        line = line.slice(nl + 1);
        if (text) this.log.warn('external auth program says', { pid: child.pid, text: text.slice(0, 500) });
      }
      if (line.length > 4096) line = '';
    });
    child.on('error', (err) => this.died(child, `could not run: ${err.message}`));
    child.on('exit', (code, signal) => this.died(child, signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once('spawn', () => this.log.info('external auth program started', { program: this.spec.program, pid: child.pid }));
  }

  private onData(child: ChildProcess, chunk: Buffer): void {
    if (child !== this.child) return;
    let answers: boolean[];
    try {
      answers = this.reader.push(chunk);
    } catch (err) {
      // Out of step with the program: no later answer can be trusted, so start a fresh one.
      this.log.error('external auth program broke the protocol; restarting it', { pid: child.pid, err: (err as Error).message });
      this.finish(null, new AuthUnavailableError('the external auth program answered garbage'));
      this.kill(child);
      return;
    }
    for (const ok of answers) {
      if (!this.current) {
        this.log.error('external auth program answered without a request; restarting it', { pid: child.pid });
        this.kill(child);
        return;
      }
      this.finish(ok);
    }
  }

  private timedOut(child: ChildProcess): void {
    const p = this.current;
    if (!p) return;
    this.log.warn('external auth program did not answer in time; restarting it', { op: p.op, user: p.user, pid: child.pid, timeout_ms: this.spec.timeoutMs });
    this.finish(null, new AuthUnavailableError('the external auth program did not answer in time'), 'timeout');
    // Its late answer would be taken for the next request's: this process cannot be used again.
    this.kill(child);
  }

  private died(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    this.child = null;
    if (!this.stopped) {
      const fields = { program: this.spec.program, pid: child.pid, why };
      if (child.pid === undefined) this.log.error('cannot start the external auth program; trying again on the next request', fields);
      else this.log.warn('external auth program ended; it is restarted on the next request', fields);
    }
    this.finish(null, new AuthUnavailableError(`the external auth program ${why}`));
  }

  private kill(child: ChildProcess): void {
    if (this.child === child) this.child = null;
    child.kill('SIGKILL');
  }

  /** Settle the request in flight (an answer, or an error) and send the next one. */
  private finish(answer: boolean | null, err?: Error, result: ExtauthResult = 'error'): void {
    const p = this.current;
    this.current = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (p) {
      if (answer !== null) {
        this.onResult(p.op, answer ? 'true' : 'false');
        p.resolve(answer);
      } else {
        this.onResult(p.op, result);
        p.reject(err ?? new AuthUnavailableError('the external auth program failed'));
      }
    }
    if (!this.stopped) queueMicrotask(() => this.pump());
  }
}
