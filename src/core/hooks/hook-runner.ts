// The hook engine (DESIGN.md "Hooks"): notify hooks run every handler, filter hooks fold a value.
// Higher priority first, ties in registration order; each handler isolated; an empty hook costs a Map lookup.
import type { Logger } from '../log.js';
import { DROP, STOP, type HookCatalogue, type HookName, type HookSpec, CORE_HOOKS } from '../../../hooks/index.js';

type Spec = HookSpec;
type AnyHandler = (a: any, b?: any) => unknown;
interface Entry { handler: AnyHandler; priority: number; seq: number; owner: string }

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
  private readonly chains = new Map<string, Entry[]>();
  private seq = 0;
  /** Called on every handler failure; the metrics layer counts it. */
  onHandlerError: (hook: string, owner: string) => void = () => {};
  /** Called with the seconds a chain took (only chains that have handlers: empty hooks stay free). */
  onChainTime: ((hook: string, seconds: number) => void) | null = null;

  constructor(private readonly log: Logger) {}

  /** Extend the catalogue at runtime (third-party hooks also declare their types by declaration merging). */
  declare(name: string, spec: Spec): void {
    const existing = this.specs.get(name);
    if (existing && (existing.kind !== spec.kind || existing.drop !== spec.drop)) throw new Error(`hook ${name} is already declared differently`);
    this.specs.set(name, spec);
  }

  /** Withdraw a runtime-declared hook (core hooks stay); its handlers go with it. */
  undeclare(name: string): void {
    if (name in CORE_HOOKS) return;
    this.specs.delete(name);
    this.chains.delete(name);
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  /** Register a handler; returns the function that removes it. */
  on<N extends HookName>(name: N, handler: HookHandler<N>, priority = 50, owner = 'core'): () => void {
    if (!this.specs.has(name)) throw new UnknownHookError(`unknown hook "${name}" (declare it first, or check the spelling)`);
    const entry: Entry = { handler: handler as AnyHandler, priority, seq: this.seq++, owner };
    const chain = [...(this.chains.get(name) ?? []), entry].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.chains.set(name, chain); // copy-on-write: a running fold keeps iterating its own array
    return () => {
      const cur = this.chains.get(name);
      if (!cur) return;
      const next = cur.filter((e) => e !== entry);
      if (next.length) this.chains.set(name, next);
      else this.chains.delete(name);
    };
  }

  has(name: HookName): boolean {
    return this.chains.has(name);
  }

  count(name?: string): number {
    if (name) return this.chains.get(name)?.length ?? 0;
    let n = 0;
    for (const c of this.chains.values()) n += c.length;
    return n;
  }

  /** Fold `value` through the filter chain. Resolves to the final value, or DROP. */
  async filter<N extends HookName>(name: N, value: FilterValue<N>, ctx: HookCtx<N>): Promise<FilterValue<N> | typeof DROP> {
    const chain = this.chains.get(name);
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

  /** Run every handler of a notify hook (until one returns STOP). */
  async notify<N extends HookName>(name: N, ctx: HookCtx<N>): Promise<void> {
    const chain = this.chains.get(name);
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
