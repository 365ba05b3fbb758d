// Per-session capabilities of the host's available clients: each presence claim is looked up in the
// verified cache, or its disco#info is asked for (XEP-0115 §6.2, XEP-0390 §4 "Verification") with one
// query per hash at a time server-wide and a few per session, and verified before it is shared; an answer
// that does not verify is used for its own session only.
import { xml, StanzaError, type Element, type Jid, type ModuleContext, type Session } from '../../src/sdk.js';
import { caps1Ver, caps2Hash } from './caps-hash.js';
import type { CapsCache } from './caps-cache.js';
import { claimOf, type Claim, type Verifiable } from './claim.js';
import { NS_DISCO_INFO, clientName, parseDiscoInfo, type DiscoData } from './disco-data.js';

/** disco#info queries one session may have outstanding; later claims wait for a slot (latest wins). */
export const MAX_QUERIES_PER_SESSION = 2;
/**
 * New rows one session may add to the shared cache. A client can make up any feature list with a matching
 * hash: past this, what it proves is still used for that session but not stored for everyone.
 */
export const MAX_NEW_ROWS_PER_SESSION = 8;

type Features = ReadonlySet<string>;
export type CapsResult = 'hit' | 'miss' | 'verification_failure' | 'query_failure';
/** The counter the module registers (xmppd_caps_lookups_total). */
export interface ResultCounter { inc(labels: { host: string; result: CapsResult }): void }

interface Entry {
  session: Session;
  claim: Claim | null;
  /** Known features for the current claim; undefined while unknown (or when its answer failed). */
  features: Features | undefined;
  /** What caps_updated last said for this session. */
  announced: Features | undefined;
  running: number;
  /** The current claim waits for a query slot. */
  waiting: boolean;
  newRows: number;
  /** The client's name from the disco#info behind the current claim (XEP-0030 identity), once known. */
  client: string | undefined;
}

/**
 * Verifications in flight by cache key, for every host of this process (the cache is server-wide): a second
 * client with the same hash waits for the first one's answer instead of being asked too.
 */
const INFLIGHT = new Map<string, Promise<Features | null>>();

const sameSet = (a: Features, b: Features) => a.size === b.size && [...a].every((x) => b.has(x));

