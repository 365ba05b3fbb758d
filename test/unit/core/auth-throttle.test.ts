// The brute-force throttle of limits.auth with an injected clock: delays per address and per account,
// address locks (doubling, expiring), decay, forgiveness on success, undecided attempts, bounded memory,
// IPv6 /64 keys, exempt addresses, metrics; the limits.auth config; the claimed account of a SASL message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthThrottle, addressKey, type Admission, type AuthAttempt } from '../../../src/core/limits/auth-throttle.js';
import { buildAuthLimits, DEFAULT_AUTH_LIMITS } from '../../../src/core/limits/auth-throttle-config.js';
import { accountKey, claimedAccount } from '../../../src/core/limits/sasl-claim.js';
import { buildConfig, ConfigError } from '../../../src/core/config/load-config.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { AuthLimitsConfig } from '../../../src/core/config/types.js';

const SMALL: AuthLimitsConfig = {
  failures_before_delay: 2, delay_ms: 100, max_delay_ms: 800, max_failures_per_ip: 6,
  lock_seconds: 10, max_lock_seconds: 25, failure_decay_seconds: 5, max_tracked: 100,
};

function setup(over: Partial<AuthLimitsConfig> = {}, exempt: string[] = []) {
  const clock = { now: 1_000_000 };
  const metrics = new Metrics();
  const config = { ...SMALL, ...over };
  const throttle = new AuthThrottle({ config: () => config, metrics, now: () => clock.now, isExempt: (ip) => exempt.includes(ip) });
  return { clock, metrics, throttle, config };
}

function admitted(a: Admission): AuthAttempt {
  assert.equal(a.refused, false, 'the attempt is admitted');
  return (a as { attempt: AuthAttempt }).attempt;
}

/** One wrong secret from `ip` (against `account`): the delay the answer is withheld for. */
const fail = (t: AuthThrottle, ip: string, account: string | null = 'alice@localhost') =>
  admitted(t.begin('c2s', ip)).failed('not-authorized', account);

async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

test('the first failures_before_delay failures are answered at once, then the delay doubles up to max_delay_ms', () => {
  const { throttle } = setup({ max_failures_per_ip: 0 });
  // Different accounts each time: only the address's count grows.
  const delays = Array.from({ length: 7 }, (_, i) => fail(throttle, '192.0.2.1', `u${i}@localhost`));
  assert.deepEqual(delays, [0, 0, 100, 200, 400, 800, 800]);
});

test('max_failures_per_ip locks the address: refused unchecked for lock_seconds, even a right secret; then it expires', () => {
  const { throttle, clock } = setup();
  for (let i = 0; i < 6; i++) {
    fail(throttle, '192.0.2.1');
    clock.now += 100; // a little decay between failures: each still counts as a whole one
  }
  clock.now -= 100;
  const r = throttle.begin('c2s', '192.0.2.1');
  assert.equal(r.refused, true);
  assert.equal((r as { retryAfterMs: number }).retryAfterMs, 10_000);
  clock.now += 9_999;
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, true, 'still locked a millisecond before the end');
  clock.now += 1;
  // The lock has ended (its six failures did not decay during it, so one more failure would lock again).
  const after = admitted(throttle.begin('c2s', '192.0.2.1'));
  after.succeeded('alice@localhost');
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, false, 'a right secret after the lock forgives the address its failures');
});

test('each further lock doubles, up to max_lock_seconds; a long quiet spell resets it', () => {
  const { throttle, clock } = setup();
  const lockFor = (): number => {
    const r = throttle.begin('c2s', '192.0.2.1');
    if (r.refused) return r.retryAfterMs;
    r.attempt.settle();
    return 0;
  };
  for (let i = 0; i < 6; i++) fail(throttle, '192.0.2.1');
  assert.equal(lockFor(), 10_000);
  clock.now += 10_000 + 5_000; // the lock, then one failure decays: one more attempt is admitted
  fail(throttle, '192.0.2.1');
  assert.equal(lockFor(), 20_000);
  clock.now += 20_000 + 5_000;
  fail(throttle, '192.0.2.1');
  assert.equal(lockFor(), 25_000, 'capped at max_lock_seconds');
  clock.now += 25_000 + 6 * 5_000; // every failure decays: the address is forgotten
  assert.equal(lockFor(), 0);
  for (let i = 0; i < 6; i++) fail(throttle, '192.0.2.1');
  assert.equal(lockFor(), 10_000, 'the lock doubling starts over');
});

