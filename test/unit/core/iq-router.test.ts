// IQ router (src/core/iq-router.ts): one handler per (host, scope, namespace), exactly one answer per
// get/set (RFC 6120 §8.2.3), service-unavailable for an unknown namespace (§8.4), and correlation of the
// server's own requests with their result/error, their timeout and cancelAll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml, { type Element } from '@xmpp/xml';
import { IqRouter } from '../../../src/core/iq-router.js';
import { Jid } from '../../../src/core/jid.js';
import { StanzaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { assertStanza } from '../../support/stanza-match.js';

const ERR = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const alice = Jid.parse('alice@a.test/laptop');
const host = Jid.parse('a.test');

/** An IqRouter whose sends are recorded (the router plugs routing in here). */
function setup(): { iq: IqRouter; out: Array<{ el: Element; from: string; to: string }> } {
  const iq = new IqRouter(silentLogger);
  const out: Array<{ el: Element; from: string; to: string }> = [];
  iq.send = (el, from, to) => void out.push({ el, from: from.toString(), to: to.toString() });
  return { iq, out };
}

function get(id: string, ns: string, to = 'a.test', type = 'get'): Element {
  return xml('iq', { type, id, to, from: alice.toString() }, xml('query', { xmlns: ns }));
}

const errorShape = (id: string, condition: string, type = 'cancel') => ({
  name: 'iq', attrs: { type: 'error', id, to: alice.toString() },
  has: [{ name: 'error', attrs: { type }, has: [{ name: condition, ns: ERR }] }],
});

test('a handler answers its namespace with a result carrying its payload, from the address asked', async () => {
  const { iq, out } = setup();
  iq.register('a.test', 'host', 'urn:x:echo', (req) => {
    assert.equal(req.type, 'get');
    assert.equal(req.host, 'a.test');
    assert.equal(req.from, alice);
    return xml('query', { xmlns: 'urn:x:echo' }, xml('v', {}, req.payload.attrs.xmlns));
  });
  await iq.dispatch(get('e1', 'urn:x:echo'), alice, host, 'host', 'a.test');
  assert.equal(out.length, 1);
  assert.equal(out[0]!.to, alice.toString());
  assert.equal(out[0]!.from, 'a.test');
  assertStanza(out[0]!.el, {
    name: 'iq', attrs: { type: 'result', id: 'e1', from: 'a.test', to: alice.toString() },
    children: [{ name: 'query', ns: 'urn:x:echo', children: [{ name: 'v', text: 'urn:x:echo' }] }],
  });
});

test('a handler returning nothing gives an empty result; with no to, the result has no from (RFC 6120 §8.1.2.1)', async () => {
  const { iq, out } = setup();
  iq.register('a.test', 'account', 'jabber:iq:roster', () => undefined);
  const el = xml('iq', { type: 'get', id: 'r1', from: alice.toString() }, xml('query', { xmlns: 'jabber:iq:roster' }));
  await iq.dispatch(el, alice, alice.bare(), 'account', 'a.test');
  assertStanza(out[0]!.el, { name: 'iq', attrs: { type: 'result', id: 'r1', from: null }, children: [] });
});

test('an unknown namespace, another scope or another host gets service-unavailable (RFC 6120 §8.4)', async () => {
  const { iq, out } = setup();
  iq.register('a.test', 'host', 'urn:x:only-host', () => null);
  await iq.dispatch(get('u1', 'urn:x:unknown'), alice, host, 'host', 'a.test');
  await iq.dispatch(get('u2', 'urn:x:only-host', 'alice@a.test'), alice, alice.bare(), 'account', 'a.test');
  await iq.dispatch(get('u3', 'urn:x:only-host', 'b.test'), alice, Jid.parse('b.test'), 'host', 'b.test');
  await iq.dispatch(get('ok', 'urn:x:only-host'), alice, host, 'host', 'a.test');
  assert.equal(out.length, 4);
  assertStanza(out[0]!.el, { ...errorShape('u1', 'service-unavailable'), has: [{ name: 'query', ns: 'urn:x:unknown' }, ...errorShape('u1', 'service-unavailable').has] });
  assertStanza(out[1]!.el, errorShape('u2', 'service-unavailable'));
  assertStanza(out[2]!.el, errorShape('u3', 'service-unavailable'));
  assertStanza(out[3]!.el, { name: 'iq', attrs: { type: 'result', id: 'ok' } });
});

test('one handler per (host, scope, namespace); the returned function unregisters it', async () => {
  const { iq, out } = setup();
  const off = iq.register('a.test', 'host', 'urn:x:a', () => null);
  assert.throws(() => iq.register('a.test', 'host', 'urn:x:a', () => null), /already registered/);
  const offAccount = iq.register('a.test', 'account', 'urn:x:a', () => null); // another scope: fine
  const offB = iq.register('b.test', 'host', 'urn:x:a', () => null); // another host: fine
  assert.equal(iq.count(), 3);
  off();
  assert.equal(iq.count(), 2);
  await iq.dispatch(get('g1', 'urn:x:a'), alice, host, 'host', 'a.test');
  assertStanza(out[0]!.el, errorShape('g1', 'service-unavailable'));
  // A stale unregister must not remove a handler registered later for the same key.
  const again = iq.register('a.test', 'host', 'urn:x:a', () => null);
  off();
  assert.equal(iq.count(), 3);
  again();
  offAccount();
  offB();
  assert.equal(iq.count(), 0);
});

test('a thrown StanzaError is the answer; any other failure is internal-server-error', async () => {
  const { iq, out } = setup();
  iq.register('a.test', 'host', 'urn:x:deny', () => { throw new StanzaError('forbidden', 'not you'); });
  iq.register('a.test', 'host', 'urn:x:bug', async () => { throw new Error('boom'); });
  await iq.dispatch(get('f1', 'urn:x:deny', 'a.test', 'set'), alice, host, 'host', 'a.test');
  await iq.dispatch(get('b1', 'urn:x:bug'), alice, host, 'host', 'a.test');
  assert.equal(out.length, 2);
  assertStanza(out[0]!.el, { name: 'iq', attrs: { type: 'error', id: 'f1' }, has: [{ name: 'error', attrs: { type: 'auth' }, has: [{ name: 'forbidden', ns: ERR }, { name: 'text', ns: ERR, text: 'not you' }] }] });
  assertStanza(out[1]!.el, errorShape('b1', 'internal-server-error', 'cancel'));
});

test('a malformed get/set gets bad-request; a result or error is never answered', async () => {
  const { iq, out } = setup();
  iq.register('a.test', 'host', 'urn:x:a', () => null);
  const two = xml('iq', { type: 'get', id: 'two', to: 'a.test', from: alice.toString() }, xml('a', { xmlns: 'urn:x:a' }), xml('b', { xmlns: 'urn:x:a' }));
  const none = xml('iq', { type: 'set', id: 'none', to: 'a.test', from: alice.toString() });
  const noId = xml('iq', { type: 'get', to: 'a.test', from: alice.toString() }, xml('query', { xmlns: 'urn:x:a' }));
  const badType = xml('iq', { type: 'fetch', id: 'bt', to: 'a.test', from: alice.toString() }, xml('query', { xmlns: 'urn:x:a' }));
  for (const el of [two, none, noId, badType]) await iq.dispatch(el, alice, host, 'host', 'a.test');
  assert.deepEqual(out.map((o) => o.el.attrs.id), ['two', 'none', undefined, 'bt']);
  for (const o of out) assertStanza(o.el, { name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', attrs: { type: 'modify' }, has: [{ name: 'bad-request', ns: ERR }] }] });
  out.length = 0;
  await iq.dispatch(xml('iq', { type: 'result', id: 'nobody-asked', from: alice.toString() }), alice, host, 'host', 'a.test');
  await iq.dispatch(xml('iq', { type: 'error', id: 'nobody-asked', from: alice.toString() }), alice, host, 'host', 'a.test');
  assert.equal(out.length, 0);
});

test('afterReply callbacks run once the result has been sent', async () => {
  const { iq, out } = setup();
  const seen: number[] = [];
  iq.register('a.test', 'host', 'urn:x:later', (req) => {
    req.afterReply(() => void seen.push(out.length));
    return null;
  });
  await iq.dispatch(get('l1', 'urn:x:later'), alice, host, 'host', 'a.test');
  assert.deepEqual(seen, [1], 'the callback saw the result already sent');
});

test('request(): the result from the entity asked resolves it; an answer from anyone else is ignored', async () => {
  const { iq, out } = setup();
  const p = iq.request(xml('iq', { type: 'get', to: alice.toString(), from: 'a.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), host, alice, 5000);
  assert.equal(out.length, 1);
  const id = out[0]!.el.attrs.id as string;
  assert.match(id, /^xmppd-/);
  assert.equal(out[0]!.to, alice.toString());
  let settled = false;
  void p.then(() => { settled = true; }, () => { settled = true; });
  await iq.dispatch(xml('iq', { type: 'result', id, from: 'mallory@a.test/x' }), Jid.parse('mallory@a.test/x'), host, 'host', 'a.test');
  await iq.dispatch(xml('iq', { type: 'result', id: 'other', from: alice.toString() }), alice, host, 'host', 'a.test');
  // without a from attribute, the sender is still the one the router saw
  await iq.dispatch(xml('iq', { type: 'result', id }), Jid.parse('mallory@a.test/x'), host, 'host', 'a.test');
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'a spoofed or unrelated answer does not resolve the request');
  await iq.dispatch(xml('iq', { type: 'result', id, from: alice.toString() }), alice, host, 'host', 'a.test');
  const res = await p;
  assert.equal(res.attrs.type, 'result');
  assert.equal(out.length, 1, 'responses are never answered');
  // an error response resolves too (the caller reads the type), and ids are not reused
  const p2 = iq.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'urn:x:q' })), host, alice, 5000);
  const id2 = out[1]!.el.attrs.id as string;
  assert.notEqual(id2, id);
  await iq.dispatch(xml('iq', { type: 'error', id: id2, from: alice.toString() }), alice, host, 'host', 'a.test');
  assert.equal((await p2).attrs.type, 'error');
});

test('request(): no answer in time rejects with remote-server-timeout, and a late answer is dropped', async () => {
  const { iq, out } = setup();
  const p = iq.request(xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), host, alice, 30);
  const keepAlive = setTimeout(() => {}, 10_000); // the request's timer is unref'd: hold the loop open meanwhile
  await assert.rejects(p, (err: unknown) => err instanceof StanzaError && err.condition === 'remote-server-timeout');
  clearTimeout(keepAlive);
  await iq.dispatch(xml('iq', { type: 'result', id: out[0]!.el.attrs.id, from: alice.toString() }), alice, host, 'host', 'a.test');
  assert.equal(out.length, 1);
});

test('cancelAll rejects every outstanding request with service-unavailable', async () => {
  const { iq } = setup();
  const ps = [1, 2, 3].map(() => iq.request(xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), host, alice, 60_000));
  iq.cancelAll();
  for (const p of ps) await assert.rejects(p, (err: unknown) => err instanceof StanzaError && err.condition === 'service-unavailable');
});
