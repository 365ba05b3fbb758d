// Node liveness (DESIGN.md "Data layer": soft state in NATS KV): each node puts a heartbeat into the
// `<name>_nodes` bucket every heartbeat_interval and watches the bucket; a node not heard from for
// node_timeout (by this node's clock, so clocks need not agree) is dead. `boot` tells a restart from a
// node that went on: sessions registered by an earlier boot are stale.
import { withRetry } from '../../data/cluster/retry.js';
import { randomBytes } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { KvWatchEntry } from '@nats-io/kv';
import { KvFollower } from './kv-follower.js';
import type { ClusterRuntime } from './cluster-runtime.js';
import type { Logger } from '../log.js';

export interface NodeState {
  boot: string;
  /** performance.now() when this node last heard of it. */
  seen: number;
  /** Heard from within node_timeout. */
  alive: boolean;
  /** Did not answer on its subject since its last heartbeat (no responders, timeout). */
  unreachable: boolean;
  /** When it started (its own clock, ms since the epoch): for status only. */
  started: number;
  /** It takes stanzas in batches (node-link.ts); a node of an earlier version takes one request per stanza. */
  batches: boolean;
}

/** The version of the node link this node speaks, in its heartbeat: 2 = batches. */
const LINK_VERSION = 2;

export class NodeLiveness {
  readonly boot = randomBytes(9).toString('base64url');
  readonly nodes = new Map<string, NodeState>();
  /** Called when a node is found dead, gone or unreachable, or is heard from again. */
  onChange: (node: string, reachable: boolean) => void = () => {};
  /** When this node's own last heartbeat was written: a node cut off from NATS judges no one. */
  private ownBeat = performance.now();
  private kv!: KV;
  private watch: KvFollower | null = null;
  /** Each heartbeat tick, after this node's heartbeat was written (the session registry writes its own echo key). */
  onBeat: () => void = () => {};
  /** Each check, while this node's heartbeats are written: the registry checks its watch the same way. */
  onCheck: (staleMs: number) => void = () => {};
  private beat: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(private readonly cluster: ClusterRuntime, private readonly log: Logger) {}

  async start(): Promise<void> {
    const c = this.cluster.config;
    // A fresh NATS cluster may still be electing its JetStream leader when every node starts at once.
    this.kv = await withRetry(`KV ${c.name}_nodes`, 60_000, () => new Kvm(this.cluster.nc).create(`${c.name}_nodes`, { replicas: c.replicas, history: 1 }));
    this.nodes.set(c.node, { boot: this.boot, seen: performance.now(), alive: true, unreachable: false, started: this.started, batches: true });
    await this.heartbeat();
    this.watch = new KvFollower(this.kv, (e) => this.entry(e), this.log, `${c.name}_nodes@${c.node}`);
    await this.watch.start();
    this.beat = setInterval(() => {
      void this.heartbeat();
      this.check();
    }, c.heartbeat_interval * 1000);
    this.beat.unref();
    this.cluster.statusParts.set('nodes', () => this.status());
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.kv.put(this.cluster.config.node, JSON.stringify({ boot: this.boot, started: this.started, link: LINK_VERSION }));
      this.ownBeat = performance.now();
      if (this.watch) this.watch.lastWrite = this.ownBeat;
      this.onBeat();
    } catch (err) {
      this.log.warn('cluster heartbeat failed', { err: (err as Error).message });
    }
  }

  private entry(e: KvWatchEntry): void {
    if (e.key === this.cluster.config.node) {
      this.watch!.lastEcho = performance.now();
      return;
    }
    if (e.operation !== 'PUT') {
      // Deleted by a node leaving gracefully (it closed its sessions), or by the node that purged it.
      if (this.nodes.delete(e.key)) this.onChange(e.key, false);
      return;
    }
    let v: { boot?: string; started?: number; link?: number };
    try {
      v = e.json();
    } catch {
      return;
    }
    const prev = this.nodes.get(e.key);
    const boot = String(v.boot ?? '');
    this.nodes.set(e.key, { boot, seen: performance.now(), alive: true, unreachable: false, started: Number(v.started ?? 0), batches: Number(v.link ?? 1) >= 2 });
    if (!prev || !prev.alive || prev.unreachable || prev.boot !== boot) this.onChange(e.key, true);
  }

  /** Nodes silent for node_timeout are dead (unless this node is the one cut off). */
  check(): void {
    const limit = this.cluster.config.node_timeout * 1000;
    const now = performance.now();
    if (now - this.ownBeat > limit) return;
    // Our heartbeats are written but the watch does not bring them back: it lost its server. Reopened, and
    // no one is judged on what a stale watch did not show.
    const stale = Math.max(3 * this.cluster.config.heartbeat_interval * 1000, 1000);
    this.onCheck(stale);
    if (this.watch?.checkEcho(stale)) {
      for (const n of this.nodes.values()) n.seen = Math.max(n.seen, now - limit / 2);
      return;
    }
    for (const [name, n] of this.nodes) {
      if (name === this.cluster.config.node || !n.alive || now - n.seen < limit) continue;
      n.alive = false;
      this.log.warn('cluster node is dead', { node: name, silent_ms: Math.round(now - n.seen) });
      this.onChange(name, false);
    }
  }

  /** A node did not answer on its subject (no responders, timeout): its sessions are hidden until it beats again. */
  markUnreachable(node: string): void {
    const n = this.nodes.get(node);
    if (!n || n.unreachable || node === this.cluster.config.node) return;
    n.unreachable = true;
    this.log.warn('cluster node does not answer', { node });
    this.onChange(node, false);
  }

  isReachable(node: string): boolean {
    const n = this.nodes.get(node);
    return n !== undefined && n.alive && !n.unreachable;
  }

  /** This node has run long enough to have heard every live node (a purge before that could hit live ones). */
  settled(): boolean {
    return performance.now() - this.startedAt > this.cluster.config.node_timeout * 1000;
  }
  private readonly startedAt = performance.now();

  /** The live node that acts for the cluster on a dead node's leftovers: the lowest-named, by every node's view. */
  leader(): string {
    let best = this.cluster.config.node;
    for (const [name, n] of this.nodes) if (n.alive && !n.unreachable && name < best) best = name;
    return best;
  }

  /** Forget a dead node's heartbeat entry (done by the node that purged it). */
  async forget(node: string): Promise<void> {
    this.nodes.delete(node);
    try {
      await this.kv.delete(node);
    } catch { /* another node did it */ }
  }

  status(): unknown {
    const now = performance.now();
    return Object.fromEntries([...this.nodes].map(([name, n]) => [name, {
      // this node's own: when it last wrote it (its echo through the watch does not move `seen`)
      alive: n.alive, reachable: !n.unreachable, last_heartbeat_ms: Math.round(now - (name === this.cluster.config.node ? this.ownBeat : n.seen)), started: new Date(n.started).toISOString(),
      ...(name === this.cluster.config.node ? { self: true } : {}),
    }]));
  }

  /** Leaving gracefully: the others stop counting on this node at once. */
  async stop(graceful: boolean): Promise<void> {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
    this.watch?.stop();
    if (graceful) {
      try {
        await this.kv.delete(this.cluster.config.node);
      } catch { /* NATS already gone */ }
    }
  }
}
