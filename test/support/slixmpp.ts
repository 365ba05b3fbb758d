// Drives slixmpp (Debian python3-slixmpp, /usr/bin/python3) scripts from tests: availability and the
// project's skip rule (visible skip on a developer box, failure with CI=true), and a runner that parses
// the JSON lines a script prints.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

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

/** Run one script to its end (killed after 25 s) and parse its JSON lines; no assertion on the outcome. */
export async function runSlixmpp(script: string, args: Array<string | number>, cwd?: string): Promise<SlixRun> {
  if (slixmppMissing) throw new Error(`${slixmppMissing} (CI=true: the slixmpp interop tests are required)`);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args.map(String)], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${SCRIPT_TIMEOUT_MS} ms\nstdout:\n${out}\nstderr:\n${err}`));
    }, SCRIPT_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout: out, stderr: err });
    });
  });
  const events: SlixEvent[] = stdout.split('\n').filter((l) => l.trim()).map((line) => {
    try {
      return JSON.parse(line) as SlixEvent;
    } catch {
      return { event: 'unparsed', line };
    }
  });
  const transcript = `${script} ${args.join(' ')} exited ${code}\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-3000)}`;
  const all = (name: string) => events.filter((e) => e.event === name);
  return {
    events, code, stdout, stderr, transcript, all,
    has: (name) => all(name).length > 0,
    one(name) {
      assert.equal(all(name).length, 1, `expected one '${name}' event\n${transcript}`);
      return all(name)[0]!;
    },
  };
}

/** Run a script that must end normally: exit 0, a 'done' line, no exception/timeout/unparsed output. */
export async function runSlixmppOk(script: string, args: Array<string | number>, cwd?: string): Promise<SlixRun> {
  const r = await runSlixmpp(script, args, cwd);
  assert.equal(r.code, 0, r.transcript);
  assert.ok(r.has('done'), r.transcript);
  assert.ok(!r.events.some((e) => ['exception', 'timeout', 'unparsed'].includes(e.event)), r.transcript);
  return r;
}
