// What an ad-hoc command is to this module (XEP-0050 §2.2 node + name, one form stage, an outcome with
// notes per §4.5), and the bridge to the server's admin command registry that the CLI also uses (through
// the module context: the modules' commands come and go with them).
import { COMMANDS, Jid, type CommandDef, type Element, type ModuleContext, type ModuleAccounts, type ModuleCommandCaller } from '../../src/sdk.js';
import { badPayload, type FieldSpec, type FormValues } from './forms.js';

export interface Note { type: 'info' | 'warn' | 'error'; text: string }

/** How a command ended: notes (XEP-0050 §4.5: a failure carries at least one error note) and a result form. */
export interface Outcome { notes: Note[]; form?: Element }

export interface RunEnv {
  host: string;
  from: Jid;
  /** Runs a command of the server's admin registry (ctx.adminCommand): the control socket and REST API run the same. */
  run(name: string, args: Record<string, unknown>, caller: ModuleCommandCaller): Promise<unknown>;
  /** The loaded modules, for the module pickers of module.unload and module.reload. */
  modules(): Array<{ name: string; status: string }>;
  accounts: Pick<ModuleAccounts, 'exists'>;
  log: ModuleContext<any>['log'];
  /** Aborted when the command's session ends before it completes (the requester's stream closed, the module stopped). */
  signal?: AbortSignal;
}

export interface AdhocCommand {
  node: string;
  /** The disco item name (XEP-0050 §2.2) and form title. */
  name: string;
  /** FORM_TYPE of its forms (XEP-0068). */
  formType: string;
  instructions?: string;
  /** What to ask for; no fields: the command runs straight away on execute. */
  fields(env: RunEnv): FieldSpec[];
  run(env: RunEnv, values: FormValues): Promise<Outcome>;
  /** Also answers to these nodes, without listing them (older XEP-0133 names). */
  aliases?: string[];
}

/** The server's own commands (the XEP-0133 ones map onto user.* and session.*). */
export const REGISTRY: ReadonlyMap<string, CommandDef> = new Map(COMMANDS.map((c) => [c.name, c]));

/** Operator errors (XMPPD_ERR_*: bad JID, no such account, module failures) carry a message for the admin. */
function isOperatorError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('XMPPD_ERR_');
}

export type Attempt = { ok: true; result: unknown } | { ok: false; error: string };

/**
 * Run a registry command. As on the control socket, a failure is reported to the admin with its message
 * (an option validation error from a module reload is not an operator error, yet it is what to fix);
 * only unexpected ones are logged as errors.
 */
export async function attempt(env: RunEnv, name: string, args: Record<string, unknown>): Promise<Attempt> {
  try {
    // An ad-hoc caller is remote: file commands name files inside admin_files_dir only.
    return { ok: true, result: await env.run(name, args, { origin: 'adhoc', ...(env.signal && { signal: env.signal }) }) };
  } catch (err) {
    if (!isOperatorError(err)) env.log.error('admin command failed', { cmd: name, err });
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A submitted JID that must be an account of this host (the command was sent to this host; other virtual
 * hosts have their own), bare unless `full` is allowed.
 */
export function localJid(env: RunEnv, value: string, opts: { full?: boolean } = {}): Jid {
  const j = Jid.parse(value); // readSubmit checked that it parses
  if (!j.local) throw badPayload(`"${value}" is not a user's JID`);
  if (j.resource && !opts.full) throw badPayload(`"${value}" must be a bare JID such as user@${env.host}`);
  if (j.domain !== env.host) throw badPayload(`"${value}" is not an account of ${env.host}`);
  return j;
}

/** Longest list returned in one result form (XEP-0133 §4.18: the service may truncate the result set). */
export const MAX_LIST_ITEMS = 1000;

export function truncated<T>(list: T[], notes: Note[]): T[] {
  if (list.length <= MAX_LIST_ITEMS) return list;
  notes.push({ type: 'warn', text: `Showing the first ${MAX_LIST_ITEMS} of ${list.length}.` });
  return list.slice(0, MAX_LIST_ITEMS);
}
