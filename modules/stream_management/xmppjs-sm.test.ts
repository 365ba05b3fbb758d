// XEP-0198 with a third-party client, @xmpp/client 0.14 (xmpp.js), at its default settings: it enables
// stream management with resumption by itself; after its socket is destroyed it reconnects and resumes,
// and a message sent meanwhile arrives once, an acknowledged one is not repeated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '@xmpp/xml';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { sessionOf } from './test-support.js';

// @xmpp/client verifies the server certificate and has no CA option; the test server's is self-signed.
// Each test file runs in its own process, so this affects no other test.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

interface XmppClient {
  status: string;
  jid: { toString(): string } | null;
  socket: { socket?: { destroy(): void } } | null;
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
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, stream_management: {} } });
  await t.addUser('alice', 'pw-alice');
  await t.addUser('bob', 'pw-bob');
});
after(() => t.stop());

test('@xmpp/client enables stream management by default and resumes after its socket is destroyed', async () => {
  // timeout: @xmpp/client's 2 s per server answer; a loaded 2-core machine can take longer for a TLS handshake.
  const x = lib.client({ service: `xmpp://127.0.0.1:${t.c2sPort}`, domain: 'localhost', username: 'alice', password: 'pw-alice', resource: 'phone', timeout: 10_000 });
  const errors: Error[] = [];
  x.on('error', (err) => errors.push(err));
  const bodies: string[] = [];
  x.on('stanza', (el: Element) => { if (el.name === 'message') bodies.push(el.getChildText('body') ?? ''); });
  try {
    await x.start();
    await until(() => x.streamManagement.enabled, 'stream management enabled by the client');
    assert.ok(x.streamManagement.id, 'resumable: the server gave an id');
    // With SASL2 and Bind2 (its default where offered) the server picks the resource from the client's tag.
    const full = String(x.jid);
    assert.match(full, /^alice@localhost\//);
    await x.send(xml('presence'));
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'pc');
    bob.send(`<message to='${full}' type='chat'><body>before</body></message>`);
    await until(() => bodies.includes('before'), 'first message');
    // The client acknowledges on the server's <r/> (timer) or when asked; ask for one now so 'before' is acked.
    await x.send(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
    await x.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
    const kept = sessionOf(t, full);
    const resumed = new Promise<void>((r) => x.streamManagement.on('resumed', r));
    x.socket!.socket!.destroy();
    await until(() => kept?.detached === true, 'the server saw the drop and keeps the session');
    bob.send(`<message to='${full}' type='chat'><body>while away</body></message>`);
    await resumed;
    await until(() => bodies.includes('while away'), 'the message sent while away');
    await x.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
    assert.deepEqual(bodies, ['before', 'while away'], 'each message once');
    assert.equal(sessionOf(t, full), kept, 'the same session');
    assert.equal(kept?.detached, false);
    bob.close();
  } finally {
    x.reconnect.stop();
    await x.stop().catch(() => {});
  }
});
