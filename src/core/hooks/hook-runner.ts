// The hook engine (DESIGN.md "Hooks"): chains keyed by (hook, host) as ejabberd's {Hook, Host}; notify hooks run
// every handler, filter hooks fold a value. Global handlers run for every host, merged by priority (ties in
// registration order); each handler isolated; a hook with no handler for the host costs a Map lookup or two.
import type { Logger } from '../log.js';
import { DROP, STOP, type HookCatalogue, type HookName, type HookSpec, CORE_HOOKS } from '../../../hooks/index.js';

type Spec = HookSpec;
type AnyHandler = (a: any, b?: any) => unknown;
/** host null: a global handler (runs whichever host the hook fires for). */
interface Entry { handler: AnyHandler; priority: number; seq: number; owner: string; host: string | null }
/** Per hook: the sorted chain each host runs (its own handlers merged with the global ones); key null = globals only. */
type Chains = Map<string | null, Entry[]>;

export type FilterValue<N extends HookName> = HookCatalogue[N] extends { value: infer V } ? V : never;
export type HookCtx<N extends HookName> = HookCatalogue[N] extends { ctx: infer C } ? C : never;
export type FilterResult<N extends HookName> =
  | FilterValue<N> | undefined | void | typeof STOP | (HookCatalogue[N] extends { drop: true } ? typeof DROP : never);
export type HookHandler<N extends HookName> = HookCatalogue[N] extends { kind: 'filter' }
  ? (value: FilterValue<N>, ctx: HookCtx<N>) => FilterResult<N> | Promise<FilterResult<N>>
  : (ctx: HookCtx<N>) => void | typeof STOP | Promise<void | typeof STOP>;

export class UnknownHookError extends Error {}

export class HookRunner {
  private readonly specs = new Map<string, Spec>(Object.entries(CORE_HOOKS));
  /** Every registration per hook, in registration order. */
  private readonly entries = new Map<string, Entry[]>();
  /** Precomputed merged chains, rebuilt on (un)registration so firing never sorts or merges. */
  private readonly chains = new Map<string, Chains>();
  private seq = 0;
  /** Bumped whenever a chain changes: callers may cache "does any handler run" answers per generation. */
  generation = 0;
  /** Called on every handler failure; the metrics layer counts it. */
  onHandlerError: (hook: string, owner: string) => void = () => {};
  /** Called with the seconds a chain took (only chains that have handlers: empty hooks stay free). */
  onChainTime: ((hook: string, seconds: number) => void) | null = null;

  /** How many live declarations each runtime-declared hook has (declare/undeclare pairs). */
  private readonly declarations = new Map<string, number>();

  constructor(private readonly log: Logger) {}

  /** Extend the catalogue at runtime (third-party hooks also declare their types by declaration merging). */
  declare(name: string, spec: Spec): void {
    const existing = this.specs.get(name);
    if (existing && (existing.kind !== spec.kind || existing.drop !== spec.drop)) throw new Error(`hook ${name} is already declared differently`);
    this.specs.set(name, spec);
    this.declarations.set(name, (this.declarations.get(name) ?? 0) + 1);
  }

