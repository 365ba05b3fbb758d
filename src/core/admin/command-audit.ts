// The audit trail of admin commands: every run (CLI over the control socket or on a stopped server, REST,
// XEP-0133 ad-hoc, a module) is logged once with what it targets and who asked, and failures too. Only
// arguments that name a target are logged: never a password, a stanza, a message body or module options.
import type { AdminTarget, CommandCaller, CommandDef } from './command-def.js';
import { OperatorError } from '../errors.js';

/** Arguments that say what a command acts on (a JID, a host, a module, a file...), safe to log. */
const TARGET_ARGS = ['jid', 'host', 'name', 'contact', 'from', 'to', 'file', 'with', 'reason', 'type', 'force', 'banned', 'node', 'room'];

export function targetOf(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of TARGET_ARGS) {
    const v = args[k];
    if (v === undefined || v === '' || typeof v === 'function' || typeof v === 'object') continue;
    out[k] = typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…` : v;
  }
  return out;
}

/** Run a command and log it: info when it succeeds, warn when the operator's input was refused, error for a bug. */
export async function runAudited(t: AdminTarget, cmd: CommandDef, args: Record<string, unknown>, caller: CommandCaller): Promise<unknown> {
  const log = t.core.log.child({ part: 'admin' });
  // On a stopped server (the CLI on the data directory) the operator sees the outcome on the terminal.
  const offline = t.core.admin === undefined && t.modules === undefined;
  const fields = { cmd: cmd.name, origin: caller.origin, ...targetOf(args) };
  const t0 = Date.now();
  try {
    const result = await cmd.run(t, args, caller);
    log.info('admin command', { ...fields, ms: Date.now() - t0 });
    return result;
  } catch (err) {
    if (offline) log.debug('admin command failed', { ...fields, error: (err as Error).message });
    else if (err instanceof OperatorError) log.warn('admin command failed', { ...fields, code: err.code, error: err.message });
    else log.error('admin command failed', { ...fields, err });
    throw err;
  }
}

/** An unknown command name is logged as a failure too (a typo in a script shows in the log). */
export function auditUnknown(t: AdminTarget, name: string, caller: CommandCaller): void {
  t.core.log.child({ part: 'admin' }).warn('admin command failed', { cmd: name, origin: caller.origin, code: 'XMPPD_ERR_COMMAND', error: `unknown command "${name}"` });
}
