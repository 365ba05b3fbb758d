// Router (src/core/router.ts) with real parts (HookRunner, IqRouter, SessionManager, accounts in LevelDB):
// the local/remote split, full and bare JID delivery (RFC 6121 §8.5), bounces (never an error to an
// error, RFC 6120 §8.3), filter_packet DROP, and hook chains keyed by (hook, host).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xml, { type Element } from '@xmpp/xml';
import { Router } from '../../../src/core/router.js';
import { SessionManager } from '../../../src/core/session-manager.js';
import { IqRouter } from '../../../src/core/iq-router.js';
import { HookRunner } from '../../../src/core/hooks/hook-runner.js';
import { Accounts } from '../../../src/core/accounts.js';
import { Metrics } from '../../../src/core/metrics.js';
import { Jid } from '../../../src/core/jid.js';
import { silentLogger } from '../../../src/core/log.js';
import { openStore, type Store } from '../../../src/data/index.js';
import { DROP } from '../../../hooks/index.js';
import { RecordingSession } from '../../support/recording-session.js';
import { assertStanza, type StanzaShape } from '../../support/stanza-match.js';
import { until } from '../../support/until.js';

const ERR = 'urn:ietf:params:xml:ns:xmpp-stanzas';
let dir: string;
let store: Store;
let accounts: Accounts;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-router-'));
  store = await openStore(join(dir, 'db'));
  accounts = new Accounts(store, new HookRunner(silentLogger), 4096);
  for (const u of ['alice@a.test', 'bob@a.test', 'carol@a.test', 'dave@b.test']) await accounts.create(Jid.parse(u), 'pw');
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh router over a.test and b.test; `sender` is alice@a.test/laptop, bound and available. */
function setup() {
  const hooks = new HookRunner(silentLogger);
  const sm = new SessionManager();
  const iq = new IqRouter(silentLogger);
  const metrics = new Metrics();
  const router = new Router(new Set(['a.test', 'b.test']), sm, iq, hooks, accounts, metrics, silentLogger);
  const sender = new RecordingSession('alice@a.test/laptop', 0);
  sm.add(sender);
  const bind = (full: string, priority?: number) => {
    const s = new RecordingSession(full, priority);
    sm.add(s);
    return s;
  };
  /** Route a stanza from alice (its from/to attributes stamped as the c2s layer does). */
  const send = (el: Element, from = sender.jid) => {
    el.attrs.from = from.toString();
    return router.route(el, from, Jid.parse(el.attrs.to), sender);
  };
  /**
   * Bounces are routed without being awaited; they are chained per recipient, so a sentinel bounce
   * (a message to an unknown account) arriving last proves no other bounce is still on its way.
   */
  const settle = async (s: RecordingSession = sender) => {
    await router.route(xml('message', { to: 'nobody@a.test', id: 'sentinel', from: s.jid.toString() }), s.jid, Jid.parse('nobody@a.test'));
    await until(() => s.sent.some((e) => e.attrs.id === 'sentinel'), 'the sentinel bounce arrives');
    return s.sent.filter((e) => e.attrs.id !== 'sentinel');
  };
  return { hooks, sm, iq, metrics, router, sender, bind, send, settle };
}

const msg = (to: string, id: string, type?: string) =>
  xml('message', type ? { to, id, type } : { to, id }, xml('body', {}, `body of ${id}`));
const bounced = (kind: string, id: string, from: string, condition = 'service-unavailable'): StanzaShape => ({
  name: kind, attrs: { type: 'error', id, from, to: 'alice@a.test/laptop' },
  has: [{ name: 'error', has: [{ name: condition, ns: ERR }] }],
});
const ids = (s: RecordingSession) => s.sent.map((e) => e.attrs.id);