  /**
   * Withdraw one declaration of a runtime-declared hook (core hooks stay). Several modules (and every
   * host's instance of one) may declare the same hook: it and its handlers go with the last of them.
   */
  undeclare(name: string): void {
    if (name in CORE_HOOKS) return;
    const left = (this.declarations.get(name) ?? 1) - 1;
    if (left > 0) {
      this.declarations.set(name, left);
      return;
    }
    this.declarations.delete(name);
    this.generation++;
    this.specs.delete(name);
    this.entries.delete(name);
    this.chains.delete(name);
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  /** Whether a hook is server-wide (fired without a host; only global handlers). */
  isGlobal(name: string): boolean {
    return this.specs.get(name)?.scope === 'global';
  }

  /**
   * Register a handler for `host`'s chain, or globally (host null: it runs for every host); returns the
   * function that removes it. A server-wide hook takes only global handlers.
   */
  on<N extends HookName>(name: N, handler: HookHandler<N>, priority = 50, owner = 'core', host: string | null = null): () => void {
    const spec = this.specs.get(name);
    if (!spec) throw new UnknownHookError(`unknown hook "${name}" (declare it first, or check the spelling)`);
    if (host !== null && spec.scope === 'global') throw new Error(`hook ${name} is server-wide: register it globally (ctx.hookGlobal)`);
    const entry: Entry = { handler: handler as AnyHandler, priority, seq: this.seq++, owner, host };
    this.entries.set(name, [...(this.entries.get(name) ?? []), entry]);
    this.rebuild(name);
    return () => {
      const cur = this.entries.get(name);
      if (!cur || !cur.includes(entry)) return;
      const next = cur.filter((e) => e !== entry);
      if (next.length) this.entries.set(name, next);
      else this.entries.delete(name);
      this.rebuild(name);
    };
  }

  /** Recompute one hook's chains; copy-on-write: a running fold keeps iterating its own array. */
  private rebuild(name: string): void {
    this.generation++;
    const all = this.entries.get(name);
    if (!all) {
      this.chains.delete(name);
      return;
    }
    const order = (a: Entry, b: Entry) => b.priority - a.priority || a.seq - b.seq;
    const globals = all.filter((e) => e.host === null);
    const chains: Chains = new Map();
    if (globals.length) chains.set(null, [...globals].sort(order));
    for (const host of new Set(all.map((e) => e.host))) {
      if (host !== null) chains.set(host, all.filter((e) => e.host === null || e.host === host).sort(order));
    }
    this.chains.set(name, chains);
  }

  /** The chain that runs when `name` fires for `host` (null: a server-wide firing, globals only). */
  private chain(name: string, host: string | null): Entry[] | undefined {
    const m = this.chains.get(name);
    if (m === undefined) return undefined;
    return (host !== null ? m.get(host) : undefined) ?? m.get(null);
  }

  /** Whether firing `name` for `host` would run any handler. */
  has(name: HookName, host: string | null): boolean {
    return this.chain(name, host) !== undefined;
  }

  /** Handlers registered (for one hook, or all), counting each registration once. */
  count(name?: string): number {
    if (name) return this.entries.get(name)?.length ?? 0;
    let n = 0;
    for (const c of this.entries.values()) n += c.length;
    return n;
  }

  /** Fold `value` through `host`'s filter chain (null: server-wide, globals only). Resolves to the final value, or DROP. */
  async filter<N extends HookName>(name: N, host: string | null, value: FilterValue<N>, ctx: HookCtx<N>): Promise<FilterValue<N> | typeof DROP> {
    const chain = this.chain(name, host);
    if (!chain) return value;
    const dropAllowed = this.specs.get(name)!.drop;
    const t0 = this.onChainTime ? performance.now() : 0;
    try {
      return await this.fold(name, chain, dropAllowed, value, ctx);
    } finally {
      if (this.onChainTime) this.onChainTime(name, (performance.now() - t0) / 1000);
    }
  }

  private async fold<N extends HookName>(name: N, chain: Entry[], dropAllowed: boolean, value: FilterValue<N>, ctx: HookCtx<N>): Promise<FilterValue<N> | typeof DROP> {
    let cur = value;
    for (const e of chain) {
      let r: unknown;
      try {
        r = e.handler(cur, ctx);
        if (r instanceof Promise) r = await r;
      } catch (err) {
        this.failed(name, e, err);
        continue;
      }
      if (r === undefined) continue;
      if (r === STOP) break;
      if (r === DROP) {
        if (dropAllowed) return DROP;
        this.log.warn('hook handler returned DROP where the hook does not allow it; ignored', { hook: name, owner: e.owner });
        continue;
      }
      cur = r as FilterValue<N>;
    }
    return cur;
  }

  /** Run every handler of a notify hook for `host` (until one returns STOP). */
  async notify<N extends HookName>(name: N, host: string | null, ctx: HookCtx<N>): Promise<void> {
    const chain = this.chain(name, host);
    if (!chain) return;
    const t0 = this.onChainTime ? performance.now() : 0;
    for (const e of chain) {
      try {
        let r = e.handler(ctx);
        if (r instanceof Promise) r = await r;
        if (r === STOP) break;
      } catch (err) {
        this.failed(name, e, err);
      }
    }
    if (this.onChainTime) this.onChainTime(name, (performance.now() - t0) / 1000);
  }

  private failed(name: string, e: Entry, err: unknown): void {
    this.log.error('hook handler failed', { hook: name, owner: e.owner, err });
    this.onHandlerError(name, e.owner);
  }
}
