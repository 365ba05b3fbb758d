// XMPP over WebSocket (RFC 7395) with a third-party client, @xmpp/client 0.14 in Node, on both virtual hosts:
// ws:// from loopback and wss:// with a certificate from a test CA; SCRAM login with the stream restart by a new
// <open/>, the roster, chat with a TCP user both ways, and XEP-0198 resumption after the WebSocket drops.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from '@xmpp/xml';
import { WebSocket as WsWebSocket, type ClientOptions as WsOptions } from 'ws';
import { startTestServer, type TestServer } from '../support/harness.js';
import { HOSTS } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { nextMessage } from './interop/xmpp-client.js';
import { TestCa } from './interop/test-ca.js';
import { Jid } from '../../src/core/jid.js';
import { openFrame, wsConnect } from '../support/ws-client.js';
import type { TLSSocket } from 'node:tls';
import { ScramClient } from '../../src/core/sasl/scram-client.js';
import { tlsExporter } from '../../src/core/sasl/channel-binding.js';

interface XmppClient {
  status: string;
  jid: { toString(): string } | null;
  socket: { socket?: { terminate(): void } } | null;
  start(): Promise<{ toString(): string }>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: string, fn: (arg: any) => void): void;
  iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
  reconnect: { stop(): void };
  streamManagement: { enabled: boolean; id: string; on(event: 'resumed', fn: () => void): void };
}
const lib = (await import('@xmpp/client' as string)) as { client: (o: Record<string, unknown>) => XmppClient; xml: typeof import('@xmpp/xml').xml };
const { xml } = lib;

let t: TestServer;
let dir: string;
let wsPort = 0;
let wssPort = 0;
let caPem = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-ws-'));
  // The server's certificate comes from a CA only this process trusts: @xmpp/client's WebSocket (the global
  // one it uses in browsers; Node 20 has none) is `ws` told to trust that CA, so wss:// is verified for real.
  const ca = new TestCa(dir);
  const cert = ca.issue('localhost', { dns: [...HOSTS] });
  caPem = readFileSync(ca.certFile, 'utf8');
  (globalThis as Record<string, unknown>).WebSocket = class extends WsWebSocket {
    constructor(url: string, protocols?: string | string[], opts: WsOptions = {}) {
      super(url, protocols, { ...opts, ca: caPem });
    }
  };
  // sasl2 off: the classic profile, so each login restarts the stream with a new <open/> after <success/>.
  t = await startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s', starttls_required: false },
      { port: 0, ip: '127.0.0.1', type: 'http' },
      { port: 0, ip: '127.0.0.1', type: 'https' },
    ],
    tls: { cert: cert.certFile, key: cert.keyFile },
    sasl2: { enabled: false },
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, stream_management: {} },
  });
  wsPort = t.server.listeners.bound.find((l) => l.type === 'http')!.port;
  wssPort = t.server.listeners.bound.find((l) => l.type === 'https')!.port;
  for (const h of HOSTS) {
    await t.addUser('alice', 'pw-alice', h);
    await t.addUser('bob', 'pw-bob', h);
  }
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const clients: XmppClient[] = [];
afterEach(async () => {
  for (const x of clients.splice(0)) {
    x.reconnect.stop();
    if (x.status !== 'offline') await x.stop().catch(() => {});
  }
});

function newClient(service: string, domain: string, resource: string): { x: XmppClient; errors: Error[]; sent: Element[]; bodies: string[] } {
  // timeout: @xmpp/client's 2 s per server answer; a loaded 2-core machine can take longer for a TLS handshake.
  const x = lib.client({ service, domain, username: 'alice', password: 'pw-alice', resource, timeout: 10_000 });
  const errors: Error[] = [];
  const sent: Element[] = [];
  const bodies: string[] = [];
  x.on('error', (err: Error) => errors.push(err));
  x.on('send', (el: Element) => sent.push(el));
  x.on('stanza', (el: Element) => { if (el.name === 'message') bodies.push(el.getChildText('body') ?? ''); });
  clients.push(x);
  return { x, errors, sent, bodies };
}