test('a stanza to a full JID reaches that resource only', async () => {
  const { bind, send, settle } = setup();
  const phone = bind('bob@a.test/phone', 5);
  const desk = bind('bob@a.test/desk', 1);
  await send(msg('bob@a.test/desk', 'm1', 'chat'));
  await send(xml('iq', { to: 'bob@a.test/phone', type: 'get', id: 'q1' }, xml('query', { xmlns: 'urn:x' })));
  assert.deepEqual(ids(desk), ['m1'], 'a full JID beats priority');
  assert.deepEqual(ids(phone), ['q1']);
  assertStanza(desk.sent[0]!, { name: 'message', attrs: { from: 'alice@a.test/laptop', to: 'bob@a.test/desk', type: 'chat' }, children: [{ name: 'body', text: 'body of m1' }] });
  assert.deepEqual(await settle(), []);
});

test('a chat or normal message to a bare JID goes to the highest non-negative priority resources (RFC 6121 §8.5.2.1.1)', async () => {
  const { bind, send, settle } = setup();
  const high1 = bind('bob@a.test/high1', 7);
  const high2 = bind('bob@a.test/high2', 7);
  const low = bind('bob@a.test/low', 3);
  const neg = bind('bob@a.test/neg', -1);
  const idle = bind('bob@a.test/idle'); // bound, never sent presence
  await send(msg('bob@a.test', 'c1', 'chat'));
  await send(msg('bob@a.test', 'n1'));
  await send(msg('bob@a.test', 'e1', 'error')); // §8.5.2.1.1: an error to a bare JID is silently ignored
  assert.deepEqual(ids(high1), ['c1', 'n1']);
  assert.deepEqual(ids(high2), ['c1', 'n1']);
  for (const s of [low, neg, idle]) assert.deepEqual(ids(s), []);
  assert.deepEqual(await settle(), []);
});

test('only negative-priority resources: the message takes the offline path and bounces without storage', async () => {
  const { bind, send, settle } = setup();
  const neg = bind('bob@a.test/neg', -1);
  await send(msg('bob@a.test', 'o1', 'chat'));
  assert.deepEqual(ids(neg), []);
  const got = await settle();
  assert.equal(got.length, 1);
  assertStanza(got[0]!, { ...bounced('message', 'o1', 'bob@a.test'), has: [{ name: 'body', text: 'body of o1' }, ...bounced('message', 'o1', 'bob@a.test').has!] });
});

test('offline_message that handles the message stops the bounce; it runs on the recipient host only', async () => {
  const { hooks, send, settle } = setup();
  const stored: string[] = [];
  hooks.on('offline_message', (v, ctx) => { stored.push(`a:${ctx.stanza.attrs.id}`); return { handled: true }; }, 50, 'test', 'a.test');
  hooks.on('offline_message', (v, ctx) => { stored.push(`b:${ctx.stanza.attrs.id}`); return { handled: true }; }, 50, 'test', 'b.test');
  await send(msg('bob@a.test', 'off1', 'chat'));
  await send(msg('dave@b.test', 'off2'));
  assert.deepEqual(stored, ['a:off1', 'b:off2']);
  assert.deepEqual(await settle(), []);
});

test('headline to a bare JID: every available non-negative resource; offline it is dropped silently (§8.5.2.1.1, §8.5.2.2.1)', async () => {
  const { bind, send, settle } = setup();
  const five = bind('bob@a.test/five', 5);
  const zero = bind('bob@a.test/zero', 0);
  const neg = bind('bob@a.test/neg', -3);
  await send(msg('bob@a.test', 'h1', 'headline'));
  assert.deepEqual([ids(five), ids(zero), ids(neg)], [['h1'], ['h1'], []]);
  await send(msg('carol@a.test', 'h2', 'headline')); // an account with no session
  assert.deepEqual(await settle(), []);
});

