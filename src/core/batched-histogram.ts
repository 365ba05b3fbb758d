// A Prometheus histogram with one label whose observations are plain array increments: prom-client's
// observe() hashes and validates its labels on every call, which showed in per-stanza profiles (hook chain
// times). The registry reads it like any prom-client metric (get() in prom-client's shape).
import type { Metric, Registry } from 'prom-client';

interface Series { readonly counts: Float64Array; sum: number; count: number }

export class BatchedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The observer for one label value (kept by the caller: nothing is looked up per observation). */
  child(labelValue: string): (value: number) => void {
    let s = this.series.get(labelValue);
    if (!s) this.series.set(labelValue, (s = { counts: new Float64Array(this.upperBounds.length), sum: 0, count: 0 }));
    const series = s;
    const bounds = this.upperBounds;
    return (value: number) => {
      series.sum += value;
      series.count++;
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          series.counts[i]!++;
          return;
        }
      }
    };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** prom-client's histogram export: cumulative buckets, +Inf, sum and count per label value. */
  get(): Promise<{ name: string; help: string; type: string; values: object[]; aggregator: string }> {
    const values: object[] = [];
    for (const [label, s] of this.series) {
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.upperBounds[i], [this.labelName]: label }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', [this.labelName]: label }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
