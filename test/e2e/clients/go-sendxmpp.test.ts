// Client matrix: go-sendxmpp (Debian go-sendxmpp) with its default settings, over STARTTLS and direct TLS
// (its -t) with TLS 1.2 and 1.3: alice sends bob a message, and alice listening (-l) receives bob's answer.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startJsonLines } from '../../support/slixmpp.js';
import { until } from '../../support/until.js';
import { Jid } from '../../../src/core/jid.js';
import {
  ALICE, BOB, TLS_MODES, TLS_VERSIONS, body, clientTestOptions, missingExecutable, requireClient, startMatrixServer, type MatrixServer, type TlsMode,
} from './matrix.js';

const GO_SENDXMPP = '/usr/bin/go-sendxmpp';
const missing = missingExecutable(GO_SENDXMPP, ['--version'], 'go-sendxmpp');
const opts = clientTestOptions(missing);

for (const version of TLS_VERSIONS) {
  describe(`go-sendxmpp, defaults, TLS ${version}`, () => {
    let s: MatrixServer;
    let home: string;
    before(async () => {
      if (opts.skip) return;
      s = await startMatrixServer(version);
      home = await mkdtemp(join(tmpdir(), 'xmppd-go-sendxmpp-'));
    });
    after(async () => {
      await s?.stop();
      if (home) await rm(home, { recursive: true, force: true });
    });

    /**
     * Options a user sets too: the account (-u, -p) and the server's address and port when its domain is
     * not in DNS (-j; -t for the XEP-0368 direct TLS port). SSL_CERT_FILE is how a Go program on Linux is
     * told to trust a private CA. HOME is an empty directory so no sendxmpprc of the machine's user applies.
     */
    const run = (mode: TlsMode, extra: string[]) => startJsonLines(GO_SENDXMPP, [
      '-u', ALICE.jid, '-p', ALICE.password, '-j', `localhost:${s.port(mode)}`, ...(mode === 'direct' ? ['-t'] : []), ...extra,
    ], { env: { SSL_CERT_FILE: s.caFile, HOME: home } });

    for (const mode of TLS_MODES) {
      test(`over ${mode}: alice sends bob a message, then receives his while listening`, opts, async () => {
        requireClient(missing);
        const toBob = body('go-sendxmpp', version, mode, 'to-bob');
        const before = s.logins(ALICE.jid).length;
        // The message text comes from a file (-m); without it go-sendxmpp reads standard input.
        const file = join(home, `${mode}.txt`);
        await writeFile(file, toBob);
        const sent = await run(mode, ['-m', file, BOB.jid]).done;
        assert.equal(sent.code, 0, sent.transcript);
        const got = await s.bobReceives(new RegExp(toBob));
        assert.match(got.from, /^alice@localhost\/.+/);

        const listener = run(mode, ['-l']);
        try {
          const alice = Jid.of('alice', 'localhost');
          const session = await until(() => s.t.server.core.sessions.resources(alice)[0], 'go-sendxmpp -l is online');
          const toAlice = body('go-sendxmpp', version, mode, 'to-alice');
          s.bobSends(session.jid.toString(), toAlice);
          const line = await listener.event('unparsed'); // go-sendxmpp prints "<time> <sender bare JID>: <body>"
          assert.match(String(line.line), new RegExp(`bob@localhost: ${toAlice}$`));
        } finally {
          listener.kill();
          await listener.done;
        }
        const logins = s.logins(ALICE.jid).slice(before);
        assert.equal(logins.length, 2, 'one login to send, one to listen');
        for (const l of logins) assert.equal(l.tls, version);
      });
    }
  });
}