test('groupchat to a bare JID or to a gone resource bounces with service-unavailable', async () => {
  const { bind, send, settle } = setup();
  const b = bind('bob@a.test/phone', 5);
  await send(msg('bob@a.test', 'g1', 'groupchat'));
  await send(msg('bob@a.test/gone', 'g2', 'groupchat'));
  assert.deepEqual(ids(b), []);
  const got = await settle();
  assert.deepEqual(got.map((e) => e.attrs.id), ['g1', 'g2']);
  assertStanza(got[0]!, bounced('message', 'g1', 'bob@a.test'));
  assertStanza(got[1]!, bounced('message', 'g2', 'bob@a.test/gone'));
});

test('a message to a gone resource is handled as to the bare JID; a bounce comes from the address used (RFC 6121 §8.5.3.2.1)', async () => {
  const { bind, send, settle } = setup();
  const phone = bind('bob@a.test/phone', 1);
  await send(msg('bob@a.test/gone', 'r1', 'chat'));
  assert.deepEqual(ids(phone), ['r1']);
  await send(msg('carol@a.test/gone', 'r2', 'chat')); // carol has no session at all
  await send(msg('bob@a.test/gone', 'r3', 'headline')); // headline to a gone resource: ignored
  const got = await settle();
  assert.deepEqual(got.map((e) => e.attrs.id), ['r2']);
  assertStanza(got[0]!, bounced('message', 'r2', 'carol@a.test/gone'));
  assert.deepEqual(ids(phone), ['r1']);
});

test('an unknown account bounces messages and IQs with service-unavailable from the address used', async () => {
  const { send, settle } = setup();
  await send(msg('nobody@a.test', 'u1', 'chat'));
  await send(xml('iq', { to: 'nobody@a.test', type: 'get', id: 'u2' }, xml('query', { xmlns: 'urn:x' })));
  await send(xml('iq', { to: 'bob@a.test/gone', type: 'get', id: 'u3' }, xml('query', { xmlns: 'urn:x' })));
  const got = await settle();
  assert.deepEqual(got.map((e) => e.attrs.id), ['u1', 'u2', 'u3']);
  assertStanza(got[0]!, bounced('message', 'u1', 'nobody@a.test'));
  assertStanza(got[1]!, { ...bounced('iq', 'u2', 'nobody@a.test'), has: [{ name: 'query', ns: 'urn:x' }, { name: 'error', attrs: { type: 'cancel' } }] });
  assertStanza(got[2]!, bounced('iq', 'u3', 'bob@a.test/gone'));
});

test('never an error to an error: errors and IQ results that cannot be delivered vanish', async () => {
  const { send, settle } = setup();
  await send(msg('nobody@a.test', 'e1', 'error'));
  await send(msg('bob@a.test/gone', 'e2', 'error'));
  await send(msg('bob@a.test', 'e3', 'error'));
  await send(xml('iq', { to: 'bob@a.test/gone', type: 'result', id: 'e4' }));
  await send(xml('iq', { to: 'bob@a.test/gone', type: 'error', id: 'e5' }));
  await send(xml('iq', { to: 'remote.example', type: 'result', id: 'e6' }));
  await send(msg('carol@remote.example', 'e7', 'error'));
  assert.deepEqual(await settle(), []);
});

test('presence to a bare JID reaches every available resource, negative priority included; to a gone resource it is ignored', async () => {
  const { bind, send, settle } = setup();
  const five = bind('bob@a.test/five', 5);
  const neg = bind('bob@a.test/neg', -1);
  const idle = bind('bob@a.test/idle');
  await send(xml('presence', { to: 'bob@a.test', id: 'p1' }));
  await send(xml('presence', { to: 'bob@a.test/idle', id: 'p2' }));
  await send(xml('presence', { to: 'bob@a.test/gone', id: 'p3' }));
  assert.deepEqual([ids(five), ids(neg), ids(idle)], [['p1'], ['p1'], ['p2']]);
  assert.deepEqual(await settle(), []);
});

