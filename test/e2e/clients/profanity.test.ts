// Client matrix: Profanity 0.13 (Debian profanity, libstrophe) with its default settings, driven in tmux
// (send-keys / capture-pane) as a user types: logs in over STARTTLS and direct TLS with TLS 1.2 and 1.3 and chats.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../support/until.js';
import { Jid } from '../../../src/core/jid.js';
import {
  ALICE, BOB, TLS_MODES, TLS_VERSIONS, body, clientTestOptions, missingExecutable, requireClient, startMatrixServer, type MatrixServer,
} from './matrix.js';

const missing = missingExecutable('/usr/bin/profanity', ['--version'], 'profanity')
  ?? missingExecutable('/usr/bin/tmux', ['-V'], 'tmux');
const opts = clientTestOptions(missing);

/** One Profanity in a private tmux server (its own -L socket, so no user's tmux is touched). */
class ProfanityInTmux {
  private readonly socket = `xmppd-profanity-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private tmux(...args: string[]): string {
    return execFileSync('/usr/bin/tmux', ['-L', this.socket, ...args], { env: this.env, encoding: 'utf8' });
  }

  start(): void {
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'p', '-x', '200', '-y', '50', '/usr/bin/profanity');
  }

  /** Type a line and press Enter. */
  type(line: string): void {
    this.tmux('send-keys', '-t', 'p', '-l', line);
    this.tmux('send-keys', '-t', 'p', 'Enter');
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'p');
  }

  /** Wait until the visible window shows `re`. */
  async shows(re: RegExp, what: string): Promise<string> {
    try {
      return await until(() => {
        const screen = this.screen();
        return re.test(screen) ? screen : '';
      }, what, 15_000, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nscreen:\n${this.screen()}`);
    }
  }

  stop(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}

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

    for (const mode of TLS_MODES) {
      test(`alice logs in over ${mode} and chats with bob`, opts, async () => {
        requireClient(missing);
        // A fresh profile per test (HOME, XDG dirs). SSL_CERT_FILE is the OpenSSL variable a user with a
        // private CA sets too (libstrophe loads OpenSSL's default verify paths).
        const dir = join(home, `${mode}`);
        const p = new ProfanityInTmux({
          ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'),
          SSL_CERT_FILE: s.caFile, TERM: 'xterm-256color',
        });
        const before = s.logins(ALICE.jid).length;
        p.start();
        try {
          await p.shows(/Welcome to Profanity|profanity/i, 'Profanity started');
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
  });
}
