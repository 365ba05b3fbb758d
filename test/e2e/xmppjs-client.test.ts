// Interop with a third-party client library, @xmpp/client 0.14 (xmpp.js), against an in-process xmppd:
// STARTTLS and direct TLS (RFC 6120 §5, XEP-0368), SASL (§6), binding (§7), chat between two clients,
// the server's IQ modules (XEP-0030/0092/0199/0202), IQs answered by a client, and a resource conflict.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '@xmpp/xml';
import { startTestServer, type TestServer } from '../support/harness.js';
import { Jid } from '../../src/core/jid.js';

// @xmpp/client always verifies the server certificate on STARTTLS and direct TLS and has no option
// for a CA file; the test server's certificate is self-signed. Node reads this variable at each
// tls.connect(), so it takes effect although the imports above are evaluated first. Each test file
// runs in its own process, so this affects no other test.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

// @xmpp/client ships no type declarations; this is the part of its API the tests use.
interface XmppError extends Error {
  condition?: string;
  text?: string;
}
interface IqContext {
  stanza: Element;
  element: Element;
  from: { toString(): string };
}
interface XmppClient {
  status: string;
  socket: { socket?: { getProtocol?(): string | null } } | null;
  start(): Promise<{ toString(): string }>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: 'error', fn: (err: XmppError) => void): void;
  on(event: 'stanza' | 'send', fn: (el: Element) => void): void;
  on(event: 'status', fn: (status: string) => void): void;
  iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
  iqCallee: { get(ns: string, name: string, handler: (ctx: IqContext) => Element | boolean | undefined): void };
  reconnect: { stop(): void };
}
interface ClientOptions {
  service: string;
  domain: string;
  username: string;
  password?: string;
  resource?: string;
  /** ms @xmpp/connection waits for each answer of the server (its default: 2000). */
  timeout?: number;
  credentials?: (authenticate: (creds: { username: string; password: string }, mechanism: string) => Promise<void>, mechanisms: string[]) => Promise<void>;
}
const lib = (await import('@xmpp/client' as string)) as { client: (o: ClientOptions) => XmppClient; xml: typeof import('@xmpp/xml').xml };
const { xml } = lib;

let t: TestServer;
/** Every client a test creates, with the errors it emitted; all are stopped after each test. */
const clients: Array<{ x: XmppClient; errors: XmppError[] }> = [];

before(async () => {
  // This file drives the classic profile (RFC 6120 SASL, resource binding with the resource asked for), so the
  // server offers only it (sasl2.enabled false, as an operator may set). With SASL2 offered, @xmpp/client uses
  // SASL2, Bind2 and FAST instead: test/e2e/clients/xmppjs.test.ts and test/e2e/sasl2.test.ts.
  t = await startTestServer({ sasl2: { enabled: false } });
  await t.addUser('alice', 'pw-alice');
  await t.addUser('bob', 'pw-bob');
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(({ x }) => shutdown(x)));
});
after(() => t.stop());

function newClient(username: string, password: string, resource: string, opts: { directTls?: boolean; credentials?: ClientOptions['credentials'] } = {}): { x: XmppClient; errors: XmppError[] } {
  const service = opts.directTls ? `xmpps://127.0.0.1:${t.c2sTlsPort}` : `xmpp://127.0.0.1:${t.c2sPort}`;
  // timeout: @xmpp/client gives each server answer (stream open, STARTTLS, every SASL step) 2 s by
  // default; users on slow mobile links raise it the same way, and a fully loaded 2-core test machine
  // can take longer than 2 s for a TLS handshake. No server behaviour is hidden by it.
  const x = lib.client({ service, domain: 'localhost', username, password, resource, timeout: 10_000, ...(opts.credentials ? { credentials: opts.credentials } : {}) });
  const entry = { x, errors: [] as XmppError[] };
  // Without an 'error' listener an EventEmitter throws; keep them for the assertions instead.
  x.on('error', (err) => entry.errors.push(err));
  clients.push(entry);
  return entry;
}

async function shutdown(x: XmppClient): Promise<void> {
  x.reconnect.stop(); // no reconnect timer may outlive the test
  if (x.status !== 'offline') await x.stop().catch(() => {});
}

