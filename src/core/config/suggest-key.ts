// Near misses of known keys in "unknown option" errors: "max_itemz" gets "did you mean max_items?".
import type { Segment } from './yaml-path.js';

/** "unknown option (known: a, b)" for a near miss of a known key gets "; did you mean b?". */
export function withSuggestion(problem: string, segments: Segment[]): string {
  const m = /^unknown option \(known[^:]*: ([^)]*)\)/.exec(problem);
  const key = segments[segments.length - 1];
  if (!m || typeof key !== 'string' || key.length < 3) return problem;
  const near = m[1]!.split(', ').filter((k) => distance(k, key) <= (key.length > 6 ? 2 : 1));
  return near.length === 1 ? `${problem}; did you mean ${near[0]}?` : problem;
}

/** Levenshtein distance with adjacent transpositions (a typo is mostly one of these). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
