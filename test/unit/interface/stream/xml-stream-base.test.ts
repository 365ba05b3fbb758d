// The stream base every stream kind extends, over real loopback sockets with a real server core: the header
// path (RFC 6120 §4.7, header before any stream error §4.9.1.2), in-order processing (§10.1), close with
// linger (§4.4) and the max-queue rule ending a stream whose peer does not read (§13.12).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import type { Core } from '../../../../src/core/core.js';
import { StreamError } from '../../../../src/core/errors.js';
import { XmlStreamBase } from '../../../../src/interface/stream/xml-stream-base.js';
import { checkHeader, openingTag, type HeaderAttrs } from '../../../../src/interface/stream/stream-header.js';
import { startTestServer, type TestServer } from '../../../support/harness.js';
import { until } from '../../../support/until.js';

const HEADER = (xmlns: string, version = '1.0') =>
  `<?xml version='1.0'?><stream:stream xmlns='${xmlns}' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='${version}'>`;

/** A minimal stream kind: answers the header, records elements in the order it finished handling them. */
class TestStream extends XmlStreamBase {
  readonly handled: string[] = [];
  readonly endings: string[] = [];
  constructor(core: Core, socket: Socket, linger: number) {
    super(core, () => core.log.child({ part: 'test-stream' }), 'component');
    this.lingerMs = linger;
    this.attach(socket);
    this.newParser();
  }
  protected onStreamStart(attrs: Record<string, string>): void {
    this.openStream({ contentNs: 'jabber:client', from: 'localhost' });
    const bad = checkHeader(attrs, 'jabber:client');
    if (bad) this.close(bad);
  }
  protected onElement(el: Element): void {
    // Handlers that take different times still finish in arrival order.
    const delay = Number(el.attrs.delay ?? 0);
    this.inbound.push(() => new Promise<void>((r) => setTimeout(() => {
      this.handled.push(el.attrs.id ?? '');
      r();
    }, delay)));
  }
  protected onEnded(reason: string): void {
    this.endings.push(reason);
  }
  protected errorHeader(): HeaderAttrs {
    return { contentNs: 'jabber:client', from: 'localhost' };
  }
  sendRaw(data: string): void {
    this.write(data);
  }
  get socketDestroyed(): boolean {
    return this.socket?.destroyed ?? true;
  }
}

let t: TestServer;
let listener: Server;
let port = 0;
let linger = 60_000;
let accepted: (s: TestStream) => void = () => {};

before(async () => {
  t = await startTestServer({ max_send_queue: 65_536 });
  listener = createServer((sock) => accepted(new TestStream(t.server.core, sock, linger)));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  port = (listener.address() as { port: number }).port;
});
after(async () => {
  listener.close();
  await t.stop();
});

/** Connect a peer; resolves with its socket, what it has read so far, and the server-side stream. */
async function open(lingerMs = 60_000, allowHalfOpen = false): Promise<{ peer: Socket; text: () => string; closed: Promise<void>; stream: TestStream }> {
  linger = lingerMs;
  const streamP = new Promise<TestStream>((r) => (accepted = r));
  // allowHalfOpen: a peer that does not close its side when ours is closed (it never sends its closing tag)
  const peer = connect({ port, host: '127.0.0.1', allowHalfOpen });
  peer.on('error', () => {});
  let text = '';
  peer.setEncoding('utf8');
  peer.on('data', (d: string) => (text += d));
  const closed = new Promise<void>((r) => peer.once('close', () => r()));
  const stream = await streamP;
  return { peer, text: () => text, closed, stream };
}

