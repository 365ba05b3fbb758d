// The stream base's send queue on server-to-server streams (RFC 6120 §13.12): an outbound stream to a peer that
// reads slowly (its own limits.s2s shaper) carries far more than max_send_queue whole and in order, and an
// inbound stream whose peer stops reading is closed with policy-violation once max_send_queue is exceeded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa } from './interop/test-ca.js';
import { XmppdPeer } from './interop/xmppd-peer.js';
import { RawS2s } from './interop/raw-s2s.js';
import { freePorts, sleep } from './interop/net-util.js';
import { login } from './interop/xmpp-client.js';

const tmp = mkdtempSync(join(tmpdir(), 'xmppd-s2s-queue-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const ca = new TestCa(tmp);
const MAX = 262_144;

describe('s2s send queue: back-pressure and max_send_queue on inbound and outbound streams', () => {
  const bCert = ca.issue('b', { dns: ['b.test'] });
  let a: XmppdPeer;
  let b: XmppdPeer;
  before(async () => {
    const [pa, pb] = await freePorts(2);
    a = await XmppdPeer.start({
      domain: 'a.test', s2sPort: pa!, cert: ca.issue('a', { dns: ['a.test'] }),
      s2s: { cafile: ca.certFile, overrides: { 'b.test': `127.0.0.1:${pb}` } }, users: { alice: 'pw-alice' },
      config: { max_send_queue: MAX, max_stanza_size: 100_000, limits: { c2s: { bytes_per_second: 0 }, s2s: { bytes_per_second: 0 } } },
    });
    b = await XmppdPeer.start({
      domain: 'b.test', s2sPort: pb!, cert: bCert,
      s2s: { cafile: ca.certFile, overrides: { 'a.test': `127.0.0.1:${pa}` } }, users: { bob: 'pw-bob' },
      // b.test reads what a.test sends at 2 MB/s: a slow reader of a.test's outbound stream.
      config: { max_stanza_size: 100_000, limits: { c2s: { bytes_per_second: 0 }, s2s: { bytes_per_second: 2_000_000 } } },
    });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  test('outbound: a peer that reads slowly gets 20 times max_send_queue whole and in order, on one stream', async () => {
    const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'desk' });
    const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'phone' });
    const body = 'y'.repeat(60_000);
    const n = 96; // 5.8 MB in bursts of 480 kB (each larger than max_send_queue), a little slower than b.test reads
    const sending = (async () => {
      for (let round = 0; round < n / 8; round++) {
        alice.c.send(Array.from({ length: 8 }, (_, i) => `<message to='bob@b.test' type='chat' id='s${round * 8 + i}'><body>${body}</body></message>`).join(''));
        await sleep(400);
      }
    })();
    for (let i = 0; i < n; i++) {
      const m = await bob.c.expect(/<message\b[^>]*\bid=["'](s\d+)["'][\s\S]*?<\/message>/, 30_000);
      assert.equal(m[1], `s${i}`);
    }
    await sending;
    const out = (await a.s2sList()).filter((r) => r.direction === 'out' && r.remote === 'b.test');
    assert.equal(out.length, 1, 'the outbound stream was never dropped');
    assert.equal(out[0]!.queued, 0);
    assert.doesNotMatch(alice.c.buffer, /type=["']error["']/, 'nothing bounced');
    alice.c.close();
    bob.c.close();
  });

  test('inbound: a peer that stops reading is closed with policy-violation after max_send_queue; the server serves on', async () => {
    const s = await RawS2s.authenticated(a.t.server.port('s2s'), 'b.test', 'a.test', bCert);
    const inbound = async () => (await a.s2sList()).some((r) => r.direction === 'in' && r.remote === 'b.test' && r.ip === '127.0.0.1' && r.state === 'established' && r.auth === 'EXTERNAL');
    s.socket.pause();
    // Each <db:verify/> is answered with its id (XEP-0220 §2.1.3): 60 kB answers that the peer does not read.
    const id = 'v'.repeat(60_000);
    let sent = 0;
    const streams = async () => (await a.s2sList()).filter((r) => r.direction === 'in').length;
    const before = await streams();
    while ((await streams()) === before) {
      assert.ok(sent < 2000, 'the stream should have been closed long before 120 MB');
      for (let i = 0; i < 8; i++) s.send(`<db:verify from='b.test' to='a.test' id='${id}${sent++}'>00</db:verify>`);
      await sleep(10);
    }
    assert.equal(await inbound(), false);
    s.socket.resume();
    const text = await s.waitClosed(20_000);
    assert.match(text.slice(-400), /type=["']invalid["']\/><stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text [^>]*>[^<]*not reading<\/text><\/stream:error><\/stream:stream>$/);
    // a.test still federates with b.test
    const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'after' });
    const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'after' });
    bob.c.send("<message to='alice@a.test/after' type='chat' id='still'><body>still federating</body></message>");
    await alice.c.expect(/<message\b[^>]*\bid=["']still["']/, 10_000);
    alice.c.close();
    bob.c.close();
  });
});