export class CapsTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = INFLIGHT;
  private stopped = false;

  constructor(
    private readonly ctx: ModuleContext<any>,
    private readonly cache: CapsCache,
    private readonly results: ResultCounter,
    private readonly queryTimeoutMs: number,
  ) {}

  featuresOf(full: Jid): Features | undefined {
    const e = this.entries.get(full.toString());
    if (e) return e.features;
    const claim = this.remoteClaim(full);
    if (!claim) return undefined;
    for (const v of claim.verifiable) {
      const f = this.cache.peek(v.key);
      if (f) return f;
    }
    return undefined;
  }

  /** featuresOf, reading the shared cache for a client on another cluster node. */
  async load(full: Jid): Promise<Features | undefined> {
    const known = this.featuresOf(full);
    if (known || this.entries.has(full.toString())) return known;
    const claim = this.remoteClaim(full);
    return claim ? this.cached(claim) : undefined;
  }

  /**
   * The caps claim of a client bound on another cluster node, from its last presence as the session registry
   * carries it: only verified hashes count (its own node verified them into the shared cache).
   */
  private remoteClaim(full: Jid): Claim | null {
    if (!full.resource) return null;
    const s = this.ctx.sessionsOf(full.bare()).find((x) => x.jid.resource === full.resource);
    if (!s || s.remote === undefined || !s.presence) return null;
    return claimOf(s.presence);
  }

  clientOf(full: Jid): string | undefined {
    return this.entries.get(full.toString())?.client;
  }

  /** An available presence of a local session: follow the capabilities it claims (never blocks it). */
  observe(session: Session, presence: Element): void {
    const claim = claimOf(presence);
    if (!claim || this.stopped) return;
    const jid = session.jid.toString();
    let e = this.entries.get(jid);
    if (!e || e.session !== session) {
      e = { session, claim: null, features: undefined, announced: undefined, running: 0, waiting: false, newRows: 0, client: undefined };
      this.entries.set(jid, e);
    }
    if (e.claim?.id === claim.id) return; // the same caps again (every presence repeats them)
    e.claim = claim;
    e.features = undefined;
    e.client = undefined;
    e.waiting = false;
    void this.lookup(e, claim);
  }

  /** The session became unavailable or ended: its capabilities are forgotten. */
  forget(session: Session): void {
    const jid = session.jid.toString();
    if (this.entries.get(jid)?.session === session) this.entries.delete(jid);
  }

  stop(): void {
    this.stopped = true;
    this.entries.clear();
  }

  private current(e: Entry, claim: Claim): boolean {
    return !this.stopped && this.entries.get(e.session.jid.toString()) === e && e.claim === claim;
  }

  private count(result: CapsResult): void {
    this.results.inc({ host: this.ctx.host, result });
  }

  private async cached(claim: Claim): Promise<Features | undefined> {
    for (const v of claim.verifiable) {
      const f = await this.cache.get(v.key);
      if (f) return f;
    }
    return undefined;
  }

  private async lookup(e: Entry, claim: Claim): Promise<void> {
    try {
      if (claim.verifiable.length) {
        const hit = await this.cached(claim);
        this.count(hit ? 'hit' : 'miss');
        if (hit) return await this.settle(e, claim, hit);
      }
      await this.query(e, claim);
    } catch (err) {
      this.ctx.log.error('capabilities lookup failed', { err, jid: e.session.jid.toString() });
    }
  }

  /** Ask the client (or wait for whoever is asking already), unless the session has no free slot. */
  private async query(e: Entry, claim: Claim): Promise<void> {
    if (!this.current(e, claim)) return;
    const v = claim.verifiable[0];
    const features = v ? await this.verified(e, claim, v) : await this.sessionOnly(e, claim, claim.sessionNode!);
    if (features) await this.settle(e, claim, features);
  }

  private async verified(e: Entry, claim: Claim, v: Verifiable): Promise<Features | null> {
    const shared = this.inflight.get(v.key);
    if (shared) {
      const r = await shared;
      // Another client's answer did not verify: this one may still prove the hash (one query at a time).
      if (r || !this.current(e, claim) || this.inflight.has(v.key)) return r;
      const again = await this.cache.get(v.key);
      if (again) return again;
    }
    if (!this.slot(e)) return null;
    const p = this.askAndVerify(e, v);
    // Clients waiting on the same hash get only what verified, never the asker's own unverified answer.
    const verified = p.then((r) => r.shared);
    verified.catch(() => undefined); // a failure is reported through p; waiters still see it
    this.inflight.set(v.key, verified);
    try {
      const r = await p;
      return r.shared ?? r.own;
    } finally {
      if (this.inflight.get(v.key) === verified) this.inflight.delete(v.key);
    }
  }

  /**
   * Ask the client and check its answer against the hash. `shared`: verified features (cached, or past the
   * session's row limit), for whoever claims that hash; `own`: an answer that did not verify, for the asker.
   */
  private async askAndVerify(e: Entry, v: Verifiable): Promise<{ shared: Features | null; own: Features | null }> {
    const info = await this.ask(e, v.node);
    if (!info) return { shared: null, own: null };
    const computed = v.proto === 'caps1' ? caps1Ver(info, v.algo) : caps2Hash(info, v.algo);
    if (computed !== v.value) {
      // XEP-0115 §5.4 3.9 / XEP-0390 §4: a mismatch (or an ill-formed answer, computed null) is never cached
      // nor used for anyone else: the next client claiming this hash is asked again. Its features are still
      // used for the session that answered, as legacy caps are (§5.4 4): slixmpp 1.8.3 at its defaults,
      // when add_interest runs before login, announces a 'ver' hashed over a partial feature list and then
      // answers disco#info with all of them; Prosody's mod_pep uses that answer for that client whatever
      // its 'ver' (ejabberd ignores it). An unverified answer changes only what its own session receives.
      this.count('verification_failure');
      // info, not warn: a common client does this at its defaults; the counter shows the rate.
      this.ctx.log.info('capabilities hash does not match the disco#info answer; used for this session only, not cached', {
        jid: e.session.jid.toString(), proto: v.proto, algo: v.algo, claimed: v.value, computed,
      });
      return { shared: null, own: new Set(info.features) };
    }
    if (e.newRows >= MAX_NEW_ROWS_PER_SESSION) return { shared: new Set(info.features), own: null };
    e.newRows++;
    return { shared: await this.cache.put(v.key, info), own: null };
  }

  /** Legacy or unverifiable caps: the client's own answer, for its own session only. */
  private async sessionOnly(e: Entry, claim: Claim, node: string): Promise<Features | null> {
    if (!this.slot(e)) return null;
    const info = await this.ask(e, node);
    return info && this.current(e, claim) ? new Set(info.features) : null;
  }

  /** Take a query slot, or mark the current claim as waiting for one. */
  private slot(e: Entry): boolean {
    if (e.running < MAX_QUERIES_PER_SESSION) return true;
    e.waiting = true;
    return false;
  }

  /** disco#info to the client's full JID for `node`; null on an error, a timeout or a malformed answer. */
  private async ask(e: Entry, node: string): Promise<DiscoData | null> {
    e.running++;
    try {
      const res = await this.ctx.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_DISCO_INFO, node })), e.session.jid, this.queryTimeoutMs);
      const query = res.attrs.type === 'result' ? res.getChild('query', NS_DISCO_INFO) : undefined;
      if (!query) {
        this.count('query_failure');
        this.ctx.log.debug('capabilities query answered without disco#info', { jid: e.session.jid.toString(), node, type: res.attrs.type });
        return null;
      }
      const info = parseDiscoInfo(query, res);
      e.client = clientName(info.identities) ?? e.client; // the client's own answer, for its own session's listing
      return info;
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      this.count('query_failure'); // timed out, or the server is stopping
      this.ctx.log.debug('capabilities query failed', { jid: e.session.jid.toString(), node, condition: err.condition });
      return null;
    } finally {
      e.running--;
      this.next(e);
    }
  }

  /** A slot came free: a claim that waited for one goes now (cache first: another client may have proved it). */
  private next(e: Entry): void {
    const claim = e.claim;
    if (!e.waiting || !claim || !this.current(e, claim) || e.features) return;
    e.waiting = false;
    void (async () => {
      const hit = await this.cached(claim);
      if (hit) await this.settle(e, claim, hit);
      else await this.query(e, claim);
    })().catch((err) => this.ctx.log.error('capabilities lookup failed', { err, jid: e.session.jid.toString() }));
  }

  /** The claim's features are known: record them and tell other modules when they changed. */
  private async settle(e: Entry, claim: Claim, features: Features): Promise<void> {
    if (!this.current(e, claim)) return;
    e.features = features;
    e.client ??= claim.verifiable.map((v) => this.cache.clientOf(v.key)).find((n) => n !== undefined);
    if (e.announced && sameSet(e.announced, features)) return;
    e.announced = features;
    await this.ctx.runNotify('caps_updated', { jid: e.session.jid, features });
  }
}
