// The cluster session registry (DESIGN.md "Data layer": soft state in NATS KV): bucket `<name>_sessions`, one
// key per bound full JID (base64url: valid KV key characters), value = the node holding it and what the
// router needs (priority, presence). Each node publishes its own sessions and mirrors the others' into the
// session manager as RemoteSessions. A resource bound on two nodes: the later registration wins and the
// older session is closed with <conflict/> (RFC 6120 §7.7.2.2 override, as on one node).
import { parse } from 'ltx';
import type { Element } from '@xmpp/xml';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { KvFollower } from './kv-follower.js';
import { withRetry } from '../../data/cluster/retry.js';

/** A conditional delete that lost to a newer write: nothing to retry. */
const superseded = (err: unknown) => /wrong last sequence/i.test((err as Error)?.message ?? '');
import { Jid } from '../jid.js';
import { StreamError } from '../errors.js';
import type { Core } from '../core.js';
import type { Session } from '../session.js';
import type { SessionObserver } from '../session-manager.js';
import type { ClusterRuntime } from './cluster-runtime.js';
import type { NodeLiveness } from './node-liveness.js';
import { RemoteSession, type RemoteSessionLink } from './remote-session.js';

/** A registry value (short names: one per session, rewritten at each presence change). */
export interface Entry {
  /** node, its boot, session id, full JID, priority, presence XML or null, bound at (ms), marks */
  n: string; b: string; id: string; j: string; p: number; x: string | null; t: number; k?: string[];
}

export interface Mirrored { rev: number; e: Entry; s: RemoteSession }

interface Own { s: Session; rev: number; tail: Promise<void> }

/** How long a presence change waits for its registry write before the session goes on. */
const PUBLISH_WAIT_MS = 500;
/**
 * One registry put attempt. A put sent while the bucket's stream elects a leader is dropped and only its
 * timeout tells: a short one makes the retry land soon after the election (not up to the 5 s default later).
 */
const PUT_TRY_MS = 2000;

export const sessionKey = (jid: Jid | string): string => Buffer.from(jid.toString()).toString('base64url');

export class SessionRegistry implements SessionObserver {
  /** Other nodes' sessions (and stale ones of an earlier boot of this node), by key. */
  readonly mirror = new Map<string, Mirrored>();
  /** This node's sessions, by key, with the revision of their entry (0 until written). */
  private readonly own = new Map<string, Own>();
  private readonly pending = new Set<Promise<unknown>>();
  private kv!: KV;
  private watch: KvFollower | null = null;

  constructor(
    private readonly core: Core,
    private readonly cluster: ClusterRuntime,
    private readonly liveness: NodeLiveness,
    private readonly link: RemoteSessionLink,
  ) {}

  async start(): Promise<void> {
    const c = this.cluster.config;
    // A fresh NATS cluster may still be electing its JetStream leader when every node starts at once.
    this.kv = await withRetry(`KV ${c.name}_sessions`, 60_000, () => new Kvm(this.cluster.nc).create(`${c.name}_sessions`, { replicas: c.replicas, history: 1 }));
    this.watch = new KvFollower(this.kv, (e) => this.onEntry(e), this.core.log, `${c.name}_sessions@${c.node}`);
    await this.watch.start();
    this.core.sessions.observer = this;
    this.cluster.statusParts.set('sessions', () => ({
      local: this.own.size,
      remote: [...this.mirror.values()].filter((m) => this.core.sessions.get(m.s.jid) === m.s).length,
      stale: [...this.mirror.values()].filter((m) => this.isStale(m)).length,
    }));
  }

  // ---- this node's sessions --------------------------------------------------------------------

  private entry(s: Session): string {
    const e: Entry = {
      n: this.cluster.node, b: this.liveness.boot, id: s.id, j: s.jid.toString(), p: s.priority,
      x: s.presence ? s.presence.toString() : null, t: s.startedAt,
    };
    if (s.marks.size) e.k = [...s.marks];
    return JSON.stringify(e);
  }

