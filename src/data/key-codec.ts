// LevelDB key layout: a row is utf8(table + "\x00" + key); store metadata lives under keys that
// start with "\x00", which no table name can. Also validation of names, keys and range options.
import { DataError } from './data-error.js';
import type { RangeOptions } from './types.js';

const TABLE_NAME = /^[a-z0-9_]+$/;
// With the u flag a well-formed surrogate pair is one code point, so this only matches lone
// surrogates — which UTF-8 cannot encode (they would collapse to U+FFFD and collide).
const LONE_SURROGATE = /\p{Cs}/u;

/** The highest-seq transaction applied to this replica. */
export const META_LAST_APPLIED = Buffer.from('\x00meta\x00lastApplied');
/** On-disk layout version, so a future layout change can refuse or migrate old directories. */
export const META_FORMAT = Buffer.from('\x00meta\x00format');
export const FORMAT_VERSION = '1';
/** The apply logic version in force (absent = 1), switched by an `applyVersion` log entry (apply.ts). */
export const META_APPLY_VERSION = Buffer.from('\x00meta\x00applyVersion');

export function checkTable(name: string): void {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new DataError('XMPPD_ERR_DATA_INVALID', `table name ${JSON.stringify(name)} must match [a-z0-9_]+`);
  }
}

export function checkKey(key: string, what = 'key'): void {
  if (typeof key !== 'string') {
    throw new DataError('XMPPD_ERR_DATA_INVALID', `${what} must be a string, got ${typeof key}`);
  }
  if (LONE_SURROGATE.test(key)) {
    throw new DataError('XMPPD_ERR_DATA_INVALID', `${what} ${JSON.stringify(key)} contains a lone UTF-16 surrogate`);
  }
}

/** The in-memory form of a row key (table + NUL + key); Buffer.from() of it is the LevelDB key. */
export function rowId(table: string, key: string): string {
  return table + '\x00' + key;
}

export function rowKey(table: string, key: string): Buffer {
  return Buffer.from(table + '\x00' + key, 'utf8');
}

/** Decodes the user key from a LevelDB row key of `table` (table names are ASCII). */
export function keyOf(table: string, k: Buffer): string {
  return k.toString('utf8', table.length + 1);
}

export interface Bounds { gte: Buffer; lt: Buffer }

/**
 * LevelDB bounds for a range within one table, or null if the range is empty. A prefix ends just
 * before prefix + 0xFF: valid UTF-8 never contains the byte 0xFF, so every key starting with the
 * prefix sorts below it and every other key above the prefix sorts above it.
 */
export function tableBounds(table: string, opts: Pick<RangeOptions, 'prefix' | 'gte' | 'lt'>): Bounds | null {
  const { prefix, gte, lt } = opts;
  if (prefix !== undefined) checkKey(prefix, 'prefix');
  if (gte !== undefined) checkKey(gte, 'gte');
  if (lt !== undefined) checkKey(lt, 'lt');
  const start: Buffer = rowKey(table, prefix ?? '');
  let lo: Buffer = start;
  if (gte !== undefined) {
    const g = rowKey(table, gte);
    if (Buffer.compare(g, lo) > 0) lo = g;
  }
  let hi: Buffer = prefix !== undefined
    ? Buffer.concat([start, Buffer.from([0xff])])
    : Buffer.from(table + '\x01', 'latin1');
  if (lt !== undefined) {
    const l = rowKey(table, lt);
    if (Buffer.compare(l, hi) < 0) hi = l;
  }
  return Buffer.compare(lo, hi) < 0 ? { gte: lo, lt: hi } : null;
}

export function checkRange(opts: RangeOptions): void {
  const { limit } = opts;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new DataError('XMPPD_ERR_DATA_INVALID', `range limit must be a non-negative integer, got ${limit}`);
  }
}
