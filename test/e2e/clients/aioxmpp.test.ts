// Client matrix: aioxmpp 0.13 (Debian python3-aioxmpp, /usr/bin/python3) with its default settings logs in
// over STARTTLS and direct TLS with TLS 1.2 and 1.3, binds (a bind result with no 'from', RFC 6120 §8.1.2.1)
// and chats with bob.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PYTHON, startJsonLines } from '../../support/slixmpp.js';
import { ALICE, BOB, body, clientMatrix } from './matrix.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/e2e/clients/aioxmpp_alice.py', import.meta.url));

function aioxmppUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import aioxmpp'], { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? null : `aioxmpp is not importable by ${PYTHON} (install Debian's python3-aioxmpp): ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
}
const missing = aioxmppUnavailable();

clientMatrix('aioxmpp 0.13', missing, (mode) => `alice logs in over ${mode}, binds a resource and chats with bob`, async (s, version, mode) => {
  const toBob = body('aioxmpp', version, mode, 'to-bob');
  const toAlice = body('aioxmpp', version, mode, 'to-alice');
  const p = startJsonLines(PYTHON, [SCRIPT, s.port(mode), mode, ALICE.jid, ALICE.password, BOB.jid, toBob], { env: { SSL_CERT_FILE: s.caFile } });
  const start = await p.event('session_start');
  assert.match(String(start.jid), /^alice@localhost\/.+/);
  const got = await s.bobReceives(new RegExp(toBob));
  assert.equal(got.from, start.jid);
  s.bobSends(got.from, toAlice);
  const r = await p.done;
  assert.equal(r.code, 0, r.transcript);
  const m = r.one('message');
  assert.equal(m.body, toAlice);
  assert.equal(m.sender, 'bob@localhost/raw');
  const last = s.logins(ALICE.jid).at(-1)!;
  assert.equal(last.tls, version);
  assert.match(String(last.mechanism), /^SCRAM-SHA-/, 'aioxmpp chose a SCRAM mechanism');
});