/** Collects incoming stanzas and lets a test wait for one that matches. */
function inbox(x: XmppClient): (pred: (el: Element) => boolean, timeoutMs?: number) => Promise<Element> {
  const seen: Element[] = [];
  const waiters: Array<() => void> = [];
  x.on('stanza', (el) => {
    seen.push(el);
    for (const w of waiters.splice(0)) w();
  });
  return async (pred, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = seen.findIndex(pred);
      if (i >= 0) return seen.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching stanza; got: ${seen.map(String).join(' ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
}

function waitFor<T>(what: string, register: (done: (v: T) => void) => void, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

/** Available presence, then a ping round trip so the server has surely processed it (RFC 6120 §10.1). */
async function becomeAvailable(x: XmppClient): Promise<void> {
  await x.send(xml('presence'));
  await x.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
}

function serverSession(full: string) {
  return t.server.core.sessions.get(Jid.parse(full));
}

test('alice logs in over STARTTLS with SCRAM-SHA-1 (the mechanism @xmpp/client picks) and gets the resource she asked for', async () => {
  const { x, errors } = newClient('alice', 'pw-alice', 'laptop');
  const sent: Element[] = [];
  x.on('send', (el) => sent.push(el));
  const jid = await x.start();
  assert.equal(jid.toString(), 'alice@localhost/laptop');
  assert.equal(x.status, 'online');
  // what went over the wire: <starttls/>, then <auth mechanism='SCRAM-SHA-1'/>, then the bind with the resource
  const names = sent.map((el) => el.name);
  assert.ok(names.indexOf('starttls') >= 0 && names.indexOf('starttls') < names.indexOf('auth'), names.join(','));
  assert.equal(sent.find((el) => el.name === 'auth')?.attrs.mechanism, 'SCRAM-SHA-1');
  const bind = sent.find((el) => el.name === 'iq' && el.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind'));
  assert.equal(bind?.getChild('bind')?.getChildText('resource'), 'laptop');
  assert.equal(x.socket?.socket?.getProtocol?.(), 'TLSv1.3');
  // and the server agrees
  const s = serverSession('alice@localhost/laptop');
  assert.ok(s, 'the server has the session');
  assert.equal(s.authMechanism, 'SCRAM-SHA-1');
  assert.equal(s.secure, true);
  assert.deepEqual(errors, []);
});

test('bob logs in over direct TLS (XEP-0368, xmpps://) and @xmpp/client sees PLAIN offered next to SCRAM-SHA-1', async () => {
  let offered: string[] = [];
  const { x, errors } = newClient('bob', 'pw-bob', 'direct', {
    directTls: true,
    // A credentials callback lets the application choose among the mechanisms both sides support.
    credentials: async (authenticate, mechanisms) => {
      offered = mechanisms;
      await authenticate({ username: 'bob', password: 'pw-bob' }, 'PLAIN');
    },
  });
  assert.equal((await x.start()).toString(), 'bob@localhost/direct');
  assert.deepEqual(offered, ['SCRAM-SHA-1', 'PLAIN']);
  const s = serverSession('bob@localhost/direct');
  assert.equal(s?.authMechanism, 'PLAIN');
  assert.equal(s?.secure, true);
  assert.deepEqual(errors, []);
});

test('alice sends a chat message to bob’s bare JID; bob answers to her full JID; each receives the other’s', async () => {
  const a = newClient('alice', 'pw-alice', 'chat-a');
  const b = newClient('bob', 'pw-bob', 'chat-b');
  const aliceGets = inbox(a.x);
  const bobGets = inbox(b.x);
  await a.x.start();
  await b.x.start();
  await becomeAvailable(a.x);
  await becomeAvailable(b.x);

  await a.x.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'xjs-1' }, xml('body', {}, 'hello bob, ça va? €')));
  const m = await bobGets((el) => el.name === 'message');
  assert.equal(m.attrs.from, 'alice@localhost/chat-a');
  assert.equal(m.attrs.to, 'bob@localhost');
  assert.equal(m.attrs.type, 'chat');
  assert.equal(m.attrs.id, 'xjs-1');
  assert.equal(m.getChildText('body'), 'hello bob, ça va? €');

  await b.x.send(xml('message', { to: 'alice@localhost/chat-a', type: 'chat', id: 'xjs-2' }, xml('body', {}, 'hi alice')));
  const r = await aliceGets((el) => el.name === 'message');
  assert.equal(r.attrs.from, 'bob@localhost/chat-b');
  assert.equal(r.attrs.to, 'alice@localhost/chat-a');
  assert.equal(r.getChildText('body'), 'hi alice');
  assert.deepEqual([...a.errors, ...b.errors], []);
});

test('ping, version, time and disco#info answer @xmpp/client’s iqCaller; an unknown namespace is refused', async () => {
  const { x } = newClient('alice', 'pw-alice', 'iq');
  await x.start();
  const ask = (child: Element) => x.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, child), 5000);

  const pong = await ask(xml('ping', { xmlns: 'urn:xmpp:ping' }));
  assert.equal(pong.attrs.type, 'result');
  assert.equal(pong.attrs.from, 'localhost');
  assert.equal(pong.attrs.to, 'alice@localhost/iq');
  assert.equal(pong.getChildElements().length, 0, 'a ping result is empty (XEP-0199 §4.1)');

  const version = (await ask(xml('query', { xmlns: 'jabber:iq:version' }))).getChild('query', 'jabber:iq:version');
  assert.equal(version?.getChildText('name'), 'xmppd');
  assert.match(version?.getChildText('version') ?? '', /^\d+\.\d+\.\d+/);

  const time = (await ask(xml('time', { xmlns: 'urn:xmpp:time' }))).getChild('time', 'urn:xmpp:time');
  assert.match(time?.getChildText('tzo') ?? '', /^[+-]\d\d:\d\d$|^Z$/);
  const utc = time?.getChildText('utc') ?? '';
  assert.match(utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.ok(Math.abs(Date.parse(utc) - Date.now()) < 60_000, `server time ${utc} is close to now`);

  const info = (await ask(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }))).getChild('query', 'http://jabber.org/protocol/disco#info');
  const identity = info?.getChild('identity');
  assert.equal(identity?.attrs.category, 'server');
  assert.equal(identity?.attrs.type, 'im');
  const features = info?.getChildren('feature').map((f) => f.attrs.var as string) ?? [];
  for (const f of ['urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'http://jabber.org/protocol/disco#info']) {
    assert.ok(features.includes(f), `disco#info lists ${f}; got ${features.join(' ')}`);
  }

  // iqCaller rejects with the stanza error the server sent
  await assert.rejects(ask(xml('query', { xmlns: 'urn:example:nobody' })), (err: XmppError) => {
    assert.equal(err.name, 'StanzaError');
    assert.equal(err.condition, 'service-unavailable');
    return true;
  });
});

