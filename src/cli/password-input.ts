// How the CLI gets a new password without putting it on the command line (shell history, process list):
// prompted twice on a terminal with nothing echoed, or read from standard input (--password-stdin, or "-").
import { OperatorError } from '../core/errors.js';

export interface PasswordSource { passwordStdin?: boolean }

/** Everything on standard input, less one trailing line break. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** One line typed on the terminal, not echoed (raw mode: the terminal never shows what is typed). */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new OperatorError('XMPPD_ERR_USAGE', 'interrupted'));
        if (ch === '\u0004') return typed ? undefined : finish(new OperatorError('XMPPD_ERR_USAGE', 'no password given'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch === '\u0015') typed = ''; // Ctrl-U: start over
        else if (ch >= ' ') typed += ch;
      }
    };
    // Raw mode before the prompt shows: whatever is typed once it is visible is never echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/**
 * The password for `jid`: the argument as given, else standard input (--password-stdin or "-"), else a
 * prompt on the terminal (twice; both must match). The server applies the password policy.
 */
export async function newPassword(jid: string, given: string | undefined, src: PasswordSource): Promise<string> {
  const fromStdin = src.passwordStdin === true || given === '-';
  if (given !== undefined && given !== '-') {
    if (src.passwordStdin) throw new OperatorError('XMPPD_ERR_USAGE', 'give the password either as an argument or with --password-stdin, not both');
    return given;
  }
  if (fromStdin && !process.stdin.isTTY) return readStdin();
  if (!process.stdin.isTTY) {
    throw new OperatorError('XMPPD_ERR_USAGE', 'no password given: run on a terminal to be prompted for it, or pass --password-stdin and write it to standard input');
  }
  const first = await promptHidden(`New password for ${jid}: `);
  const second = await promptHidden('Retype the password: ');
  if (first !== second) throw new OperatorError('XMPPD_ERR_USAGE', 'the two passwords do not match; nothing was changed');
  return first;
}
