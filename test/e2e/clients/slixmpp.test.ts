// Client matrix: slixmpp 1.8.3 (Debian python3-slixmpp, /usr/bin/python3) with its default settings. It
// picks SCRAM-SHA-256-PLUS with tls-unique (RFC 5929 §3) on TLS 1.2 and TLS 1.3, over STARTTLS and direct TLS.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PYTHON, slixmppMissing, startJsonLines } from '../../support/slixmpp.js';
import { ALICE, BOB, body, clientMatrix } from './matrix.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/e2e/clients/slixmpp_alice.py', import.meta.url));

clientMatrix('slixmpp 1.8.3', slixmppMissing, (mode) => `alice logs in over ${mode} with SCRAM-SHA-256-PLUS (tls-unique) and chats with bob`, async (s, version, mode) => {
  const toBob = body('slixmpp', version, mode, 'to-bob');
  const toAlice = body('slixmpp', version, mode, 'to-alice');
  const p = startJsonLines(PYTHON, [SCRIPT, s.port(mode), mode, s.caFile, ALICE.jid, ALICE.password, BOB.jid, toBob]);
  const start = await p.event('session_start');
  assert.equal(start.tls, version);
  assert.equal(start.mech, 'SCRAM-SHA-256-PLUS', 'slixmpp’s first choice');
  const got = await s.bobReceives(new RegExp(toBob));
  assert.equal(got.from, start.jid, 'bob sees alice’s full JID');
  s.bobSends(got.from, toAlice);
  const r = await p.done;
  assert.equal(r.code, 0, r.transcript);
  const m = r.one('message');
  assert.equal(m.body, toAlice);
  assert.equal(m.sender, 'bob@localhost/raw');
  assert.ok(!r.has('failed_auth'), r.transcript);
  const last = s.logins(ALICE.jid).at(-1)!;
  assert.deepEqual([last.mechanism, last.channel_binding, last.tls], ['SCRAM-SHA-256-PLUS', 'tls-unique', version]);
});
