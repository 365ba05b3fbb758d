// `xmppd sessions` rows (src/core/admin/session-rows.ts): presence show/status (dnd stays dnd), the client's
// name from its identity, else its caps node, else its resource; stream management; idle time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml } from '../../../src/core/stanza.js';
import { Jid } from '../../../src/core/jid.js';
import { sessionRow } from '../../../src/core/admin/session-rows.js';
import type { Session } from '../../../src/core/session.js';

const session = (presence: string | null, extra: Partial<Session> = {}): Session => ({
  id: 'x', jid: Jid.parse('alice@a.test/laptop'), host: 'a.test', ip: '192.0.2.7', secure: true, authMechanism: 'SCRAM-SHA-256',
  startedAt: 1_000_000, priority: 0, presence: presence === null ? null : parseXml(presence), detached: false, ...extra,
} as unknown as Session);

test('show and status come from the last presence; none yet is "unavailable"', () => {
  assert.deepEqual([sessionRow(session('<presence><show>dnd</show><status>busy</status></presence>')).show, sessionRow(session('<presence><show>dnd</show><status>busy</status></presence>')).status], ['dnd', 'busy']);
  assert.equal(sessionRow(session('<presence/>')).show, 'available');
  assert.equal(sessionRow(session('<presence><show>bogus</show></presence>')).show, 'available');
  assert.equal(sessionRow(session(null)).show, 'unavailable');
});

test('the client: identity name, else caps node, else resource', () => {
  const caps = "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='x'/></presence>";
  assert.deepEqual([sessionRow(session(caps), 0, 'Gajim').client, sessionRow(session(caps), 0, 'Gajim').client_source], ['Gajim', 'identity']);
  assert.deepEqual([sessionRow(session(caps)).client, sessionRow(session(caps)).client_source], ['https://gajim.org', 'caps_node']);
  assert.deepEqual([sessionRow(session('<presence/>')).client, sessionRow(session('<presence/>')).client_source], ['laptop', 'resource']);
});

test('stream management, TLS version and idle time', () => {
  const r = sessionRow(session('<presence/>', { streamManagement: 'resumable', tlsVersion: 'TLSv1.3', lastActiveAt: 1_000_000 } as Partial<Session>), 1_061_400);
  assert.deepEqual([r.stream_management, r.tls_version, r.idle_s, r.since], ['resumable', 'TLSv1.3', 61, new Date(1_000_000).toISOString()]);
  const plain = sessionRow(session(null), 1_002_000);
  assert.deepEqual([plain.stream_management, plain.tls_version, plain.idle_s], ['off', null, 2]);
});