test('IQs to the server go to host-scope handlers, to a bare JID to account-scope handlers', async () => {
  const { iq, send, settle } = setup();
  const seen: string[] = [];
  iq.register('a.test', 'host', 'urn:x:ns', (req) => void seen.push(`host ${req.to} ${req.el.attrs.id}`));
  iq.register('a.test', 'account', 'urn:x:ns', (req) => void seen.push(`account ${req.to} ${req.el.attrs.id}`));
  const q = (to: string, id: string) => xml('iq', { to, type: 'get', id }, xml('query', { xmlns: 'urn:x:ns' }));
  await send(q('a.test', 'i1'));
  await send(q('bob@a.test', 'i2'));
  await send(q('alice@a.test', 'i3'));
  await send(q('b.test', 'i4')); // no handler on b.test
  await send(q('a.test/res', 'i5')); // the server has no resources
  await send(msg('a.test', 'i6', 'chat')); // a message to the server
  await send(xml('presence', { to: 'a.test', id: 'i7' })); // presence to the server: nothing to do
  assert.deepEqual(seen, ['host a.test i1', 'account bob@a.test i2', 'account alice@a.test i3']);
  const got = await settle();
  assert.deepEqual(got.map((e) => `${e.attrs.id} ${e.attrs.type}`), ['i1 result', 'i2 result', 'i3 result', 'i4 error', 'i5 error', 'i6 error']);
  assertStanza(got[3]!, bounced('iq', 'i4', 'b.test'));
  assertStanza(got[4]!, bounced('iq', 'i5', 'a.test/res'));
  assertStanza(got[5]!, bounced('message', 'i6', 'a.test'));
});

test('remote domains go to the remote route; without federation they bounce with remote-server-not-found', async () => {
  const { router, send, settle } = setup();
  await send(msg('carol@remote.example', 'x1', 'chat'));
  const got = await settle();
  assert.equal(got.length, 1);
  assertStanza(got[0]!, bounced('message', 'x1', 'carol@remote.example', 'remote-server-not-found'));
  const remote: string[] = [];
  router.routeRemote = async (el, from, to) => void remote.push(`${el.attrs.id} ${from} ${to}`);
  await send(msg('carol@remote.example', 'x2', 'chat'));
  await send(msg('dave@b.test', 'x3', 'chat')); // another local host is not remote
  assert.deepEqual(remote, ['x2 alice@a.test/laptop carol@remote.example']);
});

test('component domains are routed to the component before the remote branch', async () => {
  const { router, send } = setup();
  const comp: string[] = [];
  const remote: string[] = [];
  router.components = { has: (d) => d === 'muc.a.test', route: async (el) => void comp.push(el.attrs.id) };
  router.routeRemote = async (el) => void remote.push(el.attrs.id);
  await send(msg('room@muc.a.test', 'k1', 'groupchat'));
  await send(msg('carol@remote.example', 'k2', 'chat'));
  assert.deepEqual(comp, ['k1']);
  assert.deepEqual(remote, ['k2']);
});

test('filter_packet DROP discards the stanza silently; a replacement is what gets delivered', async () => {
  const { hooks, metrics, bind, send, settle } = setup();
  const b = bind('bob@a.test/phone', 1);
  hooks.on('filter_packet', (el) => (el.attrs.id === 'drop' ? DROP : el), 50, 'test', 'a.test');
  hooks.on('filter_packet', (el) => {
    if (el.attrs.id !== 'swap') return el;
    return xml('message', { ...el.attrs, id: 'swapped' }, xml('body', {}, 'replaced'));
  }, 40, 'test', 'a.test');
  await send(msg('bob@a.test', 'drop', 'chat'));
  await send(msg('nobody@a.test', 'drop', 'chat')); // dropped before it could bounce
  await send(msg('bob@a.test', 'swap', 'chat'));
  assert.deepEqual(ids(b), ['swapped']);
  assertStanza(b.sent[0]!, { name: 'message', children: [{ name: 'body', text: 'replaced' }] });
  assert.deepEqual(await settle(), []);
  const dropped = (await metrics.stanzasDropped.get()).values.find((v) => v.labels.hook === 'filter_packet');
  assert.equal(dropped?.value, 2);
});

