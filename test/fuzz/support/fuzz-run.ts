// Runs fast-check properties with the fuzz budget: small by default so the suite stays quick, longer on
// request (XMPPD_FUZZ_RUNS, XMPPD_FUZZ_SECONDS), and replayable (XMPPD_FUZZ_SEED, XMPPD_FUZZ_PATH).
import fc from 'fast-check';

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};

/** XMPPD_FUZZ_RUNS: runs per property instead of each property's default. */
export const FUZZ_RUNS = envInt('XMPPD_FUZZ_RUNS');
/** XMPPD_FUZZ_SECONDS: run each property for this long (at least its default runs) instead. */
export const FUZZ_SECONDS = envInt('XMPPD_FUZZ_SECONDS');
const SEED = envInt('XMPPD_FUZZ_SEED');
const PATH = process.env.XMPPD_FUZZ_PATH || undefined;

/** Runs per property: the default, XMPPD_FUZZ_RUNS, or unbounded under XMPPD_FUZZ_SECONDS. */
export function runsFor(defaultRuns: number): number {
  if (FUZZ_RUNS !== undefined) return FUZZ_RUNS;
  if (FUZZ_SECONDS !== undefined) return 1_000_000_000;
  return defaultRuns;
}

export interface FuzzReport { runs: number; seed: number; ms: number }

/**
 * Checks a property and throws fast-check's report plus the environment that replays exactly the
 * failing case. Returns how many cases ran (for the test's diagnostic line).
 */
export async function fuzz<Ts>(prop: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, defaultRuns: number): Promise<FuzzReport> {
  const seed = SEED ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
  const params: fc.Parameters<Ts> = { seed, numRuns: runsFor(defaultRuns), endOnFailure: false };
  if (PATH !== undefined) params.path = PATH;
  // The time limit also bounds shrinking, which on large trees can otherwise run for minutes; a
  // failure found before it still fails the test with the smallest case reached so far.
  params.interruptAfterTimeLimit = (FUZZ_SECONDS !== undefined && FUZZ_RUNS === undefined ? FUZZ_SECONDS : 60) * 1000;
  params.markInterruptAsFailure = false;
  const started = Date.now();
  const details = await fc.check(prop as fc.IAsyncProperty<Ts>, params);
  const ms = Date.now() - started;
  if (details.failed) {
    const replay = `replay: XMPPD_FUZZ_SEED=${details.seed} XMPPD_FUZZ_PATH=${details.counterexamplePath ?? ''}`;
    const err = new Error(`${fc.defaultReportMessage(details)}\n${replay}`);
    if (details.errorInstance instanceof Error) err.cause = details.errorInstance;
    throw err;
  }
  return { runs: details.numRuns, seed: details.seed, ms };
}

/** The line a fuzz test prints: cases run, seed and time, so a long run's coverage is on record. */
export function describeRun(r: FuzzReport): string {
  return `${r.runs} cases in ${r.ms} ms (seed ${r.seed})`;
}
