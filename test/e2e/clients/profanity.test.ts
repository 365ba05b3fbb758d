// Client matrix: Profanity 0.13 (Debian profanity, libstrophe) with its default settings, driven in tmux
// (send-keys / capture-pane) as a user types: logs in over STARTTLS and direct TLS with TLS 1.2 and 1.3 and chats.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../support/until.js';
import { Jid } from '../../../src/core/jid.js';
import { ProfanityInTmux } from './profanity-tmux.js';
import {
  ALICE, BOB, TLS_MODES, TLS_VERSIONS, body, clientTestOptions, missingExecutable, requireClient, startMatrixServer, type MatrixServer, type TlsMode,
} from './matrix.js';

const missing = missingExecutable('/usr/bin/profanity', ['--version'], 'profanity')
  ?? missingExecutable('/usr/bin/tmux', ['-V'], 'tmux');
const opts = clientTestOptions(missing);

for (const version of TLS_VERSIONS) {
  describe(`Profanity 0.13, defaults, TLS ${version}`, () => {
    let s: MatrixServer;
    let home: string;
    before(async () => {
      if (opts.skip) return;
      s = await startMatrixServer(version);
      home = await mkdtemp(join(tmpdir(), 'xmppd-profanity-'));
    });
    after(async () => {
      await s?.stop();
      if (home) await rm(home, { recursive: true, force: true });
    });

    /**
     * Profanity with a fresh profile (HOME, XDG dirs), logged in as alice. SSL_CERT_FILE is the OpenSSL
     * variable a user with a private CA sets too (libstrophe loads OpenSSL's default verify paths).
     */
    async function loggedIn(mode: TlsMode, name: string, first: string[] = []): Promise<ProfanityInTmux> {
      const dir = join(home, name);
      const p = new ProfanityInTmux({
        ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'),
        SSL_CERT_FILE: s.caFile, TERM: 'xterm-256color',
      });
      p.start();
      try {
        await p.shows(/Welcome to Profanity|profanity/i, 'Profanity started');
        for (const line of first) p.type(line);
        // Account settings a user sets too: the password, and the server's name and port when its domain
        // is not in DNS; 'tls legacy' is Profanity 0.13's name for XEP-0368 direct TLS (default: STARTTLS).
        p.type(`/account add ${ALICE.jid}`);
        p.type(`/account set ${ALICE.jid} password ${ALICE.password}`);
        p.type(`/account set ${ALICE.jid} server localhost`);
        p.type(`/account set ${ALICE.jid} port ${s.port(mode)}`);
        if (mode === 'direct') p.type(`/account set ${ALICE.jid} tls legacy`);
        p.type(`/connect ${ALICE.jid}`);
        await p.shows(/logged in successfully/, 'Profanity logged in');
        const alice = Jid.of('alice', 'localhost');
        await until(() => s.t.server.core.sessions.resources(alice).length > 0, 'alice’s session is bound');
        return p;
      } catch (err) {
        p.stop();
        throw err;
      }
    }

    for (const mode of TLS_MODES) {
      test(`alice logs in over ${mode} and chats with bob`, opts, async () => {
        requireClient(missing);
        const before = s.logins(ALICE.jid).length;
        const p = await loggedIn(mode, mode);
        try {
          const toBob = body('profanity', version, mode, 'to-bob');
          const toAlice = body('profanity', version, mode, 'to-alice');
          p.type(`/msg ${BOB.jid} ${toBob}`);
          const got = await s.bobReceives(new RegExp(toBob));
          assert.match(got.from, /^alice@localhost\/.+/);
          s.bobSends(got.from, toAlice);
          await p.shows(new RegExp(`bob@localhost/raw: ${toAlice}`), 'bob’s answer in the chat window');
        } finally {
          p.stop();
        }
        const logins = s.logins(ALICE.jid).slice(before);
        assert.equal(logins.length, 1);
        assert.equal(logins[0]!.tls, version);
      });
    }

    if (version === 'TLSv1.3') {
      test('with /mam on, opening a chat with bob loads the archived conversation (MAM found on the server)', opts, async () => {
        requireClient(missing);
        // The earlier tests left alice and bob's messages in alice's archive; this profile has none of them.
        // /mam on: Profanity 0.13 fetches history only when the user turns MAM on (it is off by default).
        const p = await loggedIn('starttls', 'mam', ['/mam on']);
        try {
          // Profanity 0.13 looks for urn:xmpp:mam:2 in the server's disco#info, asked for at login. Its own
          // /disco query is answered after that one (a session's stanzas are handled in order, RFC 6120 §10.1).
          p.type('/disco info localhost');
          await p.shows(/urn:xmpp:mam:2/, 'the server’s features in the console');
          p.type(`/msg ${BOB.jid}`);
          const screen = await p.shows(/bob@localhost\/raw: to-alice from profanity starttls TLSv1\.3/, 'archived messages in the new chat window');
          assert.match(screen, /me: to-bob from profanity starttls TLSv1\.3/);
          p.type('/win 1');
          const console = await p.shows(/Message Archive Management enabled/, 'the console');
          assert.doesNotMatch(console, /doesn't support MAM/);
        } finally {
          p.stop();
        }
      });
    }
  });
}