test('filter_packet runs the recipient host’s chain, the sender host’s too between two local hosts, and the sender’s for remote', async () => {
  const { hooks, router, bind, send } = setup();
  const dave = bind('dave@b.test/pc', 0);
  const bob = bind('bob@a.test/pc', 0);
  const ran: string[] = [];
  hooks.on('filter_packet', (el) => void ran.push(`a:${el.attrs.id}`), 50, 'test', 'a.test');
  hooks.on('filter_packet', (el) => void ran.push(`b:${el.attrs.id}`), 50, 'test', 'b.test');
  router.routeRemote = async () => {};
  await send(msg('bob@a.test', 'same-host')); // a.test -> a.test: a.test's chain once
  await send(msg('dave@b.test', 'cross')); // a.test -> b.test: sender host first, then recipient host
  await send(msg('carol@remote.example', 'out')); // a.test -> remote: the sender's host
  await router.route(xml('message', { from: 'zed@remote.example/x', to: 'dave@b.test', id: 'in' }), Jid.parse('zed@remote.example/x'), Jid.parse('dave@b.test'));
  assert.deepEqual(ran, ['a:same-host', 'a:cross', 'b:cross', 'a:out', 'b:in']);
  assert.deepEqual(ids(bob), ['same-host']);
  assert.deepEqual(ids(dave), ['cross', 'in']);
  // b.test dropping a stanza from a.test stops it even though a.test let it through (e.g. blocking)
  hooks.on('filter_packet', (el) => (el.attrs.id === 'blocked' ? DROP : el), 60, 'test', 'b.test');
  await send(msg('dave@b.test', 'blocked'));
  assert.deepEqual(ids(dave), ['cross', 'in']);
});

test('user_receive_packet and message_accepted run for the recipient host’s handlers only', async () => {
  const { hooks, bind, send, settle } = setup();
  const bob = bind('bob@a.test/pc', 0);
  const dave = bind('dave@b.test/pc', 0);
  const ran: string[] = [];
  hooks.on('user_receive_packet', (el, ctx) => {
    ran.push(`recv-a:${el.attrs.id}:${ctx.session.jid}`);
    return el.attrs.id === 'hide' ? DROP : el;
  }, 50, 'test', 'a.test');
  hooks.on('message_accepted', (el) => {
    ran.push(`acc-b:${el.attrs.id}`);
    return xml('message', el.attrs, ...el.children, xml('stamp', { xmlns: 'urn:x:stamp' }));
  }, 50, 'test', 'b.test');
  await send(msg('bob@a.test', 'to-bob', 'chat'));
  await send(msg('bob@a.test/pc', 'hide', 'chat'));
  await send(msg('dave@b.test', 'to-dave', 'chat'));
  await send(msg('dave@b.test/pc', 'to-dave-full', 'chat'));
  assert.deepEqual(ran, ['recv-a:to-bob:bob@a.test/pc', 'recv-a:hide:bob@a.test/pc', 'acc-b:to-dave', 'acc-b:to-dave-full']);
  assert.deepEqual(ids(bob), ['to-bob'], 'user_receive_packet DROP keeps it from the session');
  assert.deepEqual(ids(dave), ['to-dave', 'to-dave-full']);
  for (const e of dave.sent) assertStanza(e, { name: 'message', has: [{ name: 'body' }, { name: 'stamp', ns: 'urn:x:stamp' }] });
  for (const e of bob.sent) assertStanza(e, { name: 'message', without: [{ name: 'stamp' }] });
  // the bounce to alice (a.test) runs a.test's user_receive_packet on the way back
  const got = await settle();
  assert.deepEqual(got.map((e) => e.attrs.id), []);
  assert.ok(ran.includes('recv-a:sentinel:alice@a.test/laptop'));
});

