// Stored row format: the JSON text {"v":<value>,"r":<rev>}. It is assembled from the value's
// already-serialized JSON, so apply never re-serializes values, and "r" is always last.
import type { Json } from './types.js';

export function encodeRow(json: string, rev: number): string {
  return '{"v":' + json + ',"r":' + rev + '}';
}

export function decodeRow(raw: string): { v: Json; r: number } {
  return JSON.parse(raw) as { v: Json; r: number };
}

/** The rev of a stored row without parsing its value (the last `,"r":` is ours: it is appended last). */
export function revOf(raw: string): number {
  return Number(raw.slice(raw.lastIndexOf(',"r":') + 5, -1));
}
