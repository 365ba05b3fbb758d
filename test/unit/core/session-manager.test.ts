// Session manager (src/core/session-manager.ts): bound resources (RFC 6120 §7), resource conflict
// (§7.7.2.2 override), and the targets of a message to a bare JID (RFC 6121 §8.5.2.1.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml from '@xmpp/xml';
import { SessionManager } from '../../../src/core/session-manager.js';
import { Jid } from '../../../src/core/jid.js';
import { RecordingSession } from '../../support/recording-session.js';

const ids = (ss: { jid: Jid }[]) => ss.map((s) => s.jid.resource).sort();
const alice = Jid.parse('alice@a.test');

test('add, get, resources, count and remove', () => {
  const sm = new SessionManager();
  const laptop = new RecordingSession('alice@a.test/laptop');
  const phone = new RecordingSession('alice@a.test/phone');
  const bob = new RecordingSession('bob@a.test/x');
  assert.equal(sm.add(laptop), undefined);
  assert.equal(sm.add(phone), undefined);
  assert.equal(sm.add(bob), undefined);
  assert.equal(sm.count(), 3);
  assert.equal(sm.get(Jid.parse('alice@a.test/phone')), phone);
  assert.equal(sm.get(Jid.parse('alice@a.test/tablet')), undefined);
  assert.equal(sm.get(Jid.parse('alice@b.test/phone')), undefined, 'the domain is part of the account');
  assert.deepEqual(sm.resources(alice), [laptop, phone], 'in bind order');
  assert.ok(sm.hasResource(alice, 'laptop'));
  assert.ok(!sm.hasResource(alice, 'tablet'));
  assert.equal(sm.all().length, 3);

  assert.equal(sm.remove(laptop), true);
  assert.equal(sm.remove(laptop), false, 'removing twice is a no-op');
  assert.equal(sm.count(), 2);
  assert.deepEqual(sm.resources(alice), [phone]);
  sm.remove(phone);
  assert.deepEqual(sm.resources(alice), []);
  assert.equal(sm.count(), 1);
  assert.ok(!sm.hasResource(alice, 'phone'));
});

test('a second session on the same full JID replaces the first, which is closed with conflict', () => {
  const sm = new SessionManager();
  const first = new RecordingSession('alice@a.test/laptop');
  const second = new RecordingSession('alice@a.test/laptop');
  sm.add(first);
  assert.equal(sm.add(second), first);
  assert.equal(first.closedWith?.condition, 'conflict');
  assert.equal(second.closedWith, null, 'the new session stays open');
  assert.equal(sm.count(), 1, 'a replacement does not count twice');
  assert.equal(sm.get(second.jid), second);
  // The replaced session's own cleanup must not remove its successor.
  assert.equal(sm.remove(first), false);
  assert.equal(sm.get(second.jid), second);
  assert.equal(sm.count(), 1);
});

test('messageTargets: available resources with the highest non-negative priority (RFC 6121 §8.5.2.1.1)', () => {
  const sm = new SessionManager();
  assert.deepEqual(sm.messageTargets(alice), [], 'no account online');
  const idle = new RecordingSession('alice@a.test/idle'); // bound, no presence sent
  sm.add(idle);
  assert.deepEqual(sm.messageTargets(alice), [], 'a resource without available presence is not a target');
  const neg = new RecordingSession('alice@a.test/neg', -1);
  sm.add(neg);
  assert.deepEqual(sm.messageTargets(alice), [], 'negative priority never receives bare-JID messages');
  const zero = new RecordingSession('alice@a.test/zero', 0);
  sm.add(zero);
  assert.deepEqual(ids(sm.messageTargets(alice)), ['zero'], 'priority 0 is a target');
  const five = new RecordingSession('alice@a.test/five', 5);
  const fiveToo = new RecordingSession('alice@a.test/five-too', 5);
  sm.add(five);
  sm.add(fiveToo);
  assert.deepEqual(ids(sm.messageTargets(alice)), ['five', 'five-too'], 'every resource tied at the highest priority');
  five.presence = null; // went unavailable
  assert.deepEqual(ids(sm.messageTargets(alice)), ['five-too']);
});

test('availableResources: every available resource with non-negative priority (headlines)', () => {
  const sm = new SessionManager();
  sm.add(new RecordingSession('alice@a.test/idle'));
  sm.add(new RecordingSession('alice@a.test/neg', -5));
  sm.add(new RecordingSession('alice@a.test/zero', 0));
  sm.add(new RecordingSession('alice@a.test/ten', 10));
  sm.add(new RecordingSession('bob@a.test/ten', 10));
  assert.deepEqual(ids(sm.availableResources(alice)), ['ten', 'zero']);
  assert.deepEqual(sm.availableResources(Jid.parse('carol@a.test')), []);
});

test('broadcast reaches every session of the account, available or not, and no one else', () => {
  const sm = new SessionManager();
  const a1 = new RecordingSession('alice@a.test/1');
  const a2 = new RecordingSession('alice@a.test/2', -1);
  const b = new RecordingSession('bob@a.test/1', 1);
  [a1, a2, b].forEach((s) => sm.add(s));
  sm.broadcast(alice, xml('message', { id: 'x' }));
  assert.equal(a1.sent.length, 1);
  assert.equal(a2.sent.length, 1);
  assert.equal(b.sent.length, 0);
});
