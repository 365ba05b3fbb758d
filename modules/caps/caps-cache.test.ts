// The verified caps cache's upkeep, on every host: lastUsed stamped (at most once a day) when a client's
// caps hit a row, the sweep (admin command caps.cache_sweep, also run periodically) removing rows unused for
// cache_expire_after and keeping used ones, cache_max_rows (past it: session only, one warning), the
// xmppd_caps_cache_rows gauge, and the options' checks.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { admin } from '../../test/e2e/portable-support.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import { CAPS_TABLE, type CapsRow } from './caps-cache.js';
import { CLIENT_IDENTITY, NS_DISCO_INFO, capsOf, capsPresence, capsVer, capsVerified } from './test-support.js';

const DAY = 86_400_000;
const modules = (caps: Record<string, unknown> = {}) => ({ modules: { disco: {}, roster: {}, presence: {}, caps } });

const table = (t: TestServer) => t.server.core.store.table<CapsRow>(CAPS_TABLE);
const keyOf = (features: string[]) => `caps1/sha-1/${capsVer(features)}`;

async function gauge(t: TestServer): Promise<number> {
  const m = t.server.core.metrics.registry.getSingleMetric('xmppd_caps_cache_rows');
  return (await m!.get()).values[0]!.value;
}

/** Store a verified row as the module would have, `age` ms ago; `stamped: false` for a row without lastUsed. */
async function seed(t: TestServer, features: string[], age: number, stamped = true): Promise<string> {
  const at = Date.now() - age;
  const value: CapsRow = { features, identities: [CLIENT_IDENTITY], verifiedAt: at, ...(stamped && { lastUsed: at }) };
  const key = keyOf(features);
  assert.ok((await t.server.core.store.transact([{ type: 'put', table: CAPS_TABLE, key, value: value as never }])).ok);
  return key;
}

/** Log in and announce caps for `features`, answering a query if the server asks; resolves once verified. */
async function announce(t: TestServer, host: string, user: string, resource: string, features: string[]): Promise<{ c: RawClient; jid: string }> {
  const { c, jid } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false, host });
  c.send(capsPresence(features));
  await capsVerified(t, host, c, jid, features);
  return { c, jid };
}

test('bad cache options are refused at boot with their YAML path', async () => {
  await assert.rejects(startTestServer(modules({ cache_expire_after: 60 })), /modules\.caps\.cache_expire_after: must be at least 3600/);
  await assert.rejects(startTestServer(modules({ cache_max_rows: -1 })), /modules\.caps\.cache_max_rows: must be at least 0/);
  await assert.rejects(startTestServer(modules({ cache_max_rows: 1.5 })), /modules\.caps\.cache_max_rows: must be a whole number/);
});

describe('expiry', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(modules());
    for (const host of HOSTS) await t.addUser('alice', 'pw-alice', host);
  });
  after(() => t.stop());

  forEachHost((host) => {
    const set = (name: string) => [NS_DISCO_INFO, `urn:example:${name}:${host}`];

    test('a hit stamps lastUsed (once a day); the sweep removes rows unused for cache_expire_after and keeps used ones', async () => {
      const used = await seed(t, set('used'), 40 * DAY);
      const unused = await seed(t, set('unused'), 40 * DAY);
      const legacy = await seed(t, set('legacy'), 40 * DAY, false); // stored before rows had lastUsed
      const recent = await seed(t, set('recent'), 2 * DAY);

      const a = await announce(t, host, 'alice', 'uses-old-caps', set('used'));
      assert.ok(capsOf(t, host).featuresOf(Jid.parse(a.jid))!.has(`urn:example:used:${host}`), 'answered from the old row');
      const stamped = await until(async () => {
        const row = await table(t).get(used);
        return row && row.value.lastUsed! > Date.now() - 60_000 ? row : undefined;
      }, 'the used row is stamped');
      // another client with the same caps the same day: no second write
      const b = await announce(t, host, 'alice', 'uses-old-caps-again', set('used'));
      await b.c.iq('s1', `<iq type='get' id='s1' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assert.equal((await table(t).get(used))!.rev, stamped!.rev, 'lastUsed is written at most once a day');

      const r = await admin<{ removed: number; rows: number }>(t, 'caps.cache_sweep', {});
      assert.ok(r.removed >= 2, JSON.stringify(r));
      assert.ok(await table(t).get(used), 'a used row stays');
      assert.ok(await table(t).get(recent), 'a row used within cache_expire_after stays');
      assert.equal(await table(t).get(unused), undefined, 'an unused row older than cache_expire_after goes');
      assert.equal(await table(t).get(legacy), undefined, 'a row without lastUsed counts from its verification');
      const rows = await table(t).count();
      assert.equal(r.rows, rows);
      assert.equal(await gauge(t), rows, 'xmppd_caps_cache_rows');

      // the swept hash is asked for (and verified) again when a client announces it
      const c = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'unused-again', { presence: false, host });
      c.c.send(capsPresence(set('unused')));
      await capsVerified(t, host, c.c, c.jid, set('unused'));
      assert.ok(await table(t).get(unused), 'cached again once verified');
      for (const x of [a.c, b.c, c.c]) x.close();
    });
  });
});

describe('cache_max_rows', () => {
  test('past cache_max_rows, new verified caps are used for their session only; the warning is logged once', async () => {
    const warnings: string[] = [];
    const log = new Logger('warn', {}, (line) => void (/cache_max_rows/.test(line) && warnings.push(line)), false);
    const t = await startTestServer(modules({ cache_max_rows: 2 }), { log });
    try {
      for (const host of HOSTS) await t.addUser('bob', 'pw-bob', host);
      const host = HOSTS[0]!;
      const sets = [1, 2, 3, 4].map((i) => [NS_DISCO_INFO, `urn:example:capped-${i}`]);
      const clients: RawClient[] = [];
      for (const [i, features] of sets.entries()) {
        const { c, jid } = await announce(t, host, 'bob', `capped-${i}`, features);
        clients.push(c);
        assert.ok(capsOf(t, host).featuresOf(Jid.parse(jid))!.has(`urn:example:capped-${i + 1}`), 'verified caps are used either way');
      }
      assert.ok(await table(t).get(keyOf(sets[0]!)));
      assert.ok(await table(t).get(keyOf(sets[1]!)));
      assert.equal(await table(t).get(keyOf(sets[2]!)), undefined, 'not stored past the cap');
      assert.equal(await table(t).get(keyOf(sets[3]!)), undefined);
      assert.equal(await table(t).count(), 2);
      assert.equal(await gauge(t), 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /"max":2/);
      // another host's client with the third caps is asked again: nothing was kept for it
      const other = HOSTS[1]!;
      const { c } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'capped-other', { presence: false, host: other });
      c.send(capsPresence(sets[2]!));
      await c.expect(/<iq\b[^>]*>\s*<query\b[^>]*disco#info/);
      clients.push(c);
      for (const x of clients) x.close();
    } finally {
      await t.stop();
    }
  });
});
