// Brute-force throttling of authentication (limits.auth): SASL on c2s (RFC 6120 §6.4.5 leaves retries to
// the server's policy), XEP-0114 component handshakes and admin API bearer tokens. Per address: failures
// past failures_before_delay are answered after a doubling delay, and max_failures_per_ip locks the address
// for a doubling time; per account (or component domain): delays only, so nobody can lock a user out.
import { isIPv6 } from 'node:net';
import type { AuthLimitsConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { FailureTable, type FailureEntry } from './failure-table.js';

export type AuthKind = 'c2s' | 'component' | 'http';
export const AUTH_KINDS: readonly AuthKind[] = ['c2s', 'component', 'http'];

/** One authentication attempt admitted by begin(); decide it exactly once (later calls do nothing). */
export interface AuthAttempt {
  /** The secret was wrong: recorded; returns how long (ms) to withhold the failure answer. */
  failed(reason: string, account?: string | null, fields?: Record<string, string>): number;
  /** The secret was right: this address's failures against `account` are forgiven. */
  succeeded(account?: string | null): void;
  /** Ended without a verdict on the secret (malformed input, abort, connection gone). */
  settle(): void;
}

export type Admission =
  | { refused: false; attempt: AuthAttempt }
  /** Turned away without checking the secret; `retryAfterMs` is when trying again may be admitted. */
  | { refused: true; retryAfterMs: number };

export interface AuthThrottleDeps {
  config: () => AuthLimitsConfig;
  metrics?: Metrics;
  log?: () => Logger;
  /** Addresses in limits.exempt: counted, never delayed or locked. */
  isExempt?: (ip: string) => boolean;
  now?: () => number;
}

/** A decaying score as whole failures: a failure counts until it has fully decayed. */
const whole = (score: number): number => Math.ceil(score - 1e-9);

/** Per-address sub-counters kept for forgiveness on success; more accounts than this are not forgiven. */
const MAX_ACCOUNTS_PER_ADDRESS = 16;

/**
 * The counter key of a client address: IPv4 as is (also when seen as ::ffff:a.b.c.d), IPv6 by its /64,
 * the smallest prefix a site is given (RFC 6177), so one host cannot cycle through its own addresses.
 */
export function addressKey(ip: string): string {
  const a = plainIPv4(ip).split('%')[0]!; // without an IPv6 zone index
  if (!isIPv6(a)) return a;
  const [head = '', tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

/** An IPv4 client seen on a dual-stack listener as ::ffff:a.b.c.d is a.b.c.d (as limits.ts's ipKey). */
const plainIPv4 = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

export class AuthThrottle {
  private readonly tables = new Map<AuthKind, { ip: FailureTable; account: FailureTable }>();
  private readonly now: () => number;

  constructor(private readonly deps: AuthThrottleDeps) {
    this.now = deps.now ?? Date.now;
    const max = () => deps.config().max_tracked;
    for (const kind of AUTH_KINDS) {
      this.tables.set(kind, { ip: new FailureTable(max), account: new FailureTable(max) });
      deps.metrics?.authFailures.inc({ kind }, 0); // every series visible from the start
    }
  }

  /** Addresses and accounts currently remembered for `kind` (bounded by max_tracked). */
  tracked(kind: AuthKind): { ip: number; account: number } {
    const t = this.tables.get(kind)!;
    return { ip: t.ip.size, account: t.account.size };
  }

  /**
   * Before a secret is checked. A locked address, or one with failures on record whose recorded plus
   * undecided attempts reach max_failures_per_ip, is refused; the caller answers without looking at the
   * secret (and need not decide a refused attempt). An address with a clean record is never refused for
   * logging in in parallel: many users behind one NAT reconnect at once after a restart.
   */
  begin(kind: AuthKind, ip: string, account?: string | null): Admission {
    const c = this.deps.config();
    const key = addressKey(ip);
    if (this.deps.isExempt?.(plainIPv4(ip))) return { refused: false, attempt: this.unthrottled(kind, ip) };
    const now = this.now();
    const decayMs = c.failure_decay_seconds * 1000;
    const e = this.tables.get(kind)!.ip.get(key, now, decayMs, true)!;
    let retryAfterMs = 0;
    if (now < e.lockedUntil) retryAfterMs = e.lockedUntil - now;
    else if (c.max_failures_per_ip > 0 && (e.score > 0 || e.locks > 0) && e.pending >= Math.max(1, c.max_failures_per_ip - whole(e.score))) {
      // Once an address has failed, undecided attempts count as failures-to-be, so parallel connections
      // get no more guesses than sequential ones (a first wave from a clean address gets at most one try
      // per connection, bounded by the per-address connection limits); once a lock has ended, one
      // attempt at a time (its failure locks again, doubled).
      retryAfterMs = 1000;
    }
    if (retryAfterMs > 0) {
      this.deps.metrics?.authThrottled.inc({ kind, scope: 'ip', action: 'refused' });
      // debug only: refusals cost the client nothing, so they may come by the thousand
      this.deps.log?.().debug('authentication refused: too many failures from this address', { kind, ip, account: account ?? undefined, retry_after_s: Math.ceil(retryAfterMs / 1000) });
      return { refused: true, retryAfterMs };
    }
    e.pending++;
    return { refused: false, attempt: this.attempt(kind, ip, key, e) };
  }

  private attempt(kind: AuthKind, ip: string, key: string, begun: FailureEntry): AuthAttempt {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      begun.pending = Math.max(0, begun.pending - 1);
      return true;
    };
    return {
      failed: (reason, account, fields) => (finish() ? this.recordFailure(kind, ip, key, reason, account ?? null, fields) : 0),
      succeeded: (account) => {
        if (finish()) this.forgive(kind, key, account ?? '');
      },
      settle: () => void finish(),
    };
  }

  /** An exempt address: failures are counted and logged, never delayed or locked. */
  private unthrottled(kind: AuthKind, ip: string): AuthAttempt {
    let done = false;
    return {
      failed: (reason, account, fields) => {
        if (done) return 0;
        done = true;
        this.deps.metrics?.authFailures.inc({ kind });
        this.deps.log?.().info('authentication failed', { kind, account: account ?? undefined, ip, reason, exempt: true, ...fields });
        return 0;
      },
      succeeded: () => void (done = true),
      settle: () => void (done = true),
    };
  }

  private recordFailure(kind: AuthKind, ip: string, key: string, reason: string, account: string | null, fields?: Record<string, string>): number {
    const c = this.deps.config();
    const now = this.now();
    const decayMs = c.failure_decay_seconds * 1000;
    const tables = this.tables.get(kind)!;
    const e = tables.ip.get(key, now, decayMs, true)!;
    e.score += 1;
    const sub = account ?? '';
    e.perAccount ??= new Map();
    if (e.perAccount.has(sub) || e.perAccount.size < MAX_ACCOUNTS_PER_ADDRESS) e.perAccount.set(sub, (e.perAccount.get(sub) ?? 0) + 1);
    const ipDelay = this.delayFor(e.score, c);
    let accountDelay = 0;
    let accountFailures: number | undefined;
    if (account) {
      const a = tables.account.get(account, now, decayMs, true)!;
      a.score += 1;
      accountFailures = whole(a.score);
      accountDelay = this.delayFor(a.score, c);
    }
    const metrics = this.deps.metrics;
    metrics?.authFailures.inc({ kind });
    if (ipDelay > 0) metrics?.authThrottled.inc({ kind, scope: 'ip', action: 'delayed' });
    if (accountDelay > 0) metrics?.authThrottled.inc({ kind, scope: 'account', action: 'delayed' });
    const delayMs = Math.max(ipDelay, accountDelay);
    const failures = whole(e.score);
    const log = this.deps.log?.();
    log?.info('authentication failed', { kind, account: account ?? undefined, ip, reason, ...fields, ip_failures: failures, account_failures: accountFailures, delay_ms: delayMs });
    if (c.max_failures_per_ip > 0 && failures >= c.max_failures_per_ip && now >= e.lockedUntil) {
      e.locks++;
      const seconds = Math.min(c.lock_seconds * 2 ** Math.min(e.locks - 1, 30), c.max_lock_seconds);
      e.lockedUntil = now + seconds * 1000;
      metrics?.authThrottled.inc({ kind, scope: 'ip', action: 'locked' });
      log?.warn('address locked after repeated authentication failures', { kind, ip, account: account ?? undefined, ip_failures: failures, lock_seconds: seconds, lock: e.locks });
    }
    return delayMs;
  }

  /** A success forgives this address's failures against the same account only: a guesser who owns one
   *  account cannot launder the failures against another by logging in to his own in between. */
  private forgive(kind: AuthKind, key: string, account: string): void {
    const c = this.deps.config();
    const now = this.now();
    const table = this.tables.get(kind)!.ip;
    const e = table.get(key, now, c.failure_decay_seconds * 1000, false);
    const own = e?.perAccount?.get(account);
    if (!e || own === undefined) return;
    e.perAccount!.delete(account);
    e.score = Math.max(0, e.score - own);
    if (e.score === 0 && e.pending === 0 && now >= e.lockedUntil) table.delete(key);
  }

  /** The answer delay after `score` failures: none up to failures_before_delay, then doubling from delay_ms. */
  private delayFor(score: number, c: AuthLimitsConfig): number {
    const over = whole(score) - c.failures_before_delay;
    if (over <= 0 || c.delay_ms === 0) return 0;
    return Math.min(c.delay_ms * 2 ** Math.min(over - 1, 30), c.max_delay_ms);
  }
}
