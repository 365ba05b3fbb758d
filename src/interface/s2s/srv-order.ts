// SRV target selection (RFC 2782 "Usage rules"): lowest priority first; within a priority, a weighted
// random order where weight 0 entries are picked rarely but still picked.
export interface SrvLike { priority: number; weight: number }

/** Order records for connection attempts; `random` returns [0, 1) (injected by tests). */
export function orderSrv<T extends SrvLike>(records: readonly T[], random: () => number = Math.random): T[] {
  const groups = new Map<number, T[]>();
  for (const r of records) {
    const g = groups.get(r.priority);
    if (g) g.push(r);
    else groups.set(r.priority, [r]);
  }
  const out: T[] = [];
  for (const prio of [...groups.keys()].sort((a, b) => a - b)) {
    // RFC 2782: zero-weight entries first in the list, then pick by running sums of the weights.
    const left = [...groups.get(prio)!].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (left.length) {
      const total = left.reduce((s, r) => s + r.weight, 0);
      const pick = Math.floor(random() * (total + 1)); // uniform integer in [0, total]
      let sum = 0;
      let idx = left.length - 1;
      for (let i = 0; i < left.length; i++) {
        sum += left[i]!.weight;
        if (sum >= pick) {
          idx = i;
          break;
        }
      }
      out.push(left.splice(idx, 1)[0]!);
    }
  }
  return out;
}
