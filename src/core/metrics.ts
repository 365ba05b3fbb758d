// Prometheus metrics (prom-client), one registry per server instance so in-process test servers don't clash.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { BatchedHistogram } from './batched-histogram.js';

/** Per-stanza counts as plain integers; the exported counters read them when scraped (collect()). */
class StanzaCounts {
  in = { message: 0, presence: 0, iq: 0 } as Record<string, number>;
  out = 0;
  routed = 0;
}

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'xmppd_connections', help: 'Open connections by listener type', labelNames: ['type'], registers: [this.registry] });
  readonly connectionsTotal = new Counter({ name: 'xmppd_connections_total', help: 'Accepted connections by listener type', labelNames: ['type'], registers: [this.registry] });
  readonly sessions = new Gauge({ name: 'xmppd_sessions', help: 'Bound c2s sessions', registers: [this.registry] });
  readonly authSuccess = new Counter({ name: 'xmppd_auth_success_total', help: 'Successful SASL authentications', labelNames: ['mechanism'], registers: [this.registry] });
  readonly authFailure = new Counter({ name: 'xmppd_auth_failure_total', help: 'Failed SASL authentications', labelNames: ['mechanism', 'condition'], registers: [this.registry] });
  /**
   * The per-stanza counters: the hot path adds to plain integers (countIn/countOut/countRouted); a prom-client
   * inc() per stanza (label hashing, validation) cost more than the routing it counted.
   */
  private readonly counts = new StanzaCounts();
  readonly stanzasIn = batchedCounter(this.registry, 'xmppd_stanzas_in_total', 'Stanzas received from clients', ['kind'], (c) => {
    for (const kind of Object.keys(this.counts.in)) if (this.counts.in[kind]) c.labels(kind).inc(this.counts.in[kind]);
  });
  readonly stanzasOut = batchedCounter(this.registry, 'xmppd_stanzas_out_total', 'Stanzas written to clients', [], (c) => c.inc(this.counts.out));
  readonly stanzasRouted = batchedCounter(this.registry, 'xmppd_stanzas_routed_total', 'Stanzas through the router', [], (c) => c.inc(this.counts.routed));
  /** A stanza from a client (kind: message, presence or iq). */
  countIn(kind: 'message' | 'presence' | 'iq'): void {
    this.counts.in[kind]!++;
  }
  /** A stanza written to a client. */
  countOut(): void {
    this.counts.out++;
  }
  /** A stanza through the router. */
  countRouted(): void {
    this.counts.routed++;
  }
  readonly stanzasDropped = new Counter({ name: 'xmppd_stanzas_dropped_total', help: 'Stanzas dropped, by hook', labelNames: ['hook'], registers: [this.registry] });
  readonly streamErrors = new Counter({ name: 'xmppd_stream_errors_total', help: 'Stream errors sent, by condition', labelNames: ['condition'], registers: [this.registry] });
  readonly hookErrors = new Counter({ name: 'xmppd_hook_errors_total', help: 'Hook handlers that threw', labelNames: ['hook', 'owner'], registers: [this.registry] });
  readonly hookSeconds = new BatchedHistogram('xmppd_hook_seconds', 'Time spent running a hook chain (only hooks with handlers)', 'hook', [0.00001, 0.0001, 0.001, 0.01, 0.1, 1], this.registry);
  readonly authFailures = new Counter({ name: 'xmppd_auth_failures_total', help: 'Wrong credentials (SASL password, component handshake, admin API token), by kind: c2s, component, http', labelNames: ['kind'], registers: [this.registry] });
  readonly authThrottled = new Counter({ name: 'xmppd_auth_throttled_total', help: 'Authentication throttling (limits.auth), by kind, scope (ip, account) and action (delayed: a failure answered late; locked: an address locked; refused: an attempt turned away unchecked)', labelNames: ['kind', 'scope', 'action'], registers: [this.registry] });
  readonly limitViolations = new Counter({ name: 'xmppd_limit_violations_total', help: 'Shaper and limit violations (a slowed run, a refused bind, connection or registration), by limit', labelNames: ['limit'], registers: [this.registry] });
  /** 1 while storage accepts writes; 0 after a failed write (disk full, I/O error): writes are refused until a restart. */
  readonly storageWritable = new Gauge({ name: 'xmppd_storage_writable', help: '1 while storage accepts writes, 0 after a failed write (refused until restart)', registers: [this.registry] });
  readonly memoryTrims = new Counter({ name: 'xmppd_memory_trims_total', help: 'malloc_trim(0) calls handing freed native memory back to the OS (src/core/memory-trim.ts), by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly memoryTrimSeconds = new Histogram({ name: 'xmppd_memory_trim_seconds', help: 'Time one malloc_trim(0) call ran (on a worker thread)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
  readonly memoryTrimLoopDelay = new Histogram({ name: 'xmppd_memory_trim_loop_delay_seconds', help: 'Longest event-loop delay during one malloc_trim(0) call (the loop waits when it needs a malloc arena the trim holds)', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry] });
  readonly memoryTrimReleased = new Counter({ name: 'xmppd_memory_trim_released_bytes_total', help: 'RSS given back by malloc_trim(0) calls (RSS before minus after)', registers: [this.registry] });
  readonly txLatency = new Histogram({ name: 'xmppd_storage_transaction_seconds', help: 'Storage transaction latency', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry] });

  private readonly hookTimers = new Map<string, (seconds: number) => void>();
  /** Per-hook chain time, with the labelled series cached (this runs for every stanza a hook sees). */
  readonly observeHookTime = (hook: string, seconds: number): void => {
    let h = this.hookTimers.get(hook);
    if (!h) this.hookTimers.set(hook, (h = this.hookSeconds.child(hook)));
    h(seconds);
  };

  private readonly shared = new Map<string, { metric: Metric; refs: number }>();

  /**
   * A metric several owners share (one module running on several hosts): created on first use, removed
   * from the registry when the last owner releases it.
   */
  acquire<M extends Metric>(name: string, create: () => M): { metric: M; release: () => void } {
    let entry = this.shared.get(name);
    if (!entry) {
      entry = { metric: create(), refs: 0 };
      this.shared.set(name, entry);
    }
    entry.refs++;
    const e = entry;
    let released = false;
    return {
      metric: e.metric as M,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs === 0) {
          this.shared.delete(name);
          this.registry.removeSingleMetric(name);
        }
      },
    };
  }

  /**
   * With process metrics: prom-client's defaults under their standard names (process_cpu_seconds_total,
   * process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes...), the names
   * every Node.js dashboard and alert expects (docs/grafana/xmppd-dashboard.json uses them).
   */
  constructor(withProcessMetrics = false) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

/** A prom-client counter set from plain integers when it is read (scrape, admin stats): reset, then the totals. */
function batchedCounter(registry: Registry, name: string, help: string, labelNames: string[], fill: (c: Counter) => void): Counter {
  return new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      fill(this);
    },
  });
}
