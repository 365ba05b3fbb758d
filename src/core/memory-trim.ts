// Hands freed native memory back to the OS with glibc's malloc_trim(0) (docs/memory.md): glibc keeps free
// chunks in the middle of its main heap, so after many TLS sessions have ended RSS stays near its peak.
// Process-level; a no-op where glibc or the optional `koffi` FFI package is missing.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** What the trimmer looks at on each check (injected, so the decision can be tested without a heap). */
export interface TrimProbe {
  /** Open connections (c2s, s2s, http, components) right now. */
  connections(): number;
  /** Resident set size in bytes. */
  rss(): number;
}

/** A connection drop counts when it is at least this many connections... */
export const MIN_CONNECTION_DROP = 64;
/** ...and at least this share of the highest count seen since the last trim. */
export const MIN_CONNECTION_DROP_SHARE = 0.25;
/**
 * RSS growth over the level right after the last trim that is worth a trim on its own, when connections
 * did not grow notably meanwhile (memory that more live sessions use is not there to hand back).
 */
export const MIN_RSS_GROWTH = 64 * 1024 * 1024;

/**
 * When a trim pays off: only after connections dropped notably since the last trim (their native memory,
 * TLS buffers above all, was freed) or RSS grew well above its level after the last trim while connections
 * did not (a peak that came and went between two checks). An idle or steady server, or one that is filling
 * up, does no work: every trim resets the references.
 */
export class TrimPolicy {
  private highConnections: number;
  private connectionsAtTrim: number;
  private rssAfterTrim: number;

  constructor(connections: number, rss: number) {
    this.highConnections = this.connectionsAtTrim = connections;
    this.rssAfterTrim = rss;
  }

  private static notable(change: number, of: number): boolean {
    return change >= MIN_CONNECTION_DROP && change >= of * MIN_CONNECTION_DROP_SHARE;
  }

  /** One check: why a trim is due now, or null. */
  check(connections: number, rss: number): 'connections_dropped' | 'rss_grew' | null {
    if (connections > this.highConnections) this.highConnections = connections;
    const drop = this.highConnections - connections;
    if (TrimPolicy.notable(drop, this.highConnections)) return 'connections_dropped';
    if (rss - this.rssAfterTrim >= MIN_RSS_GROWTH && !TrimPolicy.notable(connections - this.connectionsAtTrim, connections)) return 'rss_grew';
    return null;
  }

  /** After a trim (or a failed one): measure future drops and growth from here. */
  trimmed(connections: number, rss: number): void {
    this.highConnections = this.connectionsAtTrim = connections;
    this.rssAfterTrim = rss;
  }
}

/** malloc_trim(pad), run off the event loop where possible; resolves to glibc's answer (1: memory released). */
export type MallocTrim = (pad: number) => Promise<number>;

let loading: Promise<MallocTrim | null> | null = null;

/**
 * glibc's malloc_trim through koffi, loaded once per process on first use; null (with the reason logged
 * once at debug) on other platforms, on musl or another libc, or when koffi is not installed.
 */
export function loadMallocTrim(log?: Logger): Promise<MallocTrim | null> {
  loading ??= (async () => {
    const off = (reason: string, err?: unknown): null => {
      log?.debug('memory trim unavailable', { reason, ...(err ? { err: String((err as Error).message ?? err) } : {}) });
      return null;
    };
    if (process.platform !== 'linux') return off(`not Linux (${process.platform})`);
    let koffi: (typeof import('koffi'))['default'];
    try {
      koffi = (await import('koffi')).default;
    } catch (err) {
      return off('the optional package koffi is not installed', err);
    }
    try {
      const libc = koffi.load('libc.so.6');
      // glibc's own symbol: musl (even with a libc.so.6 compatibility layer) is not trimmed this way.
      const version = (libc.func('const char *gnu_get_libc_version()') as () => string)();
      const fn = libc.func('int malloc_trim(size_t pad)');
      log?.debug('memory trim available', { glibc: version });
      // On one of koffi's worker threads: malloc_trim walks every free chunk of every arena (hundreds of
      // ms on a fragmented 500 MB heap) and cannot be split into steps (pad only bounds the top of the
      // heap). Off the event loop, the loop waits only when it needs an arena the trim holds locked.
      return (pad: number) => new Promise<number>((res, rej) => fn.async(pad, (err: unknown, r: number) => (err ? rej(err) : res(r))));
    } catch (err) {
      return off('not glibc (libc.so.6, gnu_get_libc_version or malloc_trim not found)', err);
    }
  })();
  return loading;
}

