// What an admin command is, and the argument helpers commands share (JIDs of local accounts,
// passwords, the module manager), with errors that tell the operator what to fix.
import type { Core } from '../core.js';
import type { ModuleManager } from '../module-runtime/module-manager.js';
import type { ModuleDefinition } from '../module-runtime/module-definition.js';
import type { ReloadReport } from '../config/reload/reload-report.js';
import { Jid, JidError } from '../jid.js';
import { OperatorError } from '../errors.js';
import { AccountExistsError, NoSuchAccountError } from '../accounts.js';
import { minPasswordLength, passwordProblem } from '../password-policy.js';

export interface AdminTarget {
  core: Core;
  modules?: ModuleManager;
  /** Live listener and connection figures, when the server is running. */
  status?: () => Record<string, unknown>;
  /** Federation, when enabled: the live server-to-server streams. */
  s2s?: { list(): unknown[] } | null;
  /** Re-read the configuration file and apply it all or nothing (dryRun: only validate and compare). */
  reloadConfig?: (opts?: { dryRun?: boolean }) => Promise<ReloadReport>;
  /** With no server running (CLI on the data directory): module definitions, for their option defaults. */
  definitions?: Record<string, ModuleDefinition<any, any>>;
}

/**
 * Who runs a command. 'cli' is the local operator (control socket, or the CLI on a stopped server): file
 * commands take any path. Every other caller (REST, ad-hoc, a module) is confined to admin_files_dir.
 * `signal` aborts long work when the requester goes away or cancels.
 */
export interface CommandCaller { origin: 'cli' | 'rest' | 'adhoc' | 'module'; signal?: AbortSignal }

/** What a caller that does not say gets: the confined one. */
export const REMOTE_CALLER: CommandCaller = { origin: 'module' };

export interface CommandDef {
  name: string;
  description: string;
  /** Argument names; a trailing '?' marks an optional one. */
  args: string[];
  /** Can run against the data directory with no server running (user management). */
  offline?: boolean;
  run(t: AdminTarget, args: Record<string, unknown>, caller: CommandCaller): Promise<unknown>;
}

/** What went wrong, for the CLI (message), REST (status) and ad-hoc commands (note). */
export type CommandErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unavailable';

export class CommandError extends OperatorError {
  constructor(message: string, readonly kind: CommandErrorKind = 'invalid') {
    super('XMPPD_ERR_COMMAND', message);
  }
}

/** A bare JID of an account on one of this server's hosts. */
export function bareJid(t: AdminTarget, s: unknown): Jid {
  let j: Jid;
  try {
    j = Jid.parse(String(s ?? ''));
  } catch (err) {
    throw new CommandError(`"${s}" is not a valid JID: ${err instanceof JidError ? err.message : err}`);
  }
  if (!j.local || j.resource) throw new CommandError(`"${s}" must be a bare JID such as alice@${t.core.config.hosts[0]}`);
  if (!t.core.config.hosts.includes(j.domain)) throw new CommandError(`${j.domain} is not one of this server's hosts (${t.core.config.hosts.join(', ')})`);
  return j;
}

/**
 * A new password for an account of `host`, under the server's one policy (password-policy.ts: the same
 * minimum as in-band registration). "-" is refused: on the command line it means "read it from stdin".
 */
export function needPassword(t: AdminTarget, host: string, p: unknown): string {
  if (typeof p !== 'string' || p === '') throw new CommandError('a non-empty password is required');
  if (p === '-') throw new CommandError('"-" is not a password: omit the password to be prompted for it, or pass --password-stdin');
  const problem = passwordProblem(p, minPasswordLength(t.core.config, host));
  if (problem) throw new CommandError(problem);
  return p;
}

export function modules(t: AdminTarget): ModuleManager {
  if (!t.modules) throw new CommandError('the server is not running', 'unavailable');
  return t.modules;
}

/** Turn account errors into command errors of the right kind. */
export const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AccountExistsError) throw new CommandError(err.message, 'conflict');
    if (err instanceof NoSuchAccountError) throw new CommandError(err.message, 'not-found');
    throw err;
  }
};
