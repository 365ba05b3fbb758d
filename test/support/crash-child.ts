// Test harness: xmppd in a child process (test/e2e/crash-server.ts) that prints "ready <c2s port>", for tests
// that kill -9 a server (a real crash: no drain, no goodbye to NATS or clients).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../e2e/crash-server.js', import.meta.url));

export interface CrashChild {
  proc: ChildProcess;
  port: number;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  stderr: () => string;
}

/** Starts the server of the YAML `configFile`; resolves with its c2s port once it is ready. */
export async function startCrashChild(configFile: string, what = 'the server'): Promise<CrashChild> {
  const proc = spawn(process.execPath, [CHILD], { env: { ...process.env, XMPPD_CRASH_CONFIG: configFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(([code]) => reject(new Error(`${what} exited before it was ready (code ${code}): ${stderr}`)));
  });
  return { proc, port, exited, stderr: () => stderr };
}

/** kill -9 unless it already ended. */
export function killCrashChild(child: CrashChild | null): void {
  if (child && child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
}
