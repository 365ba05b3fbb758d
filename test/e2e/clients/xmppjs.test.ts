// Client matrix: @xmpp/client 0.14 (npm) with its default settings, in its own Node process. It implements
// SASL2 (XEP-0388); xmppd offers classic SASL only (RFC 6120 §6), so the client must fall back to it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startJsonLines } from '../../support/slixmpp.js';
import { ALICE, BOB, TLS_MODES, TLS_VERSIONS, body, startMatrixServer, type MatrixServer } from './matrix.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/e2e/clients/xmppjs_alice.mjs', import.meta.url));

for (const version of TLS_VERSIONS) {
  describe(`@xmpp/client 0.14, defaults, TLS ${version}`, () => {
    let s: MatrixServer;
    before(async () => {
      s = await startMatrixServer(version);
    });
    after(() => s?.stop());

    for (const mode of TLS_MODES) {
      test(`alice logs in over ${mode} with classic SASL and chats with bob`, async () => {
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
        assert.deepEqual([done.sent_sasl2, done.sent_classic_auth], [false, true], 'no SASL2 offered: classic SASL');
        assert.ok(!r.has('error'), r.transcript);
        const last = s.logins(ALICE.jid).at(-1)!;
        assert.equal(last.tls, version);
      });
    }
  });
}
