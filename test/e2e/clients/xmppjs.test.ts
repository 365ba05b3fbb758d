// Client matrix: @xmpp/client 0.14 (npm) with its default settings, in its own Node process. It implements
// SASL2 (XEP-0388), Bind2 (XEP-0386) and FAST (XEP-0484), all of which xmppd offers: it logs in with SASL2,
// binds inline, asks for a FAST token, and logs in with that token the second time.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startJsonLines } from '../../support/slixmpp.js';
import { ALICE, BOB, body, clientMatrix } from './matrix.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/e2e/clients/xmppjs_alice.mjs', import.meta.url));

clientMatrix('@xmpp/client 0.14', null, (mode) => `alice logs in over ${mode} with SASL2 and Bind2, chats with bob, and logs in again with her FAST token`, async (s, version, mode) => {
  const toBob = body('xmppjs', version, mode, 'to-bob');
  const toAlice = body('xmppjs', version, mode, 'to-alice');
  const p = startJsonLines(process.execPath, [SCRIPT, s.port(mode), mode, 'alice', ALICE.password, BOB.jid, toBob], { env: { NODE_EXTRA_CA_CERTS: s.caFile } });
  const start = await p.event('session_start');
  assert.match(String(start.jid), /^alice@localhost\/.+/);
  assert.equal(start.tls, version);
  const got = await s.bobReceives(new RegExp(toBob));
  assert.equal(got.from, start.jid);
  s.bobSends(got.from, toAlice);
  const r = await p.done;
  assert.equal(r.code, 0, r.transcript);
  assert.equal(r.one('message').body, toAlice);
  const done = r.one('done');
  assert.deepEqual([done.sent_sasl2, done.sent_classic_auth], [true, false], 'SASL2 offered: no classic <auth/>');
  // First login: a password mechanism, Bind2, and a token request; second: the token, Bind2 again.
  const [first, second] = done.logins as Array<{ mechanism: string; bind2: boolean; request_token: string | null }>;
  assert.deepEqual(first, { mechanism: 'SCRAM-SHA-1', bind2: true, request_token: 'HT-SHA-256-NONE' });
  assert.equal(second?.mechanism, 'HT-SHA-256-NONE');
  assert.equal(second?.bind2, true);
  assert.match(String(r.one('relogin').jid), /^alice@localhost\/.+/);
  assert.ok(!r.has('error'), r.transcript);
  const logins = s.logins(ALICE.jid).slice(-2);
  assert.deepEqual(logins.map((l) => [l.mechanism, l.sasl2, l.tls]), [['SCRAM-SHA-1', true, version], ['HT-SHA-256-NONE', true, version]]);
});
