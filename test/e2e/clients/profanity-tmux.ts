// Profanity (Debian profanity, libstrophe) in a private tmux server, driven as a user types: send-keys to
// type a line, capture-pane to read the window.
import { execFileSync } from 'node:child_process';
import { until } from '../../support/until.js';

/** One Profanity in a private tmux server (its own -L socket, so no user's tmux is touched). */
export class ProfanityInTmux {
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
  async shows(re: RegExp, what: string, timeoutMs = 15_000): Promise<string> {
    try {
      return await until(() => {
        const screen = this.screen();
        return re.test(screen) ? screen : '';
      }, what, timeoutMs, 100);
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
