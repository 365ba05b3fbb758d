// One node per bare JID for sharded service domains (DESIGN.md "Data layer", issue 13: each MUC room hosted on
// one node at a time, taken over on node loss). Claims live in the NATS KV bucket `<name>_placement`
// (create-if-absent, compare-and-set takeover), mirrored here by watch; stanzas go to the holder over core
// NATS request/reply on `<name>.place.<node>`, and "no responders" means the holder is gone.
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { RequestError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Element } from '@xmpp/xml';
import { Jid } from '../jid.js';
import { parseXml } from '../stanza.js';
import type { Logger } from '../log.js';
import type { DomainPlacement, ServiceEntry } from '../router.js';
import { withRetry } from '../../data/cluster/retry.js';

/** What the placement needs of the rest of the node. */
export interface PlacementDeps {
  nc: NatsConnection;
  /** Cluster name (prefix of buckets and subjects), this node's name, replicas of the bucket. */
  cluster: string;
  node: string;
  replicas: number;
  /** How often the held claims are checked against the bucket (the node's heartbeat period, ms). */
  recheckMs: number;
  /** The served domains of this node (the router's). */
  entry(domain: string): ServiceEntry | undefined;
  /** Node liveness (heartbeats) when the cluster has it: a dead holder's claims are taken over. */
  alive?: (node: string) => boolean;
  /**
   * Whether a holder that did not answer (no responders) is still heard from: it may be reconnecting to another
   * NATS server, so its stanzas wait (in order per sender) until it answers or its heartbeats stop. Without it,
   * no responders means gone at once.
   */
  mayWait?: (node: string) => boolean;
  log: Logger;
}

interface Claim { node: string; rev: number }
/** A bare JID whose state the module holds here; `busy` counts its stanzas being handled. */
interface Held { entry: ServiceEntry; bare: Jid; ready: Promise<void>; busy: number }
interface Forward { d: string; f: string; t: string; x: string }
type Answer = { ok: true } | { moved: true };

/** KV keys allow [-/_=.A-Za-z0-9]: base64url of the bare JID (domain and localpart are arbitrary text). */
const keyOf = (domain: string, local: string): string => Buffer.from(`${local}@${domain}`).toString('base64url');
const FORWARD_TIMEOUT_MS = 30_000;
const ATTEMPTS = 6;

export class JidPlacement implements DomainPlacement {
  private readonly mirror = new Map<string, Claim>();
  /** Bare JIDs whose state the module holds on this node, by key (their entry's release is called on loss). */
  private readonly held = new Map<string, Held>();
  /** Claims being deleted: a stanza for one waits, so that it does not re-read the claim that is going. */
  private readonly dropping = new Map<string, Promise<void>>();
  private readonly codec = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private sub: Subscription | null = null;
  private stopWatch: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private checking = false;
  /** When the watch last delivered this node's own beat (performance.now()). */
  private beatSeen = 0;
  private readonly beatKey: string;

  private constructor(private readonly d: PlacementDeps, private readonly kv: KV) {
    this.beatKey = `beat.${d.node}`; // node names have no dots; claim keys (base64url) have none either
  }

  static async start(d: PlacementDeps): Promise<JidPlacement> {
    // Created at boot, perhaps while JetStream elects its leaders: retried as the data layer does.
    const kv = await withRetry(`KV ${d.cluster}_placement`, 60_000, () => new Kvm(d.nc).create(`${d.cluster}_placement`, { replicas: d.replicas, history: 1 }));
    const p = new JidPlacement(d, kv);
    await p.watch();
    p.sub = d.nc.subscribe(p.subject(d.node), { callback: (err, msg) => (err ? undefined : void p.onForward(msg)) });
    // The server has the subscription before this node counts as started (others reach it from now on).
    await d.nc.flush();
    p.timer = setInterval(() => void p.recheck(), d.recheckMs);
    p.timer.unref();
    return p;
  }

  private subject(node: string): string {
    return `${this.d.cluster}.place.${node}`;
  }

  /** Mirror the bucket; the initial values are in before start() resolves. */
  private async watch(): Promise<void> {
    this.stopWatch?.();
    const iter = await this.kv.watch({ key: '>' });
    this.stopWatch = () => iter.stop();
    this.beatSeen = performance.now();
    let initial: () => void = () => {};
    const loaded = new Promise<void>((resolve) => (initial = resolve));
    void (async () => {
      for await (const e of iter) {
        this.apply(e);
        if (e.isUpdate) initial(); // the last of the initial values is marked as an update too
      }
    })().catch((err) => this.d.log.error('placement watch ended', { err }));
    // An empty bucket has nothing to deliver: do not wait for a first entry.
    const status = await this.kv.status();
    if (status.values === 0) initial();
    await loaded;
  }