test('failures decay: one is forgotten every failure_decay_seconds', () => {
  const { throttle, clock } = setup({ max_failures_per_ip: 0 });
  for (let i = 0; i < 4; i++) fail(throttle, '192.0.2.1', null); // 0, 0, 100, 200
  clock.now += 2 * 5_000; // two of the four are forgotten
  assert.equal(fail(throttle, '192.0.2.1', null), 100, 'the fifth failure counts as the third');
  clock.now += 2_500; // half a failure decayed: it still counts as a whole one
  assert.equal(fail(throttle, '192.0.2.1', null), 200);
});

test('a lock holds for one address only; an account is delayed but never locked, so the user logs in from elsewhere', () => {
  const { throttle } = setup();
  for (let i = 0; i < 6; i++) fail(throttle, '192.0.2.1', 'alice@localhost');
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, true);
  // Another address: admitted; a wrong password there is delayed by the account's count (7th failure on alice).
  assert.equal(fail(throttle, '198.51.100.7', 'alice@localhost'), 800);
  const right = admitted(throttle.begin('c2s', '198.51.100.7'));
  right.succeeded('alice@localhost');
  assert.equal(throttle.begin('c2s', '198.51.100.7').refused, false);
  // Kinds are separate: the locked address still reaches the admin API.
  assert.equal(throttle.begin('http', '192.0.2.1').refused, false);
});

test('a success forgives only the failures against its own account: a guesser cannot launder them', () => {
  const { throttle } = setup();
  for (let i = 0; i < 5; i++) fail(throttle, '192.0.2.1', 'victim@localhost');
  fail(throttle, '192.0.2.1', 'mallory@localhost'); // six: locked
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, true);

  const { throttle: t2 } = setup();
  for (let i = 0; i < 5; i++) fail(t2, '192.0.2.1', 'victim@localhost');
  admitted(t2.begin('c2s', '192.0.2.1')).succeeded('mallory@localhost'); // his own account
  assert.equal(fail(t2, '192.0.2.1', 'victim@localhost'), 800, 'the five failures against victim still count');
  assert.equal(t2.begin('c2s', '192.0.2.1').refused, true);

  const { throttle: t3 } = setup();
  for (let i = 0; i < 5; i++) fail(t3, '192.0.2.1', 'alice@localhost');
  admitted(t3.begin('c2s', '192.0.2.1')).succeeded('alice@localhost'); // alice mistyped, then got it right
  assert.equal(fail(t3, '192.0.2.1', 'bob@localhost'), 0, 'her address starts afresh');
});

test('a clean address is never refused for logging in in parallel (many users behind one NAT)', () => {
  const { throttle } = setup();
  const open = Array.from({ length: 50 }, () => admitted(throttle.begin('c2s', '192.0.2.9')));
  for (const a of open) a.succeeded('someone@localhost');
  assert.equal(throttle.begin('c2s', '192.0.2.9').refused, false);
});

test('once an address has failed, undecided attempts count against the lock threshold, so parallel connections get no extra guesses', () => {
  const { throttle } = setup();
  fail(throttle, '192.0.2.1');
  const open = Array.from({ length: 5 }, () => admitted(throttle.begin('c2s', '192.0.2.1')));
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, true, 'one failure and five undecided attempts fill the threshold');
  open[0]!.settle(); // ended without a verdict (abort, connection gone)
  open[0]!.settle();
  open[0]!.failed('not-authorized', null); // decided once only
  const another = admitted(throttle.begin('c2s', '192.0.2.1'));
  another.settle();
  for (const a of open.slice(2)) a.failed('not-authorized', null);
  assert.equal(throttle.begin('c2s', '192.0.2.1').refused, false, 'four failures and one undecided attempt are below the threshold of six');
});