test('a wrong password is rejected with not-authorized: start() rejects and the error event says so', async () => {
  const { x, errors } = newClient('alice', 'not-her-password', 'wrong');
  await assert.rejects(x.start(), (err: XmppError) => {
    assert.equal(err.name, 'SASLError');
    assert.equal(err.condition, 'not-authorized');
    return true;
  });
  assert.equal(errors[0]?.condition, 'not-authorized');
  assert.equal(serverSession('alice@localhost/wrong'), undefined);
});

test('a second client binding the same resource replaces the first, which gets a conflict stream error', async () => {
  const first = newClient('alice', 'pw-alice', 'dup');
  // @xmpp/client reconnects after any disconnect, which would now kick the second client in turn:
  // an application has to turn that off on <conflict/>; here it is off from the start.
  first.x.reconnect.stop();
  const statuses: string[] = [];
  first.x.on('status', (s) => statuses.push(s));
  await first.x.start();
  const disconnected = waitFor<void>('the first client to disconnect', (done) => first.x.on('status', (s) => s === 'disconnect' && done()));

  const second = newClient('alice', 'pw-alice', 'dup');
  assert.equal((await second.x.start()).toString(), 'alice@localhost/dup');
  await disconnected;
  // what @xmpp/client surfaces: an 'error' event carrying a StreamError with condition 'conflict'
  assert.equal(first.errors.length, 1, `errors: ${first.errors.map((e) => e.message).join('; ')}`);
  assert.equal(first.errors[0]!.name, 'StreamError');
  assert.equal(first.errors[0]!.condition, 'conflict');
  assert.ok(statuses.includes('disconnect'));

  // the second session is the one left, and it works
  assert.equal(t.server.core.sessions.resources(Jid.parse('alice@localhost')).filter((s) => s.jid.resource === 'dup').length, 1);
  const pong = await second.x.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
  assert.equal(pong.attrs.type, 'result');
  assert.deepEqual(second.errors, []);
});

test('bob’s client answers alice’s IQs (iqCallee); what it does not handle comes back as service-unavailable', async () => {
  const a = newClient('alice', 'pw-alice', 'caller');
  const b = newClient('bob', 'pw-bob', 'callee');
  const asked: string[] = [];
  b.x.iqCallee.get('urn:example:interop', 'query', (ctx) => {
    asked.push(ctx.from.toString());
    return xml('query', { xmlns: 'urn:example:interop' }, xml('answer', {}, 'forty-two'));
  });
  await a.x.start();
  await b.x.start();

  const res = await a.x.iqCaller.request(xml('iq', { type: 'get', to: 'bob@localhost/callee' }, xml('query', { xmlns: 'urn:example:interop' })), 5000);
  assert.equal(res.attrs.type, 'result');
  assert.equal(res.attrs.from, 'bob@localhost/callee');
  assert.equal(res.getChild('query', 'urn:example:interop')?.getChildText('answer'), 'forty-two');
  assert.deepEqual(asked, ['alice@localhost/caller'], 'bob saw the IQ stamped with alice’s full JID');

  // @xmpp/client answers XEP-0199 pings itself
  const pong = await a.x.iqCaller.request(xml('iq', { type: 'get', to: 'bob@localhost/callee' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
  assert.equal(pong.attrs.type, 'result');
  assert.equal(pong.attrs.from, 'bob@localhost/callee');

  await assert.rejects(
    a.x.iqCaller.request(xml('iq', { type: 'get', to: 'bob@localhost/callee' }, xml('query', { xmlns: 'jabber:iq:private' })), 5000),
    (err: XmppError) => {
      assert.equal(err.condition, 'service-unavailable');
      return true;
    },
  );
  assert.deepEqual([...a.errors, ...b.errors], []);
});
