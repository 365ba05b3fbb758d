// Duration options of the archive (retention, sweep period): seconds as a number, "<n><unit>" with a unit
// of s, m, h, d, w or y (365 d), or "never" where allowed — the forms Prosody's archive_expires_after takes.
import type { OptionSpec } from '../../src/sdk.js';

export type Duration = number | string;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds, null for "never", undefined when the value is not a duration. */
export function parseDuration(v: unknown): number | null | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'never') return null;
  const m = /^(\d{1,9})\s*([smhdwy])$/.exec(s);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : undefined;
}

/** A duration option: at least `min` seconds, at most `max`, "never" only when `never` is set. */
export function durationOpt(def: Duration, limits: { min: number; max?: number; never?: boolean }): OptionSpec<Duration> {
  return {
    kind: 'duration',
    default: def,
    check(v) {
      const secs = parseDuration(v);
      const forms = `seconds, or a number with a unit s, m, h, d, w or y (e.g. "30d")${limits.never ? ', or "never"' : ''}`;
      if (secs === undefined) return `must be a duration: ${forms}`;
      if (secs === null) return limits.never ? undefined : `must be a duration (${forms})`;
      if (secs < limits.min) return `must be at least ${limits.min} seconds`;
      if (limits.max !== undefined && secs > limits.max) return `must be at most ${limits.max} seconds`;
      return undefined;
    },
  };
}