test('memory stays bounded while addresses and account names are sprayed', () => {
  const { throttle } = setup({ max_failures_per_ip: 0 });
  for (let i = 0; i < 1000; i++) fail(throttle, `10.0.${i >> 8}.${i & 255}`, `user${i}@localhost`);
  assert.deepEqual(throttle.tracked('c2s'), { ip: 100, account: 100 });
});

test('an IPv6 client is counted per /64; IPv4 seen through a dual-stack socket is plain IPv4', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:ffff:1:2:3'));
  assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  assert.equal(addressKey('2001:0db8:0001:0002::'), '2001:db8:1:2::/64');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  const { throttle } = setup();
  for (let i = 0; i < 6; i++) fail(throttle, `2001:db8:1:2::${i + 1}`);
  assert.equal(throttle.begin('c2s', '2001:db8:1:2:ffff::9').refused, true);
  assert.equal(throttle.begin('c2s', '2001:db8:1:3::1').refused, false);
});

test('exempt addresses are counted but never delayed or locked', async () => {
  const { throttle, metrics } = setup({}, ['127.0.0.1']);
  const delays = Array.from({ length: 10 }, () => fail(throttle, '::ffff:127.0.0.1'));
  assert.deepEqual(delays, Array(10).fill(0));
  assert.equal(throttle.begin('c2s', '127.0.0.1').refused, false);
  assert.equal(await counter(metrics, 'xmppd_auth_failures_total', { kind: 'c2s' }), 10);
});

test('metrics: failures by kind, delays by scope, locks and refusals', async () => {
  const { throttle, metrics } = setup();
  for (let i = 0; i < 6; i++) admitted(throttle.begin('component', '192.0.2.1')).failed('bad handshake', 'gw.localhost');
  throttle.begin('component', '192.0.2.1');
  throttle.begin('component', '192.0.2.1');
  assert.equal(await counter(metrics, 'xmppd_auth_failures_total', { kind: 'component' }), 6);
  assert.equal(await counter(metrics, 'xmppd_auth_failures_total', { kind: 'http' }), 0);
  assert.equal(await counter(metrics, 'xmppd_auth_throttled_total', { kind: 'component', scope: 'ip', action: 'delayed' }), 4);
  assert.equal(await counter(metrics, 'xmppd_auth_throttled_total', { kind: 'component', scope: 'account', action: 'delayed' }), 4);
  assert.equal(await counter(metrics, 'xmppd_auth_throttled_total', { kind: 'component', scope: 'ip', action: 'locked' }), 1);
  assert.equal(await counter(metrics, 'xmppd_auth_throttled_total', { kind: 'component', scope: 'ip', action: 'refused' }), 2);
});

