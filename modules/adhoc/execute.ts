// XEP-0050 §3.4 command execution: start (execute), one form stage with <actions/> (§4.2), submission
// (complete/execute), cancel (§3.4.3), the errors of §4.6, and language handling (§3.6).
import { StanzaError, xml, type Element, type IqRequest, type ModuleContext } from '../../src/sdk.js';
import { FormValues, NS_COMMANDS, commandError, dataForm, readSubmit, submittedForm } from './forms.js';
import type { AdhocCommand, Outcome, RunEnv } from './command.js';
import type { CommandSession, SessionTable } from './sessions.js';

const ACTIONS = new Set(['execute', 'cancel', 'prev', 'next', 'complete']);
/** More open sessions than this per requester is refused (XEP-0050 §3.3 allows a <not-allowed/>). */
export const MAX_SESSIONS_PER_REQUESTER = 16;

export interface Executor {
  ctx: ModuleContext<any>;
  sessions: SessionTable;
  /** Looked up per request: the registry changes as modules load and unload. */
  commands: Pick<ReadonlyMap<string, AdhocCommand>, 'get'>;
  mayRun(req: IqRequest, command: AdhocCommand): boolean;
  env(req: IqRequest): RunEnv;
}

function commandElement(node: string, sessionid: string, status: 'executing' | 'completed' | 'canceled'): Element {
  // §3.6: the responder states the language of its human-readable text with each response.
  return xml('command', { xmlns: NS_COMMANDS, node, sessionid, status, 'xml:lang': 'en' });
}

function completed(node: string, sessionid: string, outcome: Outcome): Element {
  const el = commandElement(node, sessionid, 'completed');
  for (const n of outcome.notes) el.c('note', { type: n.type }).t(n.text);
  if (outcome.form) el.cnode(outcome.form);
  return el;
}

/**
 * §3.6: the notes and forms are in English only. A <command/> that asks for another language gets
 * <bad-locale/>; an xml:lang on the <iq/> is the stanza's default language (RFC 6120 §8.1.5), which a
 * server may answer in another language, so it is not refused (clients set it from their UI locale).
 */
function checkLocale(command: Element): void {
  const lang = command.attrs['xml:lang'] as string | undefined;
  if (lang !== undefined && !/^en(-|$)/i.test(lang)) throw commandError('bad-request', 'bad-locale', `commands are available in English (en) only, not ${lang}`);
}

export async function execute(x: Executor, req: IqRequest): Promise<Element> {
  const cmd = req.payload;
  if (req.type !== 'set' || cmd.name !== 'command') throw new StanzaError('bad-request', 'commands are run with <iq type="set"><command node="..."/></iq>');
  const node = cmd.attrs.node as string | undefined;
  if (!node) throw new StanzaError('bad-request', 'a <command/> needs a node attribute');
  const action = (cmd.attrs.action as string | undefined) ?? 'execute';
  if (!ACTIONS.has(action)) throw commandError('bad-request', 'malformed-action', `"${action}" is not an ad-hoc command action`);
  checkLocale(cmd);
  const command = x.commands.get(node);
  if (!command) throw new StanzaError('item-not-found', `no command ${node} here`);
  // §4.6: <forbidden/> is type cancel.
  if (!x.mayRun(req, command)) throw new StanzaError('forbidden', 'only administrators may run this command', 'cancel');
  const sessionid = cmd.attrs.sessionid as string | undefined;
  return sessionid === undefined ? start(x, req, command, action) : proceed(x, req, command, sessionid, action);
}

/** A new session (§3.4.1): the form to fill in, or the outcome of a command that asks for nothing. */
async function start(x: Executor, req: IqRequest, command: AdhocCommand, action: string): Promise<Element> {
  if (action !== 'execute' && action !== 'complete') throw commandError('bad-request', 'bad-action', `"${action}" needs a session; start with action "execute"`);
  const owner = req.from.toString();
  if (x.sessions.countOwnedBy(owner) >= MAX_SESSIONS_PER_REQUESTER) {
    throw new StanzaError('not-allowed', `at most ${MAX_SESSIONS_PER_REQUESTER} command sessions may be open at once; complete or cancel some`);
  }
  const env = x.env(req);
  const fields = command.fields(env);
  const session = x.sessions.open(command.node, owner);
  // A submission may come with the first request (an automated requester that knows the form).
  if (fields.length && !submittedForm(req.payload)) {
    const el = commandElement(command.node, session.id, 'executing');
    // §4.2/§3.4.2: a single stage, so completing is both the only and the default action.
    el.c('actions', { execute: 'complete' }).c('complete');
    el.cnode(dataForm('form', command.formType, fields, command.name, command.instructions));
    return el;
  }
  try {
    return await finish(x, req, command, session, env);
  } catch (err) {
    x.sessions.end(session.id); // the requester never learnt this session's id: nothing can resume it
    throw err;
  }
}

/** A request within a session (§3.4.2, §3.4.3). */
async function proceed(x: Executor, req: IqRequest, command: AdhocCommand, sessionid: string, action: string): Promise<Element> {
  const found = x.sessions.lookup(sessionid);
  // §4.6: an id that was ours but has ended is <session-expired/>; one we never issued, that belongs to
  // another requester (§3.3: a session is between one requester/responder pair) or to another command is
  // <bad-sessionid/>.
  if (found.state === 'ended') throw commandError('not-allowed', 'session-expired', 'this command session has ended (completed, canceled or timed out)');
  if (found.state === 'unknown' || found.session.owner !== req.from.toString() || found.session.node !== command.node) {
    throw commandError('bad-request', 'bad-sessionid', 'no such command session');
  }
  const session = found.session;
  if (action === 'cancel') {
    x.sessions.end(session.id);
    return commandElement(command.node, session.id, 'canceled');
  }
  // The only stage offers <complete/> (and "execute", which means it): there is no previous or next one.
  if (action === 'prev' || action === 'next') throw commandError('bad-request', 'bad-action', `"${action}" is not available at this stage; use "complete" or "cancel"`);
  return finish(x, req, command, session, x.env(req));
}

/** Read the submission, run the command, end the session with its outcome. */
async function finish(x: Executor, req: IqRequest, command: AdhocCommand, session: CommandSession, env: RunEnv): Promise<Element> {
  const sessionid = session.id;
  const fields = command.fields(env);
  let values = new FormValues(new Map());
  if (fields.length) {
    const form = submittedForm(req.payload);
    // §4.6 <bad-payload/>; the session stays open so the requester can submit again.
    if (!form) throw commandError('bad-request', 'bad-payload', 'submit the form (<x xmlns="jabber:x:data" type="submit"/>) to complete the command');
    values = readSubmit(form, command.formType, fields);
  }
  let outcome: Outcome;
  try {
    // While it runs it does not time out; its requester's stream closing aborts it (an import stops between two users).
    x.sessions.hold(sessionid);
    outcome = await command.run({ ...env, signal: session.cancel.signal }, values);
  } catch (err) {
    // A refused submission keeps the session; a failure while running ends it.
    if (!(err instanceof StanzaError && err.appElement?.name === 'bad-payload')) x.sessions.end(sessionid);
    else x.sessions.release(sessionid);
    throw err;
  }
  x.sessions.end(sessionid);
  x.ctx.log.info('ad-hoc command run', { node: command.node, by: req.from.bareString(), failed: outcome.notes.some((n) => n.type === 'error') });
  return completed(command.node, sessionid, outcome);
}