  private apply(e: KvEntry): void {
    if (e.key.startsWith('beat.')) {
      if (e.key === this.beatKey) this.beatSeen = performance.now();
      return;
    }
    const cur = this.mirror.get(e.key);
    if (cur && cur.rev > e.revision) return; // a claim we learnt first-hand is newer
    if (e.operation !== 'PUT') this.mirror.delete(e.key);
    else this.mirror.set(e.key, { node: this.decoder.decode(e.value), rev: e.revision });
    const h = this.held.get(e.key);
    if (h && this.mirror.get(e.key)?.node !== this.d.node) void this.lose(e.key);
  }

  /** This node no longer holds `key`: the module drops its state (another node owns it now, or nobody). */
  private async lose(key: string): Promise<void> {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    this.d.log.info('placement lost', { jid: h.bare.toString() });
    try {
      await h.ready.catch(() => undefined);
      await h.entry.release?.(h.bare);
    } catch (err) {
      this.d.log.error('placement release failed', { err, jid: h.bare.toString() });
    }
  }

  async route(entry: ServiceEntry, el: Element, from: Jid, to: Jid): Promise<void> {
    const key = keyOf(entry.domain, to.local);
    const dropping = this.dropping.get(key);
    if (dropping) await dropping;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const claim = this.mirror.get(key) ?? (await this.claim(key, null));
      if (!claim) continue; // lost a race to create: the winner is mirrored now
      if (claim.node === this.d.node) return this.runHere(entry, key, el, from, to);
      if (this.d.alive && !this.d.alive(claim.node)) {
        await this.claim(key, claim);
        continue;
      }
      const answer = await this.patiently(claim.node, entry, el, from, to);
      if (answer === 'done') return;
      if (answer === 'moved') {
        await this.refresh(key);
        // Still claimed by a node that does not serve it (its module stopped, or its mirror went wrong): take it.
        const now = this.mirror.get(key);
        if (now?.node !== claim.node || now.rev !== claim.rev) continue;
      }
      await this.claim(key, claim);
    }
    throw new Error(`no node would take ${to.bare().toString()}`);
  }

  /**
   * Claim `key`: create it (prev null) or take it over from the claim `prev` saw (compare-and-set on its
   * revision). Returns the claim now in the mirror (ours when we won), or null after a lost race.
   */
  private async claim(key: string, prev: Claim | null): Promise<Claim | null> {
    if (this.stopped) return null; // leaving: this node takes nothing more
    const value = this.codec.encode(this.d.node);
    try {
      const rev = prev ? await this.kv.update(key, value, prev.rev) : await this.kv.create(key, value);
      const mine = { node: this.d.node, rev };
      const cur = this.mirror.get(key);
      if (!cur || cur.rev < rev) this.mirror.set(key, mine);
      if (prev) this.d.log.info('placement taken over', { key, from: prev.node });
      return this.mirror.get(key) ?? mine;
    } catch (err) {
      // Someone else's create or takeover got in first (wrong last sequence): read what won.
      this.d.log.debug('placement claim lost', { key, err });
      await this.refresh(key);
      return null;
    }
  }

  /** Read a claim from the bucket itself (the mirror may lag behind it). */
  private async refresh(key: string): Promise<void> {
    const e = await this.kv.get(key);
    if (e) this.apply(e);
    else this.mirror.delete(key);
  }

  /** Handle a stanza for a bare JID this node holds: the module loads it first if it just came here. */
  private async runHere(entry: ServiceEntry, key: string, el: Element, from: Jid, to: Jid): Promise<void> {
    let h = this.held.get(key);
    if (!h || h.entry !== entry) {
      const bare = to.bare();
      h = { entry, bare, ready: Promise.resolve(entry.acquire?.(bare)), busy: 0 };
      this.held.set(key, h);
      this.d.log.debug('placement acquired', { jid: bare.toString() });
    }
    h.busy++;
    try {
      await h.ready;
      await entry.handle(el, from, to);
    } finally {
      // Nothing left of it once its last stanza is done (no room made, or it went): the claim goes.
      if (--h.busy === 0) {
        if (this.held.has(key)) await this.dropIfEmpty(key, h);
        // Lost while stanzas queued here were handled: what they made here goes too.
        else if (h.entry.holds?.(h.bare)) await h.entry.release?.(h.bare);
      }
    }
  }

  /** forward(), again while a holder that does not answer is still heard from (backing off to once a second). */
  private async patiently(node: string, entry: ServiceEntry, el: Element, from: Jid, to: Jid): Promise<'done' | 'moved' | 'gone'> {
    let wait = 100;
    for (;;) {
      const answer = await this.forward(node, entry, el, from, to);
      if (answer !== 'gone' || this.stopped || !this.d.mayWait?.(node)) return answer;
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 1000);
    }
  }

  /** Send a stanza to its holder: 'done' when handled there, 'moved' when it does not hold it, 'gone' when it is down. */
  private async forward(node: string, entry: ServiceEntry, el: Element, from: Jid, to: Jid): Promise<'done' | 'moved' | 'gone'> {
    const body: Forward = { d: entry.domain, f: from.toString(), t: to.toString(), x: el.toString() };
    try {
      const msg = await this.d.nc.request(this.subject(node), this.codec.encode(JSON.stringify(body)), { timeout: FORWARD_TIMEOUT_MS });
      const a = JSON.parse(this.decoder.decode(msg.data)) as Answer;
      return 'moved' in a ? 'moved' : 'done';
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) return 'gone';
      throw err;
    }
  }

  /** A stanza forwarded by another node: handled here when this node holds its JID, else answered 'moved'. */
  private async onForward(msg: Msg): Promise<void> {
    let answer: Answer = { ok: true };
    try {
      const f = JSON.parse(this.decoder.decode(msg.data)) as Forward;
      const to = Jid.parse(f.t);
      const entry = this.d.entry(f.d);
      const key = keyOf(f.d, to.local);
      if (!entry || this.stopped || this.mirror.get(key)?.node !== this.d.node) answer = { moved: true };
      else await this.runHere(entry, key, parseXml(f.x), Jid.parse(f.f), to);
    } catch (err) {
      this.d.log.error('forwarded stanza failed', { err });
    }
    msg.respond(this.codec.encode(JSON.stringify(answer)));
  }

  private async dropIfEmpty(key: string, h: Held): Promise<void> {
    if (h.busy > 0 || this.held.get(key) !== h || !h.entry.holds || h.entry.holds(h.bare)) return;
    this.held.delete(key);
    const claim = this.mirror.get(key);
    if (claim?.node !== this.d.node) return;
    this.mirror.delete(key);
    const done = this.kv.delete(key, { previousSeq: claim.rev }).catch((err: unknown) => {
      this.d.log.debug('placement drop skipped', { key, err }); // changed meanwhile: not ours to delete
    }).finally(() => {
      if (this.dropping.get(key) === done) this.dropping.delete(key);
    });
    this.dropping.set(key, done);
    await done;
  }

  /**
   * A watch whose consumer stalled (its NATS server died) would leave this node serving rooms taken over
   * elsewhere: each heartbeat writes this node's beat key, and a watch that has not delivered it for three
   * periods is recreated (its initial values bring the mirror up to date).
   */
  private async beat(): Promise<void> {
    try {
      await this.kv.put(this.beatKey, this.codec.encode(String(Date.now())));
    } catch (err) {
      this.d.log.debug('placement beat failed', { err });
      return; // NATS itself is away: nothing to judge the watch by
    }
    if (performance.now() - this.beatSeen > 3 * this.d.recheckMs && !this.stopped) {
      this.d.log.warn('placement watch stalled; recreating it');
      await this.watch().catch((err: unknown) => this.d.log.error('placement watch could not be recreated', { err }));
    }
  }

  /** With each heartbeat: what this node holds is still claimed by it in the bucket (re-created if it vanished). */
  private async recheck(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.beat();
      await this.recheckHeld();
    } finally {
      this.checking = false;
    }
  }

  private async recheckHeld(): Promise<void> {
    for (const [key, h] of this.held) {
      if (this.stopped) return;
      await this.dropIfEmpty(key, h); // gone without a stanza (a timer destroyed the room)
      if (this.held.get(key) !== h) continue;
      const claim = this.mirror.get(key);
      if (claim?.node === this.d.node) continue;
      if (claim) await this.lose(key);
      else if (!(await this.claim(key, null).catch(() => null))) await this.lose(key);
    }
  }

  /** For `xmppd cluster status`: the JIDs this node holds, and the claims per node. */
  status(): { held: number; claims: Record<string, number> } {
    const claims: Record<string, number> = {};
    for (const c of this.mirror.values()) claims[c.node] = (claims[c.node] ?? 0) + 1;
    return { held: this.held.size, claims };
  }

  /**
   * Leaving gracefully (before the node's cluster links go): every JID held here is let go, its claim deleted so
   * that the next stanza makes a fresh holder at once, and the module releases it (a MUC room tells its occupants
   * to rejoin, XEP-0045 status 332) while they can still be reached.
   */
  async drain(): Promise<void> {
    this.stopped = true;
    for (const [key, h] of [...this.held]) {
      this.held.delete(key);
      const claim = this.mirror.get(key);
      if (claim?.node === this.d.node) {
        this.mirror.delete(key);
        await this.kv.delete(key, { previousSeq: claim.rev }).catch(() => undefined);
      }
      try {
        await h.ready.catch(() => undefined);
        await h.entry.release?.(h.bare);
      } catch (err) {
        this.d.log.error('placement release failed', { err, jid: h.bare.toString() });
      }
    }
  }

  /** Stop serving forwarded stanzas; claims stay for a restart under the same node name, or a takeover. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.stopWatch?.();
    await this.sub?.drain().catch(() => undefined);
    this.held.clear();
  }
}
