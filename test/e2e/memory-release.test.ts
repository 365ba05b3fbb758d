// Memory after load (issue 8): once c2s sessions and connections have ended, nothing in the server keeps
// them (or their TLS sockets and stream parsers) alive. Counts objects, via WeakRefs and a forced GC; no
// RSS threshold (test/bench/memory-churn.mjs measures the figures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import type { C2SConnection } from '../../src/interface/c2s/c2s-connection.js';

// The test runner starts without --expose-gc; the flag can still be turned on and gc() taken from a new context.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SESSIONS = 120; // more than limits.max_connections_per_ip (100): the clients use several source addresses
const localAddress = (i: number): string => `127.0.1.${1 + (i % 4)}`;

/** Runs fn(i) for i in [0, n), `width` at a time. */
async function inParallel(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i; (i = next++) < n;) await fn(i);
  }));
}

/** WeakRefs to every tracked connection and the objects hanging off it that a leak would also keep. */
function watch(srv: TestServer, refs: WeakRef<object>[]): void {
  for (const conn of srv.server.listeners.connections) {
    refs.push(new WeakRef(conn), new WeakRef(conn['socket']!), new WeakRef(conn['parser']!));
  }
}

/** Forces GC until every watched object is gone; fails with how many are still reachable. */
async function assertCollected(refs: WeakRef<object>[], what: string): Promise<void> {
  let alive = refs.length;
  await until(async () => {
    // A WeakRef's target stays alive until the end of the job that created or read it: yield first.
    await new Promise((r) => setImmediate(r));
    gc();
    alive = refs.filter((r) => r.deref() !== undefined).length;
    return alive === 0;
  }, `the closed ${what} are garbage-collected`, 10_000, 100).catch(() => {
    assert.fail(`${alive} of ${refs.length} objects of closed ${what} are still reachable`);
  });
}

async function drained(srv: TestServer): Promise<void> {
  const { listeners, core } = srv.server;
  await until(() => listeners.connections.size === 0 && core.sessions.count() === 0, 'every connection and session is gone');
  for (let i = 0; i < 4; i++) assert.equal(core.limits.connectionsFrom(localAddress(i)), 0, 'per-IP connection counts are released');
}

test('sessions that log in and go away (closing tag, dropped TCP, RST) leave nothing behind', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.stop());
  await inParallel(SESSIONS, 12, (i) => srv.addUser(`m${i}`, 'secret'));
  const clients: RawClient[] = [];
  await inParallel(SESSIONS, 12, async (i) => {
    const { c } = await RawClient.login(srv.c2sPort, `m${i}`, 'secret', 'churn', { localAddress: localAddress(i) });
    await c.iq('r1', "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
    clients[i] = c;
  });
  assert.equal(srv.server.core.sessions.count(), SESSIONS);
  const refs: WeakRef<object>[] = [];
  watch(srv, refs);
  assert.equal(refs.length, 3 * SESSIONS);

  // A third end their stream, a third drop the TCP connection, a third reset it.
  for (const [i, c] of clients.entries()) {
    if (i % 3 === 0) c.send('</stream:stream>');
    else if (i % 3 === 1) c.close();
    else (c.socket as unknown as { _parent: { resetAndDestroy(): void } })._parent.resetAndDestroy();
  }
  await drained(srv);
  for (const c of clients) c.close();
  clients.length = 0;
  await assertCollected(refs, 'sessions');
});

test('connections that never authenticate (failed SASL, half-open, garbage) leave nothing behind', async (t) => {
  // Hundreds of wrong passwords from few addresses: the brute-force throttle (limits.auth, tested in
  // auth-throttle.test) would rightly hold them back; here only what the connections leave behind counts.
  const srv = await startTestServer({ limits: { auth: { delay_ms: 0, max_failures_per_ip: 0 } } });
  t.after(() => srv.stop());
  await srv.addUser('victim', 'secret');
  const clients: RawClient[] = [];
  await inParallel(SESSIONS, 12, async (i) => {
    const c = await RawClient.connect(srv.c2sPort, { localAddress: localAddress(i) });
    c.openStream();
    await c.features();
    clients[i] = c;
  });
  const refs: WeakRef<object>[] = [];
  watch(srv, refs);
  assert.equal(refs.length, 3 * SESSIONS);

  await inParallel(SESSIONS, 12, async (i) => {
    const c = clients[i]!;
    if (i % 3 === 0) {
      // wrong password until the server gives up (sasl_max_failures)
      await c.starttls();
      c.openStream();
      await c.features();
      for (let k = 0; k < 3; k++) assert.match(await c.authScram('SCRAM-SHA-256', 'victim', 'wrong'), /<failure/);
      await c.waitClosed();
    } else if (i % 3 === 1) {
      // half a stanza after STARTTLS, then silence until the client resets the connection
      await c.starttls();
      c.send("<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><auth mech");
      await c.features();
    } else {
      c.send(Buffer.from([0x3c, 0xff, 0xfe])); // invalid UTF-8: a stream error and the end
      await c.waitClosed();
    }
  });
  await until(() => srv.server.listeners.connections.size === SESSIONS / 3, 'only the half-open connections are still open');
  for (const [i, c] of clients.entries()) if (i % 3 === 1) (c.socket as unknown as { _parent: { resetAndDestroy(): void } })._parent.resetAndDestroy();
  await drained(srv);
  for (const c of clients) c.close();
  clients.length = 0;
  await assertCollected(refs, 'connections');
});