test('limits.auth: defaults, overrides, and errors naming the YAML path', () => {
  const base = { hosts: ['localhost'] };
  assert.deepEqual(buildConfig(base).limits.auth, DEFAULT_AUTH_LIMITS);
  assert.equal(buildConfig({ ...base, limits: { auth: { lock_seconds: 60 } } }).limits.auth.lock_seconds, 60);
  assert.equal(buildConfig({ ...base, limits: { auth: { lock_seconds: 60 } } }).limits.auth.max_failures_per_ip, 10);
  const bad = (auth: unknown, re: RegExp) =>
    assert.throws(() => buildConfig({ ...base, limits: { auth } }), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  bad('yes', /limits\.auth: must be a mapping/);
  bad({ lock_minutes: 5 }, /limits\.auth\.lock_minutes: unknown option/);
  bad({ max_failures_per_ip: -1 }, /limits\.auth\.max_failures_per_ip: must be a whole number/);
  bad({ delay_ms: 1.5 }, /limits\.auth\.delay_ms: must be a whole number/);
  bad({ lock_seconds: 0 }, /limits\.auth\.lock_seconds: must be a whole number from 1/);
  bad({ delay_ms: 2000, max_delay_ms: 1000 }, /limits\.auth\.max_delay_ms: must be at least delay_ms/);
  bad({ lock_seconds: 600, max_lock_seconds: 300 }, /limits\.auth\.max_lock_seconds: must be at least lock_seconds/);
  assert.deepEqual(buildAuthLimits(undefined, () => { throw new Error('unreachable'); }), DEFAULT_AUTH_LIMITS);
});

test('the claimed account of a first SASL message (PLAIN authcid, SCRAM n=), normalised as a bare JID', () => {
  assert.equal(claimedAccount('PLAIN', Buffer.from('\0Alice\0secret'), 'localhost'), 'alice@localhost');
  assert.equal(claimedAccount('PLAIN', Buffer.from('alice@localhost\0bob\0secret'), 'localhost'), 'bob@localhost');
  assert.equal(claimedAccount('PLAIN', Buffer.from('no separators'), 'localhost'), null);
  assert.equal(claimedAccount('SCRAM-SHA-256', Buffer.from('n,,n=alice,r=abc'), 'localhost'), 'alice@localhost');
  assert.equal(claimedAccount('SCRAM-SHA-1-PLUS', Buffer.from('p=tls-exporter,a=alice@localhost,n=ALICE,r=abc'), 'localhost'), 'alice@localhost');
  assert.equal(claimedAccount('SCRAM-SHA-256', Buffer.from('n,,n=a=2Cb=3Dc,r=x'), 'localhost'), 'a,b=c@localhost', 'saslname escapes undone (RFC 5802 §5.1)');
  assert.equal(claimedAccount('SCRAM-SHA-256', Buffer.from('n,,r=abc'), 'localhost'), null);
  assert.equal(claimedAccount('X-UNKNOWN', Buffer.from('\0alice\0pw'), 'localhost'), null);
  assert.equal(accountKey('bad@name', 'localhost'), null);
});

test('property: however attempts interleave, one address gets at most max_failures_per_ip guesses before time moves (or one per attempt begun while its record was clean); others are never refused', async () => {
  const fc = (await import('fast-check')).default;
  const op = fc.oneof(
    fc.record({ kind: fc.constant('begin' as const), ip: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ kind: fc.constantFrom('fail' as const, 'settle' as const, 'succeed' as const), pick: fc.nat() }),
  );
  fc.assert(fc.property(fc.array(op, { minLength: 20, maxLength: 300 }), (ops) => {
    const { throttle } = setup({ max_tracked: 100 });
    const open: { ip: number; attempt: AuthAttempt }[] = [];
    const guesses = [0, 0];
    const cleanBegins = [0, 0];
    for (const o of ops) {
      if (o.kind === 'begin') {
        const r = throttle.begin('c2s', `192.0.2.${o.ip}`);
        if (!r.refused) {
          open.push({ ip: o.ip, attempt: r.attempt });
          if (guesses[o.ip] === 0) cleanBegins[o.ip]!++;
        }
        continue;
      }
      if (!open.length) continue;
      const [{ ip, attempt }] = open.splice(o.pick % open.length, 1) as [{ ip: number; attempt: AuthAttempt }];
      if (o.kind === 'fail') {
        attempt.failed('not-authorized', 'victim@localhost');
        guesses[ip]!++;
      } else if (o.kind === 'settle') attempt.settle();
      else attempt.succeeded('own@localhost'); // a success on another account forgives nothing of the victim's
    }
    for (let ip = 0; ip < 2; ip++) {
      assert.ok(guesses[ip]! <= Math.max(SMALL.max_failures_per_ip, cleanBegins[ip]!), `address ${ip}: ${guesses[ip]} guesses, ${cleanBegins[ip]} begun while clean`);
    }
    assert.equal(throttle.begin('c2s', '198.51.100.1').refused, false, 'an address that never failed is admitted');
  }));
});