/** One trim, as the last few are kept (for the memory bench and a debugger). */
export interface TrimRecord {
  at: number;
  reason: string;
  /** How long malloc_trim ran. */
  seconds: number;
  /** The longest the event loop was held up meanwhile (it waits on an arena lock the trim holds). */
  loopDelaySeconds: number;
  rssBefore: number;
  rssAfter: number;
}

/**
 * Checks every `interval()` seconds (read each time, so a config reload applies from the next check;
 * 0 = off, checked again a minute later) and calls malloc_trim(0) when TrimPolicy says so.
 */
export class MemoryTrimmer {
  readonly recent: TrimRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private policy: TrimPolicy | null = null;
  private unavailable = false;
  private running = false;

  constructor(
    private readonly interval: () => number,
    private readonly probe: TrimProbe,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly load: () => Promise<MallocTrim | null> = () => loadMallocTrim(log),
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    if (this.timer || this.unavailable) return;
    this.policy = new TrimPolicy(this.probe.connections(), this.probe.rss());
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const seconds = this.interval();
    this.timer = setTimeout(() => void this.tick(), (seconds > 0 ? seconds : 60) * 1000);
    this.timer.unref(); // never keeps the process alive
  }

  private async tick(): Promise<void> {
    try {
      if (this.interval() > 0) await this.check();
    } catch (err) {
      this.log.warn('memory trim check failed', { err });
    }
    if (this.timer && !this.unavailable) this.schedule();
  }

  /** One check: trims if the policy says so. Returns the trim made, if any. */
  async check(): Promise<TrimRecord | null> {
    if (this.running || this.unavailable || !this.policy) return null;
    const reason = this.policy.check(this.probe.connections(), this.probe.rss());
    if (!reason) return null;
    this.running = true;
    try {
      const trim = await this.load();
      if (!trim) {
        this.unavailable = true;
        this.stop();
        return null;
      }
      // Measured again after the await: the figures describe the trim itself.
      const rssBefore = this.probe.rss();
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const t0 = this.now();
      await trim(0); // pad 0: keep nothing spare at the top of the heap; free pages inside it are released anyway
      const seconds = (this.now() - t0) / 1000;
      delay.disable();
      const loopDelaySeconds = delay.count ? delay.max / 1e9 : 0;
      const rssAfter = this.probe.rss();
      this.policy.trimmed(this.probe.connections(), rssAfter);
      this.metrics.memoryTrims.inc({ reason });
      this.metrics.memoryTrimSeconds.observe(seconds);
      this.metrics.memoryTrimLoopDelay.observe(loopDelaySeconds);
      this.metrics.memoryTrimReleased.inc(Math.max(0, rssBefore - rssAfter));
      const record: TrimRecord = { at: Date.now(), reason, seconds, loopDelaySeconds, rssBefore, rssAfter };
      this.recent.push(record);
      if (this.recent.length > 8) this.recent.shift();
      this.log.debug('memory trimmed', { reason, ms: +(seconds * 1000).toFixed(2), loop_delay_ms: +(loopDelaySeconds * 1000).toFixed(2), rss_before: rssBefore, rss_after: rssAfter, released: rssBefore - rssAfter });
      return record;
    } finally {
      this.running = false;
    }
  }
}
