// The top-level `durability` option: when a committed transaction is fsynced (src/data/durability.ts).
// Written as a mode (`durability: batch`) or a mapping (`durability: {mode: group, group_window_ms: 2}`).
import { DEFAULT_GROUP_SIZE, DEFAULT_GROUP_WINDOW_MS, DURABILITY_MODES, type Durability } from '../../data/index.js';

export interface DurabilityConfig {
  mode: Durability;
  /** durability group: how long a batch waits for more writers before its one fsync (ms). */
  group_window_ms: number;
  /** durability group: this many waiting commits end the window early. */
  group_size: number;
}

/**
 * The default: none, as ejabberd (Mnesia's transaction log) and Prosody (file storage) do: a write is
 * handed to the OS before the client is answered, so it survives an xmppd crash, not a power loss. batch
 * and group add an fsync per batch: every message is archived, and one session's writes are sequential
 * (RFC 6120 §10.1), so with batch one sender's messages wait one fsync each (5,000 archived chat messages
 * from one client: 18.7 s against 7.2 s with none on this machine's disk; test/bench/durability.mjs).
 * Operators who need power-loss safety choose batch (or group on IOPS-limited disks with many writers).
 */
export const DEFAULT_DURABILITY: Durability = 'none';

const GROUP_KEYS = ['group_window_ms', 'group_size'];

export function parseDurability(raw: unknown, fail: (p: string, problem: string) => never): DurabilityConfig {
  const modes = DURABILITY_MODES.join(', ');
  const mode = (v: unknown, p: string): Durability => {
    if (typeof v !== 'string' || !DURABILITY_MODES.includes(v as Durability)) return fail(p, `must be one of ${modes}`);
    return v as Durability;
  };
  const defaults = { group_window_ms: DEFAULT_GROUP_WINDOW_MS, group_size: DEFAULT_GROUP_SIZE };
  if (raw === undefined || raw === null) return { mode: DEFAULT_DURABILITY, ...defaults };
  if (typeof raw === 'string') return { mode: mode(raw, 'durability'), ...defaults };
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('durability', `must be one of ${modes}, or a mapping {mode, group_window_ms, group_size}`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'mode' && !GROUP_KEYS.includes(key)) fail(`durability.${key}`, 'unknown option (known: mode, group_window_ms, group_size)');
  }
  const m = r.mode === undefined ? DEFAULT_DURABILITY : mode(r.mode, 'durability.mode');
  for (const key of GROUP_KEYS) {
    if (r[key] !== undefined && m !== 'group') fail(`durability.${key}`, `only applies to mode group (mode is ${m})`);
  }
  const w = r.group_window_ms ?? DEFAULT_GROUP_WINDOW_MS;
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 1000) fail('durability.group_window_ms', 'must be a number of milliseconds from 0 to 1000');
  const n = r.group_size ?? DEFAULT_GROUP_SIZE;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1000) fail('durability.group_size', 'must be an integer from 1 to 1000');
  return { mode: m, group_window_ms: w as number, group_size: n as number };
}
