// XEP-0191 §6 JID matching (the XEP-0016 order) and which address hears about a (un)block, without sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '../../src/sdk.js';
import { EMPTY, isBlocked, presenceTarget } from './match.js';

const list = (...jids: string[]) => new Set(jids.map((j) => Jid.parse(j).toString()));
const blocked = (items: string[], peer: string) => isBlocked(list(...items), Jid.parse(peer));

test('full JID items match only that resource; bare items any resource of the account', () => {
  assert.equal(blocked(['bob@x.example/phone'], 'bob@x.example/phone'), true);
  assert.equal(blocked(['bob@x.example/phone'], 'bob@x.example/laptop'), false);
  assert.equal(blocked(['bob@x.example/phone'], 'bob@x.example'), false, 'a bare peer is not a resource');
  assert.equal(blocked(['bob@x.example'], 'bob@x.example/any'), true);
  assert.equal(blocked(['bob@x.example'], 'bob@x.example'), true);
  assert.equal(blocked(['bob@x.example'], 'carol@x.example/any'), false);
  assert.equal(blocked(['BOB@X.example'], 'bob@x.example/r'), true, 'items are compared prepared (RFC 7622)');
});

test('domain/resource items match that resource of any account at the domain; domain items everything at it', () => {
  assert.equal(blocked(['x.example/bot'], 'anyone@x.example/bot'), true);
  assert.equal(blocked(['x.example/bot'], 'x.example/bot'), true);
  assert.equal(blocked(['x.example/bot'], 'anyone@x.example/human'), false);
  assert.equal(blocked(['x.example/bot'], 'anyone@x.example'), false);
  for (const peer of ['x.example', 'x.example/r', 'u@x.example', 'u@x.example/r']) assert.equal(blocked(['x.example'], peer), true, peer);
  assert.equal(blocked(['x.example'], 'u@muc.x.example/r'), false, 'no subdomains (XEP-0191 1.3, XEP-0016)');
  assert.equal(blocked(['x.example'], 'u@y.example'), false);
  assert.equal(isBlocked(EMPTY, Jid.parse('u@x.example/r')), false);
});

test('presence on block/unblock goes to the contact’s bare JID, or to the one resource an item names', () => {
  const bob = Jid.parse('bob@x.example');
  assert.equal(presenceTarget(Jid.parse('bob@x.example'), bob)?.toString(), 'bob@x.example');
  assert.equal(presenceTarget(Jid.parse('bob@x.example/phone'), bob)?.toString(), 'bob@x.example/phone');
  assert.equal(presenceTarget(Jid.parse('x.example'), bob)?.toString(), 'bob@x.example');
  assert.equal(presenceTarget(Jid.parse('x.example/phone'), bob)?.toString(), 'bob@x.example/phone');
  assert.equal(presenceTarget(Jid.parse('x.example/phone'), Jid.parse('x.example'))?.toString(), 'x.example/phone');
  assert.equal(presenceTarget(Jid.parse('y.example/phone'), bob), null);
  assert.equal(presenceTarget(Jid.parse('carol@x.example'), bob), null);
  assert.equal(presenceTarget(Jid.parse('y.example'), bob), null);
});