test('a message to a local session with no hook for either host is written before dispatch returns; with one it goes the full way', async () => {
  const { hooks, router, sender, bind, settle } = setup();
  const bob = bind('bob@a.test/pc', 0);
  const stamped = (id: string, to: string) => {
    const el = msg(to, id, 'chat');
    el.attrs.from = sender.jid.toString();
    return el;
  };
  assert.equal(router.dispatch(stamped('now', 'bob@a.test'), sender.jid, Jid.parse('bob@a.test'), sender), undefined);
  assert.equal(router.dispatch(stamped('now-full', 'bob@a.test/pc'), sender.jid, Jid.parse('bob@a.test/pc'), sender), undefined);
  assert.deepEqual(ids(bob), ['now', 'now-full']);
  const seen: string[] = [];
  hooks.on('filter_packet', (el) => void seen.push(el.attrs.id), 50, 'test', 'a.test');
  const r = router.dispatch(stamped('hooked', 'bob@a.test'), sender.jid, Jid.parse('bob@a.test'), sender);
  assert.ok(r instanceof Promise, 'a filter_packet handler makes it wait');
  await r;
  assert.deepEqual(seen, ['hooked']);
  assert.deepEqual(ids(bob), ['now', 'now-full', 'hooked']);
  assert.deepEqual(await settle(), []);
});

test('a session that throws while a message is written to it at once: the sender gets internal-server-error', async () => {
  const { bind, send, settle } = setup();
  const bob = bind('bob@a.test/pc', 0);
  bob.send = () => { throw new Error('socket exploded'); };
  await send(msg('bob@a.test', 'boom', 'chat'));
  const got = await settle();
  assert.equal(got.length, 1);
  assertStanza(got[0]!, bounced('message', 'boom', 'bob@a.test', 'internal-server-error'));
});

test('a failure inside routing answers with internal-server-error instead of throwing', async () => {
  const { router, send, settle } = setup();
  router.routeRemote = async () => { throw new Error('s2s exploded'); };
  await send(msg('carol@remote.example', 'boom', 'chat'));
  const got = await settle();
  assert.equal(got.length, 1);
  assertStanza(got[0]!, bounced('message', 'boom', 'carol@remote.example', 'internal-server-error'));
});

test('a service domain gets every stanza to it and its JIDs, after filter_packet for its host; withdrawn, it is remote again', async () => {
  const { hooks, router, send, settle } = setup();
  const got: string[] = [];
  const filtered: string[] = [];
  hooks.on('filter_packet', (el) => {
    filtered.push(el.attrs.id);
    return el;
  }, 50, 'test', 'a.test');
  const release = router.serveDomain('conference.a.test', 'a.test', async (el, _from, to) => {
    got.push(`${el.name}:${to.toString()}`);
  });
  assert.throws(() => router.serveDomain('conference.a.test', 'b.test', async () => {}), /already served by a.test/);
  assert.throws(() => router.serveDomain('b.test', 'a.test', async () => {}), /virtual host/);
  assert.equal(router.isServed('conference.a.test'), true);
  assert.equal(router.isLocal('conference.a.test'), false, 'a service domain is not an account host');
  assert.equal(router.hostOf('conference.a.test'), 'a.test');
  await send(xml('presence', { to: 'room@conference.a.test/alice', id: 'p1' }));
  await send(xml('message', { to: 'room@conference.a.test', id: 'm1', type: 'groupchat' }));
  await send(xml('iq', { to: 'conference.a.test', id: 'i1', type: 'get' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
  assert.deepEqual(got, ['presence:room@conference.a.test/alice', 'message:room@conference.a.test', 'iq:conference.a.test']);
  assert.deepEqual(filtered, ['p1', 'm1', 'i1']);
  release();
  assert.equal(router.isServed('conference.a.test'), false);
  await send(msg('room@conference.a.test', 'm2'));
  const sent = await settle();
  assertStanza(sent.find((e) => e.attrs.id === 'm2')!, bounced('message', 'm2', 'room@conference.a.test', 'remote-server-not-found'));
});
