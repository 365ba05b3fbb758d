// Fault injection for federation over real sockets: scripted peer servers that stall mid-stream, reset the
// connection, send garbage, never finish TLS or stop reading; stanzas for them bounce (RFC 6120 §8.3.3.13
// remote-server-not-found, §8.3.3.14 remote-server-timeout), never silently lost, and local users are served
// throughout. Also the cap on pending dialback verifications (XEP-0220 §2.4 dialback errors).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa } from './interop/test-ca.js';
import { XmppdPeer } from './interop/xmppd-peer.js';
import { RawS2s } from './interop/raw-s2s.js';
import { freePorts, sleep, until } from './interop/net-util.js';
import { login, nextMessage, take } from './interop/xmpp-client.js';
import type { RawClient } from '../support/raw-client.js';

const tmp = mkdtempSync(join(tmpdir(), 'xmppd-s2s-faults-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const PEER_HEADER = (from: string, id: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='${id}' from='${from}' version='1.0'>`;

/** A peer server driven by a script per connection; it counts the connections it got. */
class ScriptedPeer {
  readonly sockets = new Set<Socket>();
  connections = 0;
  private server: Server | null = null;
  port = 0;
  constructor(private readonly script: (sock: Socket, n: number) => void) {}

  async start(): Promise<this> {
    const srv = createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {});
      this.script(sock, this.connections++);
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    this.server = srv;
    this.port = (srv.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Collect what arrives on a socket as text and call `on` with everything so far. */
function reading(sock: Socket, on: (text: string) => void): void {
  let text = '';
  sock.on('data', (d: Buffer) => on((text += d.toString('latin1'))));
}

/**
 * A plaintext peer that accepts our dialback (after `delayMs`), offers XEP-0198 and then calls `then`;
 * `text` is everything received on the connection so far.
 */
function dialbackPeer(domain: string, then: (sock: Socket, text: () => string) => void, delayMs = 0): (sock: Socket, n: number) => void {
  return (sock, n) => {
    let stage = 0;
    let all = '';
    reading(sock, (text) => {
      all = text;
      if (stage === 0 && /<stream:stream[^>]*>/.test(text)) {
        stage = 1;
        sock.write(PEER_HEADER(domain, `p${n}`) + "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>");
      }
      if (stage === 1 && /<db:result[^>]*>[^<]*<\/db:result>/.test(text)) {
        stage = 2;
        const m = /<db:result[^>]*from=["']([^"']+)["'][^>]*to=["']([^"']+)["']/.exec(text)!;
        setTimeout(() => sock.write(`<db:result from='${m[2]}' to='${m[1]}' type='valid'/>`), delayMs);
      }
      if (stage === 2 && /<enable xmlns=["']urn:xmpp:sm:3["']\/>/.test(text)) {
        stage = 3;
        sock.write("<enabled xmlns='urn:xmpp:sm:3'/>");
        then(sock, () => all);
      }
    });
  };
}

const bounceOf = (stanza: string) => /<error[^>]*>\s*<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/.exec(stanza)?.[1];
const withId = (id: string) => new RegExp(`<message\\b[^>]*\\bid=["']${id}["'][^>]*>[\\s\\S]*?</message>`);

describe('federation faults', () => {
  let hub: XmppdPeer;
  let alice: RawClient;
  let bob: RawClient;
  const peers: Record<string, ScriptedPeer> = {};
  let chats = 0;
  let readerText = (): string => '';

  /** alice and bob (both local) exchange a message: the server still serves everyone else. */
  async function localChat(): Promise<void> {
    const id = `chat${++chats}`;
    alice.send(`<message to='bob@hub.test/b' type='chat' id='${id}'><body>still here ${id}</body></message>`);
    assert.match(await nextMessage(bob, new RegExp(`still here ${id}<`)), /from=["']alice@hub\.test\/a["']/);
  }

  before(async () => {
    const silentAuth = await new ScriptedPeer(() => {}).start();
    peers.silent = silentAuth;
    peers.stall = await new ScriptedPeer((sock) => {
      let sent = false;
      reading(sock, (text) => {
        if (!sent && /<stream:stream[^>]*>/.test(text)) {
          sent = true; // a header and half of the features, then nothing more
          sock.write(PEER_HEADER('stall.test', 'st') + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>");
        }
      });
    }).start();
    peers.reset = await new ScriptedPeer((sock) => sock.once('data', () => sock.resetAndDestroy())).start();
    peers.garbage = await new ScriptedPeer((sock) => sock.once('data', () => sock.write(Buffer.from('<<<\u0000\u00ff\u00fe not xml at all >>>', 'latin1')))).start();
    peers.tlsStall = await new ScriptedPeer((sock) => {
      let sent = 0;
      reading(sock, (text) => {
        if (sent === 0 && /<stream:stream[^>]*>/.test(text)) {
          sent = 1;
          sock.write(PEER_HEADER('tlsstall.test', 'ts') + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
        }
        if (sent === 1 && text.includes('<starttls')) {
          sent = 2;
          sock.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); // and then never a TLS byte
        }
      });
    }).start();
    const [port] = await freePorts(1);
    const overrides: Record<string, unknown> = {
      'stall.test': `127.0.0.1:${peers.stall.port}`,
      'reset.test': `127.0.0.1:${peers.reset.port}`,
      'garbage.test': `127.0.0.1:${peers.garbage.port}`,
      'tlsstall.test': `127.0.0.1:${peers.tlsStall.port}`,
      'directsilent.test': { host: '127.0.0.1', port: silentAuth.port, tls: 'direct' },
    };
    for (let i = 1; i <= 12; i++) overrides[`d${i}.test`] = `127.0.0.1:${silentAuth.port}`;
    peers.deaf = await new ScriptedPeer(dialbackPeer('deaf.test', (sock) => sock.pause())).start();
    overrides['deaf.test'] = `127.0.0.1:${peers.deaf.port}`;
    // reads, acknowledges, and answers dialback only after a while, so that stanzas queue up meanwhile
    peers.reader = await new ScriptedPeer(dialbackPeer('reader.test', (s, text) => {
      readerText = text;
      const ack = setInterval(() => {
        if (!s.destroyed) s.write(`<a xmlns='urn:xmpp:sm:3' h='${(text().match(/<message\b/g) ?? []).length}'/>`);
      }, 100);
      s.on('close', () => clearInterval(ack));
    }, 2000)).start();
    overrides['reader.test'] = `127.0.0.1:${peers.reader.port}`;
    hub = await XmppdPeer.start({
      domain: 'hub.test', s2sPort: port!, cert: TestCa.selfSigned(tmp, 'hub', { dns: ['hub.test'] }),
      s2s: { connect_timeout: 3, require_encryption: false, overrides },
      config: {
        max_send_queue: 262_144, max_stanza_size: 100_000,
        limits: { c2s: { bytes_per_second: 0 }, dialback_pending_per_stream: 5, dialback_pending_per_ip: 7 },
      },
      users: { alice: 'pw-alice', bob: 'pw-bob' },
    });
    alice = (await login(hub.c2sPort, 'hub.test', 'alice', 'pw-alice', { resource: 'a' })).c;
    bob = (await login(hub.c2sPort, 'hub.test', 'bob', 'pw-bob', { resource: 'b' })).c;
  });
  after(async () => {
    alice?.close();
    bob?.close();
    await hub?.stop();
    for (const p of Object.values(peers)) await p.stop();
  });

  test('peers that stall mid-stream, reset, send garbage or never finish TLS: every stanza bounces; local chat goes on', async () => {
    const cases: Array<[string, string[]]> = [
      ['stall.test', ['remote-server-timeout']],
      ['reset.test', ['remote-server-not-found']],
      ['garbage.test', ['remote-server-not-found']],
      ['tlsstall.test', ['remote-server-timeout', 'remote-server-not-found']],
      ['directsilent.test', ['remote-server-timeout']],
    ];
    for (const [domain] of cases) {
      for (let i = 0; i < 3; i++) alice.send(`<message to='x@${domain}' type='chat' id='${domain}-${i}'><body>hi</body></message>`);
    }
    await localChat(); // while the peers misbehave
    for (const [domain, conditions] of cases) {
      for (let i = 0; i < 3; i++) {
        const bounce = await take(alice, withId(`${domain}-${i}`), 10_000);
        assert.match(bounce, /type=["']error["']/);
        assert.ok(conditions.includes(bounceOf(bounce) ?? ''), `${domain}: ${bounce}`);
      }
    }
    await localChat();
    await until(async () => !(await hub.s2sList()).some((r) => cases.some(([d]) => r.remote === d)), 'the failed streams are gone');
  });

  test('a peer that stops reading: the stream is dropped at max_send_queue and every unacknowledged stanza bounces', async () => {
    // The bulk is in an attribute: a bounce carries the payload but not unknown attributes, so the bounces
    // (80 at once) stay small and alice's own send queue is not what this test fills.
    const pad = 'x'.repeat(60_000);
    const n = 80; // 4.8 MB: more than loopback buffers and max_send_queue hold
    for (let i = 0; i < n; i++) alice.send(`<message to='x@deaf.test' type='chat' id='deaf-${i}' pad='${pad}'><body>m${i}</body></message>`);
    await localChat();
    for (let i = 0; i < n; i++) {
      const bounce = await take(alice, withId(`deaf-${i}`), 20_000);
      assert.ok(['remote-server-timeout', 'remote-server-not-found'].includes(bounceOf(bounce) ?? ''), bounce.slice(0, 300));
    }
    assert.ok(peers.deaf.connections >= 2, 'retried once on a new stream before bouncing');
    await localChat();
  });

  test('a burst larger than max_send_queue to a peer that reads is delivered, not dropped', async () => {
    const body = 'y'.repeat(60_000);
    const n = 60; // queued while the stream negotiates, then written in one go: 3.6 MB
    for (let i = 0; i < n; i++) alice.send(`<message to='x@reader.test' type='chat' id='rd-${i}'><body>${body}</body></message>`);
    await until(() => (readerText().match(/<message\b/g) ?? []).length >= n || peers.reader.connections > 1, 'all stanzas at the peer', 20_000);
    assert.equal(peers.reader.connections, 1, 'one connection: the first was not dropped');
    assert.equal((readerText().match(/<message\b/g) ?? []).length, n);
    await sleep(300);
    assert.doesNotMatch(alice.buffer, /id=["']rd-\d+["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']rd-/);
    await localChat();
  });

  test('dialback fan-out: pending verifications are capped per stream and per address; the excess gets a resource-constraint dialback error', async () => {
    const before = peers.silent.connections;
    const s1 = await RawS2s.connect(hub.t.server.port('s2s'));
    s1.openStream(null, 'hub.test');
    await s1.features();
    await s1.starttls('hub.test');
    s1.openStream(null, 'hub.test');
    await s1.features();
    for (let i = 1; i <= 8; i++) s1.send(`<db:result from='d${i}.test' to='hub.test'>${'ab'.repeat(32)}</db:result>`);
    for (let i = 6; i <= 8; i++) {
      const m = (await s1.expect(new RegExp(`<db:result[^>]*to=["']d${i}\\.test["'][^>]*type=["']error["'][^>]*>[\\s\\S]*?</db:result>`)))[0];
      assert.match(m, /<error type=["']wait["']><resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    }
    // a second stream from the same address: two more fit under dialback_pending_per_ip (7)
    const s2 = await RawS2s.connect(hub.t.server.port('s2s'));
    s2.openStream(null, 'hub.test');
    await s2.features();
    await s2.starttls('hub.test');
    s2.openStream(null, 'hub.test');
    await s2.features();
    for (let i = 9; i <= 11; i++) s2.send(`<db:result from='d${i}.test' to='hub.test'>${'ab'.repeat(32)}</db:result>`);
    await s2.expect(/<db:result[^>]*to=["']d11\.test["'][^>]*type=["']error["'][^>]*>\s*<error type=["']wait["']><resource-constraint /);
    await until(() => peers.silent.connections - before === 7, 'seven verification connections');
    await localChat();
    await sleep(300);
    assert.equal(peers.silent.connections - before, 7, 'no more outbound connections than verifications admitted');
    // the silent authoritative servers time out (connect_timeout): the slots are free again
    await s1.expect(/<db:result[^>]*to=["']d1\.test["'][^>]*type=["']error["']/, 10_000);
    await s2.expect(/<db:result[^>]*to=["']d10\.test["'][^>]*type=["']error["']/, 10_000);
    s1.send(`<db:result from='d12.test' to='hub.test'>${'ab'.repeat(32)}</db:result>`);
    await until(() => peers.silent.connections - before === 8, 'a new verification once the others ended');
    const metrics = await hub.t.server.core.metrics.registry.metrics();
    assert.match(metrics, /^xmppd_limit_violations_total\{limit="dialback_pending_per_stream"\} 3$/m);
    assert.match(metrics, /^xmppd_limit_violations_total\{limit="dialback_pending_per_ip"\} 1$/m);
    s1.close();
    s2.close();
  });

  test('inbound peers that stall mid-stream, send garbage or reset are released; local chat goes on', async () => {
    const port = hub.t.server.port('s2s');
    const stalled = await RawS2s.connect(port);
    stalled.openStream('peer.test', 'hub.test');
    await stalled.features();
    stalled.send("<db:result from='peer.test' to='hub"); // half an element, then silence
    const garbage = await RawS2s.connect(port);
    garbage.send(Buffer.from([0x3c, 0x3c, 0xff, 0xfe, 0x00, 0x3e]));
    const reset = await RawS2s.connect(port);
    reset.openStream('peer.test', 'hub.test');
    await reset.features();
    reset.socket.resetAndDestroy();
    await localChat();
    assert.match(await garbage.waitClosed(), /<stream:error>/);
    // authentication must come within twice s2s.connect_timeout
    assert.match(await stalled.waitClosed(10_000), /<connection-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
    await until(() => hub.t.server.core.limits.connectionsFrom('127.0.0.1', 's2s') === 0, 'every inbound connection released');
    assert.ok(!(await hub.s2sList()).some((r) => r.direction === 'in' && r.state !== 'closed'));
    await localChat();
  });
});
