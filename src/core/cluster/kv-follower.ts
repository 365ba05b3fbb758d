// A watch on a KV bucket that outlives the loss of a NATS server (DESIGN.md "Data layer": soft state mirrored
// by watch). The watcher's consumer lives on one server: when it goes, the watch may end or silently stall, so
// it is opened again (from the revision after the last one seen) when it ends or when its owner finds it stale.
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import type { Logger } from '../log.js';

const OPEN_TIMEOUT_MS = 3000;

export class KvFollower {
  private iter: QueuedIterator<KvWatchEntry> | null = null;
  private gen = 0;
  private lastRev = 0;
  private stopped = false;
  private reopening: Promise<void> | null = null;
  /** When the watch last brought back a write of this node (its heartbeat): the watch is known to work. */
  lastEcho = performance.now();

  constructor(private readonly kv: KV, private readonly onEntry: (e: KvWatchEntry) => void, private readonly log: Logger, private readonly what: string) {}

  async start(): Promise<void> {
    await this.open();
  }

  private async open(): Promise<void> {
    const gen = ++this.gen;
    const it = await this.kv.watch(this.lastRev ? { resumeFromRevision: this.lastRev + 1 } : {});
    if (this.stopped || gen !== this.gen) {
      it.stop();
      return;
    }
    this.iter = it;
    void (async () => {
      try {
        for await (const e of it) {
          if (gen !== this.gen) break;
          if (e.revision > this.lastRev) this.lastRev = e.revision;
          this.onEntry(e);
        }
      } catch (err) {
        this.log.warn('KV watch failed', { bucket: this.what, err: (err as Error).message });
      }
      if (!this.stopped && gen === this.gen) void this.reopen('the watch ended');
    })();
  }

  /** Open the watch again (it ended or stalled); retried until it works or the follower stops. */
  /** When this node's last heartbeat write succeeded. */
  lastWrite = 0;

  /** Reopen when a heartbeat written `staleMs` after the last one that came back has not come back. */
  checkEcho(staleMs: number): boolean {
    if (this.lastWrite - this.lastEcho <= staleMs) return false;
    this.lastEcho = performance.now();
    void this.reopen('own heartbeats not seen');
    return true;
  }

  reopen(why: string): Promise<void> {
    this.reopening ??= (async () => {
      this.log.warn('KV watch reopened', { bucket: this.what, why, from_revision: this.lastRev + 1 });
      this.gen++;
      this.iter?.stop();
      this.iter = null;
      while (!this.stopped) {
        try {
          // Creating the watcher's consumer can hang on a server that is still catching up: given up after
          // OPEN_TIMEOUT_MS (a late one is stopped as it arrives, its generation being past) and tried again.
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out opening the watch')), OPEN_TIMEOUT_MS); });
          try {
            await Promise.race([this.open(), late]);
          } finally {
            clearTimeout(timer);
          }
          return;
        } catch (err) {
          this.gen++;
          this.log.warn('KV watch could not be reopened', { bucket: this.what, err: (err as Error).message });
          await new Promise((r) => setTimeout(r, 500).unref());
        }
      }
    })().finally(() => {
      this.reopening = null;
    });
    return this.reopening;
  }

  stop(): void {
    this.stopped = true;
    this.gen++;
    this.iter?.stop();
    this.iter = null;
  }
}
