// Drives slixmpp (Debian python3-slixmpp, /usr/bin/python3) scripts from tests: availability and the
// project's skip rule (visible skip on a developer box, failure with CI=true), and a runner that parses
// the JSON lines a script prints.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { testCertificateFile } from './harness.js';

// Debian's python3-slixmpp belongs to the system interpreter, not to whatever python3 is first on PATH.
export const PYTHON = '/usr/bin/python3';
const SCRIPT_TIMEOUT_MS = 25_000; // each script also stops itself (SIGALRM) well before this

function slixmppUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import slixmpp'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status === 0) return null;
  const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
  return `slixmpp is not importable by ${PYTHON} (install Debian's python3-slixmpp): ${why}`;
}

/** Why slixmpp can't be used here, or null when it can. */
export const slixmppMissing = slixmppUnavailable();
/** node:test options: skip with the reason on a developer box; in CI the tests run and fail (runSlixmpp throws). */
export const slixmppTestOptions = { skip: slixmppMissing !== null && process.env.CI !== 'true' ? slixmppMissing : false };

export interface SlixEvent {
  event: string;
  [key: string]: unknown;
}

export interface SlixRun {
  events: SlixEvent[];
  code: number | null;
  stdout: string;
  stderr: string;
  transcript: string;
  all(name: string): SlixEvent[];
  has(name: string): boolean;
  /** Exactly one event of that name (asserted). */
  one(name: string): SlixEvent;
}

/** A child process printing JSON lines (one object per line with an "event" key), and its end. */
export interface JsonLinesProcess {
  done: Promise<SlixRun>;
  /** Resolves with the first event of that name printed so far or later ('unparsed' for a plain line). */
  event(name: string): Promise<SlixEvent>;
  /** End the process (SIGTERM); `done` still resolves. */
  kill(): void;
}

/**
 * Start `command args` (killed after `timeoutMs`) and parse the JSON lines it prints; no assertion on
 * the outcome. Shared by the slixmpp scripts and the client matrix (test/e2e/clients/).
 */
export function startJsonLines(command: string, args: Array<string | number>, opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): JsonLinesProcess {
  const timeoutMs = opts.timeoutMs ?? SCRIPT_TIMEOUT_MS;
  const events: SlixEvent[] = [];
  const waiters: Array<{ name: string; resolve: (e: SlixEvent) => void }> = [];
  const parse = (line: string): SlixEvent => {
    try {
      return JSON.parse(line) as SlixEvent;
    } catch {
      return { event: 'unparsed', line };
    }
  };
  let out = '';
  let err = '';
  let pending = '';
  let failEarly: (e: Error) => void = () => {};
  let kill = () => {};
  const early = new Promise<never>((_, reject) => (failEarly = reject));
  early.catch(() => {});
  const finished = new Promise<{ code: number | null }>((resolve, reject) => {
    const child = spawn(command, args.map(String), {
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...opts.env },
    });
    kill = () => child.kill('SIGTERM');
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.trim()) continue;
        const e = parse(line);
        events.push(e);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.name === e.event) waiters.splice(i, 1)[0]!.resolve(e);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const e = new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err.slice(-3000)}`);
      failEarly(e);
      reject(e);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      failEarly(e);
      reject(e);
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      if (pending.trim()) events.push(parse(pending));
      resolve({ code: c });
    });
  });
  const done = finished.then(({ code }): SlixRun => {
    const transcript = `${command} ${args.join(' ')} exited ${code}\nstdout:\n${out}\nstderr:\n${err.slice(-3000)}`;
    const all = (name: string) => events.filter((e) => e.event === name);
    return {
      events, code, stdout: out, stderr: err, transcript, all,
      has: (name) => all(name).length > 0,
      one(name) {
        assert.equal(all(name).length, 1, `expected one '${name}' event\n${transcript}`);
        return all(name)[0]!;
      },
    };
  });
  const event = (name: string): Promise<SlixEvent> => {
    const seen = events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    const ended = done.then((r) => {
      throw new Error(`the process ended without a '${name}' event\n${r.transcript}`);
    });
    return Promise.race([new Promise<SlixEvent>((resolve) => waiters.push({ name, resolve })), ended, early]);
  };
  return { done, event, kill: () => kill() };
}

/** Run one script to its end (killed after 25 s) and parse its JSON lines; no assertion on the outcome. */
export async function runSlixmpp(script: string, args: Array<string | number>, cwd?: string): Promise<SlixRun> {
  if (slixmppMissing) throw new Error(`${slixmppMissing} (CI=true: the slixmpp interop tests are required)`);
  // slixmpp verifies the server's certificate; SSL_CERT_FILE (OpenSSL's variable, as a user would set it)
  // makes it trust the test servers' self-signed one.
  const env = { SSL_CERT_FILE: await testCertificateFile() };
  return startJsonLines(PYTHON, [script, ...args], cwd !== undefined ? { cwd, env } : { env }).done;
}

/** Run a script that must end normally: exit 0, a 'done' line, no exception/timeout/unparsed output. */
export async function runSlixmppOk(script: string, args: Array<string | number>, cwd?: string): Promise<SlixRun> {
  const r = await runSlixmpp(script, args, cwd);
  assert.equal(r.code, 0, r.transcript);
  assert.ok(r.has('done'), r.transcript);
  assert.ok(!r.events.some((e) => ['exception', 'timeout', 'unparsed'].includes(e.event)), r.transcript);
  return r;
}