  /** Queue a KV operation on a key after the previous ones on it (their revisions decide conflicts). */
  private chain(o: Own, op: () => Promise<void>): Promise<void> {
    const p = (o.tail = o.tail.then(op).catch((err) => {
      this.core.log.warn('session registry write failed', { jid: o.s.jid.toString(), err: (err as Error).message });
    }));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  added(s: Session): void {
    const key = sessionKey(s.jid);
    const o: Own = { s, rev: 0, tail: Promise.resolve() };
    this.own.set(key, o);
    void this.chain(o, async () => {
      o.rev = await this.putRetried(key, o);
    });
  }

  /** Writes are retried across a JetStream leader election (a NATS server lost) while the session is current. */
  private putRetried(key: string, o: Own): Promise<number> {
    return withRetry('session registry write', 60_000, () => this.kv.put(key, this.entry(o.s), { timeout: PUT_TRY_MS }), () => this.stopped || this.own.get(key) !== o);
  }

  private deleteRetried(key: string, rev: number): Promise<void> {
    return withRetry('session registry delete', 60_000, async () => {
      try {
        await this.kv.delete(key, { previousSeq: rev });
      } catch (err) {
        if (!superseded(err)) throw err;
      }
    }, () => this.stopped);
  }
  private stopped = false;

  changed(s: Session): Promise<void> {
    const key = sessionKey(s.jid);
    const o = this.own.get(key);
    if (!o || o.s !== s) return Promise.resolve();
    const written = this.chain(o, async () => {
      if (this.own.get(key) !== o) return;
      o.rev = await this.putRetried(key, o);
    });
    // The session waits for the write, but not through a JetStream leader election (seconds): it goes on
    // after PUBLISH_WAIT_MS and the write lands later.
    return Promise.race([written, new Promise<void>((r) => setTimeout(r, PUBLISH_WAIT_MS).unref())]);
  }

  removed(s: Session): void {
    const key = sessionKey(s.jid);
    const o = this.own.get(key);
    if (!o || o.s !== s) return;
    this.own.delete(key);
    // Only our own entry: a newer registration of the same JID elsewhere stays.
    void this.chain(o, async () => {
      if (o.rev) await this.deleteRetried(key, o.rev);
    });
  }

  // ---- the mirror of the other nodes' sessions ----------------------------------------------------------

  private onEntry(e: KvWatchEntry): void {
    if (e.key.startsWith('n.')) {
      if (e.key === `n.${this.cluster.node}`) this.watch!.lastEcho = performance.now();
      return;
    }
    try {
      if (e.operation === 'PUT') this.put(e.key, e.revision, e.json<Entry>());
      else this.deleted(e.key, e.revision);
    } catch (err) {
      this.core.log.warn('bad session registry entry', { key: e.key, err: (err as Error).message });
    }
  }

  /**
   * This node's heartbeat in this bucket too (key `n.<node>`: never a base64url session key), so that a watch
   * that lost its server is noticed here as in the nodes bucket, and reopened.
   */
  beat(): void {
    if (this.kv === undefined) return; // the first heartbeat comes before the registry's bucket is open
    this.kv.put(`n.${this.cluster.node}`, this.liveness.boot).then(() => {
      if (this.watch) this.watch.lastWrite = performance.now();
    }, () => {});
  }

  /** A dead node's echo key goes with it. */
  async forgetNode(node: string): Promise<void> {
    await this.kv.delete(`n.${node}`).catch(() => {});
  }

  checkWatch(staleMs: number): void {
    this.watch?.checkEcho(staleMs);
  }

  private put(key: string, rev: number, e: Entry): void {
    const prev = this.mirror.get(key);
    if (prev && prev.rev >= rev) return;
    if (e.n === this.cluster.node && e.b === this.liveness.boot) {
      // Our own write: whatever another node held under this JID was replaced by it.
      if (prev) this.drop(key, prev);
      return;
    }
    if (prev && prev.e.id === e.id && prev.e.n === e.n) {
      // The same session's new presence or priority.
      prev.rev = rev;
      prev.e = e;
      prev.s.priority = e.p;
      prev.s.presence = e.x === null ? null : (parse(e.x) as unknown as Element);
      prev.s.marks = new Set(e.k ?? []);
      return;
    }
    if (prev) this.drop(key, prev);
    const jid = Jid.parse(e.j);
    const s = new RemoteSession(e.id, jid, e.n, e.t, e.p, e.x === null ? null : (parse(e.x) as unknown as Element), this.link, e.k);
    const m: Mirrored = { rev, e, s };
    this.mirror.set(key, m);
    const mine = this.own.get(key);
    // Ours is newer (or not written yet, so it will be): the other node closes its own on seeing ours.
    if (mine && (mine.rev === 0 || mine.rev > rev)) return;
    if (!this.isStale(m) && this.liveness.isReachable(e.n)) this.show(m);
  }

  private deleted(key: string, rev: number): void {
    const prev = this.mirror.get(key);
    if (prev && prev.rev < rev) this.drop(key, prev);
    const mine = this.own.get(key);
    if (mine && mine.rev && mine.rev < rev) {
      // Our live session's entry was purged by another node that took this one for dead: its contacts were
      // told it is unavailable, so it ends, and the client reconnects.
      this.core.log.warn('session purged by another node; closing it', { jid: mine.s.jid.toString() });
      mine.s.close(new StreamError('reset', 'this cluster node was taken for gone; reconnect'));
    }
  }

  /** Out of the mirror and the session manager, without end-of-session work (its node or the purger does it). */
  private drop(key: string, m: Mirrored): void {
    if (this.mirror.get(key) === m) this.mirror.delete(key);
    this.hide(m);
  }

  /** Into the session manager: routable. A local session of the same JID is older, and is closed (conflict). */
  show(m: Mirrored): void {
    const cur = this.core.sessions.get(m.s.jid);
    if (cur === m.s) return;
    if (cur?.remote !== undefined) {
      this.core.sessions.remove(cur);
    } else if (cur) {
      // The local session is the older one: it leaves (counted here, as its own close will find it gone) and is closed.
      if (this.core.sessions.remove(cur)) this.core.metrics.sessions.dec();
      cur.close(new StreamError('conflict', 'replaced by a new session with the same resource'));
    }
    this.core.sessions.add(m.s);
  }

  hide(m: Mirrored): void {
    if (this.core.sessions.get(m.s.jid) === m.s) this.core.sessions.remove(m.s);
  }

  /** Registered by a node that is dead or gone from the nodes bucket, or by an earlier boot of its node. */
  isStale(m: Mirrored): boolean {
    if (m.e.n === this.cluster.node) return m.e.b !== this.liveness.boot;
    const n = this.liveness.nodes.get(m.e.n);
    return n === undefined || n.boot !== m.e.b || !n.alive;
  }

  /** A node became unreachable or came back: its sessions leave or rejoin the session manager. */
  nodeChanged(node: string, reachable: boolean): void {
    for (const m of this.mirror.values()) {
      if (m.e.n !== node) continue;
      if (reachable && !this.isStale(m) && this.liveness.isReachable(node)) {
        const mine = this.own.get(sessionKey(m.s.jid));
        if (!mine || (mine.rev !== 0 && mine.rev < m.rev)) this.show(m);
      } else {
        this.hide(m);
      }
    }
  }

  /** Remove an entry of a gone session (the purge): only if it was not replaced meanwhile. */
  async forget(key: string, m: Mirrored): Promise<void> {
    this.drop(key, m);
    const p = this.deleteRetried(key, m.rev).catch(() => {});
    this.pending.add(p);
    await p;
    this.pending.delete(p);
  }

  /** Stop following; `flush`: wait (a little) for this node's last writes (a graceful stop's deletes). */
  async stop(flush: boolean): Promise<void> {
    this.core.sessions.observer = null;
    if (flush && this.pending.size) {
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, 3000).unref())]);
    }
    this.stopped = true;
    if (flush) await this.forgetNode(this.cluster.node);
    this.watch?.stop();
    for (const [key, m] of [...this.mirror]) this.drop(key, m);
  }
}