test('header writer: client, server with dialback declared, component without version', () => {
  assert.equal(openingTag({ contentNs: 'jabber:client', id: 'i1', from: 'a&b' }),
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='i1' from='a&amp;b' version='1.0' xml:lang='en'>");
  assert.equal(openingTag({ contentNs: 'jabber:server', prefixes: { db: 'jabber:server:dialback' }, from: 'x.test', to: 'y.test' }),
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='x.test' to='y.test' version='1.0' xml:lang='en'>");
  assert.equal(openingTag({ contentNs: 'jabber:component:accept', id: 'c1', from: 'localhost', version: false }),
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='c1' from='localhost'>");
});

test('header checks: content namespace first, then XMPP 1.0 (not for version-less component streams)', () => {
  assert.equal(checkHeader({ xmlns: 'jabber:client', version: '1.0' }, 'jabber:client'), null);
  assert.equal(checkHeader({ xmlns: 'jabber:server', version: '0.9' }, 'jabber:client')?.condition, 'invalid-namespace');
  assert.equal(checkHeader({ xmlns: 'jabber:client' }, 'jabber:client')?.condition, 'unsupported-version');
  assert.equal(checkHeader({ xmlns: 'jabber:client', version: '2.0' }, 'jabber:client'), null);
  assert.equal(checkHeader({ xmlns: 'jabber:component:accept' }, 'jabber:component:accept', false), null);
});

test('a bad header gets our header (with a stream ID) first, then the stream error and the closing tag', async () => {
  for (const [header, condition] of [[HEADER('jabber:server'), 'invalid-namespace'], [HEADER('jabber:client', '0.9'), 'unsupported-version']] as const) {
    const { peer, text, closed, stream } = await open();
    peer.write(header);
    await until(() => text().endsWith('</stream:stream>'), 'the closing tag');
    assert.match(text(), new RegExp(`^<\\?xml version='1.0'\\?><stream:stream xmlns='jabber:client' [^>]*id='[\\w-]{16}' from='localhost' version='1.0'[^>]*>` +
      `<stream:error><${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/><text [^>]*>[^<]+</text></stream:error></stream:stream>$`));
    peer.end();
    await closed;
    await until(() => stream.endings.length, 'the stream ended');
    assert.deepEqual(stream.endings, ['connection closed']);
  }
});

test('an error before any header: our header is written first (RFC 6120 §4.9.1.2)', async () => {
  const { peer, text, closed, stream } = await open();
  stream.close(new StreamError('host-unknown', 'no'));
  await until(() => text().endsWith('</stream:stream>'), 'the closing tag');
  assert.match(text(), /^<\?xml version='1.0'\?><stream:stream [^>]*id='[\w-]+'[^>]*><stream:error><host-unknown /);
  peer.end();
  await closed;
});

test('elements are handled in arrival order even when their handlers take different times', async () => {
  const { peer, stream } = await open();
  peer.write(HEADER('jabber:client'));
  const delays = [30, 0, 20, 1, 0, 15, 5, 0, 25, 2];
  peer.write(delays.map((d, i) => `<message id='m${i}' delay='${d}'/>`).join(''));
  await until(() => stream.handled.length === delays.length, 'all handled');
  assert.deepEqual(stream.handled, delays.map((_, i) => `m${i}`));
  peer.destroy();
});

test('close with linger: the closing tag goes out; a peer that never closes is cut off after the linger time', async () => {
  // Two silent peers that never close their side; only the linger time differs.
  const short = await open(300, true);
  const long = await open(60_000, true);
  for (const x of [short, long]) {
    x.peer.write(HEADER('jabber:client'));
    await until(() => x.text().includes('<stream:stream'), 'our header');
    x.stream.close();
    await until(() => x.text().endsWith('</stream:stream>'), 'the closing tag');
    x.stream.sendRaw('<message id="late"/>');
  }
  await until(() => short.stream.endings.length, 'the short-linger stream ended');
  assert.deepEqual(short.stream.endings, ['connection closed']);
  assert.equal(short.stream.socketDestroyed, true);
  assert.deepEqual(long.stream.endings, [], 'the same peer with a long linger time is still waited for');
  assert.equal(long.stream.socketDestroyed, false);
  for (const x of [short, long]) assert.ok(!x.text().includes('late'), 'nothing is written after the closing tag');
  short.peer.destroy();
  long.peer.destroy();
  await until(() => long.stream.endings.length, 'the long-linger stream ended when its peer went away');
});

test('close with linger: a peer that answers with its closing tag ends the stream long before the linger time', async () => {
  const { peer, text, closed, stream } = await open(60_000);
  peer.write(HEADER('jabber:client'));
  await until(() => text().includes('<stream:stream'), 'our header');
  stream.close();
  await until(() => text().endsWith('</stream:stream>'), 'the closing tag');
  peer.end('</stream:stream>');
  await closed;
  await until(() => stream.endings.length, 'the stream ended', 5000);
  assert.deepEqual(stream.endings, ['connection closed']);
});

test('max_send_queue: a peer that stops reading ends the stream at once; reading again, it finds policy-violation and the closing tag', async () => {
  const { peer, text, closed, stream } = await open(60_000);
  peer.write(HEADER('jabber:client'));
  await until(() => text().includes('<stream:stream'), 'our header');
  peer.pause();
  const before = (await t.server.core.metrics.registry.getSingleMetric('xmppd_stream_errors_total')!.get()).values
    .find((v) => v.labels.condition === 'policy-violation')?.value ?? 0;
  const chunk = `<message>${'z'.repeat(32 * 1024)}</message>`;
  for (let round = 0; round < 2000 && !stream.endings.length; round++) {
    for (let i = 0; i < 8; i++) stream.sendRaw(chunk);
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(stream.endings, ['the peer is not reading'], 'ended for the server without waiting for the peer');
  assert.equal(stream.socketDestroyed, false, 'the connection lingers for the closing tag');
  const after = (await t.server.core.metrics.registry.getSingleMetric('xmppd_stream_errors_total')!.get()).values
    .find((v) => v.labels.condition === 'policy-violation')?.value ?? 0;
  assert.equal(after, before + 1);
  peer.resume();
  await closed; // the server ended its side once the closing tag was read
  // Whole messages, then the error: what waited in the queue was dropped, not cut.
  assert.match(text().slice(-400), /<\/message><stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text [^>]*>[^<]*not reading<\/text><\/stream:error><\/stream:stream>$/);
  assert.deepEqual(stream.endings, ['the peer is not reading'], 'ended once');
});
