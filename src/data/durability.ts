// How far a committed transaction survives: `none` a process crash (the OS still holds the write),
// `batch` and `group` also a power loss (fsync before writers resolve; `group` holds each batch
// open for a short window so that concurrent writers share one fsync).

export type Durability = 'none' | 'batch' | 'group';

export const DURABILITY_MODES: readonly Durability[] = ['none', 'batch', 'group'];

/** The group window when none is given (ms): a fraction of a typical fsync, so little latency is added. */
export const DEFAULT_GROUP_WINDOW_MS = 2;

/** Commits waiting that end a group window early when none is given (MySQL's no_delay_count idea). */
export const DEFAULT_GROUP_SIZE = 16;

/** What the store and its LocalLog need for a mode: sync each batch, and the group window and size. */
export function durabilityOptions(
  mode: Durability, groupWindowMs = DEFAULT_GROUP_WINDOW_MS, groupSize = DEFAULT_GROUP_SIZE,
): { sync: boolean; groupWindowMs: number; groupSize: number } {
  return { sync: mode !== 'none', groupWindowMs: mode === 'group' ? groupWindowMs : 0, groupSize };
}