for (const host of HOSTS) {
  describe(`on ${host}`, () => {
    for (const scheme of ['ws', 'wss'] as const) {
      test(`alice logs in over ${scheme}:// with SCRAM, gets her roster and chats with bob on TCP both ways`, async () => {
        const port = scheme === 'ws' ? wsPort : wssPort;
        // wss:// is checked against the certificate's name: localhost (the XMPP host is the <open/>'s 'to').
        const { x, errors, sent, bodies } = newClient(`${scheme}://${scheme === 'ws' ? '127.0.0.1' : 'localhost'}:${port}/xmpp-websocket`, host, `web-${scheme}`);
        const jid = await x.start();
        assert.equal(jid.toString(), `alice@${host}/web-${scheme}`);
        const auth = sent.find((el) => el.name === 'auth');
        assert.match(auth?.attrs.mechanism ?? '', /^SCRAM-SHA-/, 'a SCRAM mechanism');
        // The roster: an item alice sets is in the roster she gets.
        await x.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: `bob@${host}`, name: 'Bob' }))), 5000);
        const roster = await x.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
        const item = roster.getChild('query', 'jabber:iq:roster')?.getChildren('item').find((i) => i.attrs.jid === `bob@${host}`);
        assert.equal(item?.attrs.name, 'Bob');
        await x.send(xml('presence'));
        const session = t.server.core.sessions.get(Jid.parse(jid.toString()));
        assert.ok(session, 'a session in the session manager like any c2s session');
        await until(() => session.presence !== null, 'alice available');
        const { c: bob, jid: bobJid } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'tcp', { host });
        try {
          await x.send(xml('message', { to: bobJid, type: 'chat' }, xml('body', {}, `from ${scheme}`)));
          const got = await nextMessage(bob, new RegExp(`<body>from ${scheme}</body>`));
          assert.match(got, new RegExp(`from=["']alice@${host.replace('.', '\\.')}/web-${scheme}["']`));
          bob.send(`<message to='${jid.toString()}' type='chat'><body>from tcp</body></message>`);
          await until(() => bodies.includes('from tcp'), 'bob\'s message over the WebSocket');
        } finally {
          bob.close();
        }
        assert.deepEqual(errors, []);
      });
    }

    test('stream management: after the WebSocket drops, @xmpp/client resumes and gets what was sent meanwhile, once', async () => {
      const { x, bodies } = newClient(`ws://127.0.0.1:${wsPort}/xmpp-websocket`, host, 'sm');
      await x.start();
      await until(() => x.streamManagement.enabled, 'stream management enabled by the client');
      assert.ok(x.streamManagement.id, 'resumable: the server gave an id');
      const full = String(x.jid);
      await x.send(xml('presence'));
      const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'tcp-sm', { host });
      try {
        bob.send(`<message to='${full}' type='chat'><body>before</body></message>`);
        await until(() => bodies.includes('before'), 'first message');
        await x.send(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
        await x.iqCaller.request(xml('iq', { type: 'get', to: host }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
        const kept = t.server.core.sessions.get(Jid.parse(full)) as unknown as { detached: boolean } | undefined;
        assert.ok(kept);
        const resumed = new Promise<void>((r) => x.streamManagement.on('resumed', r));
        x.socket!.socket!.terminate(); // the TCP connection under the WebSocket is gone, no <close/>
        await until(() => kept.detached === true, 'the server saw the drop and keeps the session');
        bob.send(`<message to='${full}' type='chat'><body>while away</body></message>`);
        await resumed;
        await until(() => bodies.includes('while away'), 'the message sent while away');
        await x.iqCaller.request(xml('iq', { type: 'get', to: host }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
        // (Messages of the earlier tests that their clients had not acknowledged when they stopped went to
        // offline storage, XEP-0198 §5, and arrive here too.)
        assert.deepEqual(bodies.filter((b) => b === 'before' || b === 'while away'), ['before', 'while away'], 'each message once');
        assert.equal(t.server.core.sessions.get(Jid.parse(full)), kept, 'the same session');
        assert.equal(kept.detached, false);
      } finally {
        bob.close();
      }
    });
  });
}

test('with SASL2 offered (its default), @xmpp/client logs in over wss:// with SCRAM inside <authenticate/> and Bind2, no restart', async () => {
  const cfg = t.server.core.config;
  const s2 = await startTestServer({
    listen: [{ port: 0, ip: '127.0.0.1', type: 'https' }],
    tls: cfg.tls as { cert: string; key: string },
    modules: { disco: {}, roster: {}, presence: {} },
  });
  try {
    await s2.addUser('alice', 'pw-alice');
    const { x, sent } = newClient(`wss://localhost:${s2.server.listeners.bound[0]!.port}/xmpp-websocket`, 'localhost', 'ignored');
    const jid = await x.start();
    assert.match(jid.toString(), /^alice@localhost\//);
    const auth = sent.find((el) => el.name === 'authenticate');
    assert.equal(auth?.attrs.xmlns, 'urn:xmpp:sasl:2');
    assert.match(auth?.attrs.mechanism ?? '', /^SCRAM-SHA-/);
    await x.stop();
  } finally {
    await s2.stop();
  }
});

test('over wss:// the server offers the SCRAM -PLUS mechanisms with the channel bindings of the TLS connection under the WebSocket', async () => {
  const c = await wsConnect(`wss://localhost:${wssPort}/xmpp-websocket`, { ca: caPem });
  try {
    c.send(openFrame('localhost'));
    const features = await c.next(/<stream:features/);
    assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism>/);
    assert.match(features, /<sasl-channel-binding xmlns=["']urn:xmpp:sasl-cb:0["']>.*<channel-binding type=["']tls-exporter["']\/>/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/, 'wss:// counts as encrypted');
    assert.doesNotMatch(features, /<starttls/);
    // A real SCRAM-SHA-256-PLUS login, bound to the TLS connection the client sees (RFC 9266 tls-exporter).
    const scram = new ScramClient({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'alice', password: 'pw-alice', cbType: 'tls-exporter', cbData: tlsExporter(c.socket as TLSSocket)! });
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>${scram.clientFirst().toString('base64')}</auth>`);
    const challenge = /<challenge[^>]*>([^<]*)<\/challenge>/.exec(await c.next(/<challenge|<failure/))?.[1];
    assert.ok(challenge, 'a SCRAM challenge');
    c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${(await scram.clientFinal(Buffer.from(challenge, 'base64'))).toString('base64')}</response>`);
    const success = /<success[^>]*>([^<]*)<\/success>/.exec(await c.next(/<success|<failure/))?.[1];
    assert.ok(success !== undefined, 'authenticated');
    scram.verifyServerFinal(Buffer.from(success, 'base64'));
  } finally {
    c.close();
  }
});
