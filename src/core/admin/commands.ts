// The server's own admin commands (accounts, sessions, modules, status; config, data and chat areas in
// their own files) and runCommand, which serves them with the modules' commands from the runtime registry
// (command-registry.ts) to the control socket (CLI), the REST API and XEP-0133 ad-hoc commands.
import { Jid } from '../jid.js';
import { OperatorError, StreamError } from '../errors.js';
import { CommandError, REMOTE_CALLER, bareJid, modules, needPassword, wrap, type AdminTarget, type CommandCaller, type CommandDef } from './command-def.js';
import { CONFIG_COMMANDS } from './commands-config.js';
import { DATA_COMMANDS } from './commands-data.js';
import { CHAT_COMMANDS } from './commands-chat.js';
import { CLUSTER_COMMANDS } from './commands-cluster.js';
import { CommandRegistry } from './command-registry.js';
import { sessionRow } from './session-rows.js';
import type { Session } from '../session.js';
import { CAPS_SERVICE, type CapsApi } from '../services/caps-service.js';
import { auditUnknown, runAudited } from './command-audit.js';
export { runAudited } from './command-audit.js';

export { CommandRegistry, type CommandInfo, type ModuleCommandDef, type ModuleCommandCall } from './command-registry.js';
export { CommandError, type AdminTarget, type CommandCaller, type CommandDef, type CommandErrorKind } from './command-def.js';

const SERVER_COMMANDS: CommandDef[] = [
  {
    name: 'user.add', description: 'Create an account', args: ['jid', 'password'], offline: true,
    run: (t, a) => wrap(async () => {
      const j = bareJid(t, a.jid);
      await t.core.accounts.create(j, needPassword(t, j.domain, a.password));
      return { created: j.toString() };
    }),
  },
  {
    name: 'user.del', description: 'Delete an account and end its sessions', args: ['jid'], offline: true,
    run: (t, a) => wrap(async () => {
      const j = bareJid(t, a.jid);
      const { warnings } = await t.core.accounts.remove(j);
      for (const s of t.core.sessions.resources(j)) s.close(new StreamError('not-authorized', 'account removed'));
      return { deleted: j.toString(), ...(warnings.length && { warnings }) };
    }),
  },
  {
    name: 'user.passwd', description: "Change an account's password", args: ['jid', 'password'], offline: true,
    run: (t, a) => wrap(async () => {
      const j = bareJid(t, a.jid);
      await t.core.accounts.setPassword(j, needPassword(t, j.domain, a.password));
      return { changed: j.toString() };
    }),
  },
  {
    name: 'user.ban', description: 'Ban an account: end its sessions and refuse its logins (account-disabled)', args: ['jid', 'reason?'], offline: true,
    run: (t, a) => wrap(async () => {
      const j = bareJid(t, a.jid);
      const reason = typeof a.reason === 'string' ? a.reason : '';
      await t.core.accounts.ban(j, reason);
      const ended = t.core.sessions.resources(j);
      for (const s of ended) s.close(new StreamError('not-authorized', 'this account has been banned'));
      t.core.log.info('account banned', { part: 'admin', jid: j.toString(), reason, sessions_closed: ended.length });
      return { banned: j.toString() };
    }),
  },
  {
    name: 'user.unban', description: 'Lift the ban of an account', args: ['jid'], offline: true,
    run: (t, a) => wrap(async () => {
      const j = bareJid(t, a.jid);
      if (!(await t.core.accounts.unban(j))) throw new CommandError(`${j.toString()} is not banned`, 'not-found');
      t.core.log.info('account unbanned', { part: 'admin', jid: j.toString() });
      return { unbanned: j.toString() };
    }),
  },
  {
    name: 'user.list', description: 'List accounts (of one host, or all); banned: only banned accounts, with the reason', args: ['host?', 'banned?'], offline: true,
    run: async (t, a) => {
      const host = a.host ? String(a.host) : undefined;
      if (host && !t.core.config.hosts.includes(host)) throw new CommandError(`${host} is not one of this server's hosts`);
      if (a.banned === true || a.banned === 'true' || a.banned === '1') return { banned: await t.core.accounts.bans(host) };
      return { users: await t.core.accounts.list(host) };
    },
  },
  {
    name: 'sessions.list', description: 'List bound client sessions', args: [],
    run: async (t) => {
      const now = Date.now();
      // The caps module (when it runs on the host) knows the client's name from its disco#info identity.
      const clientOf = (s: Session) => t.core.services?.get<CapsApi>(s.host, CAPS_SERVICE.name)?.clientOf?.(s.jid);
      return { sessions: t.core.sessions.all().map((s) => sessionRow(s, now, clientOf(s))) };
    },
  },
  {
    name: 'session.kick', description: 'End the sessions of a full JID (or every session of a bare JID)', args: ['jid'],
    run: async (t, a) => {
      let j: Jid;
      try {
        j = Jid.parse(String(a.jid ?? ''));
      } catch {
        throw new CommandError(`"${a.jid}" is not a valid JID`);
      }
      const targets = j.resource ? [t.core.sessions.get(j)].filter((s) => s !== undefined) : t.core.sessions.resources(j);
      if (!targets.length) throw new CommandError(`no session for ${j.toString()}`, 'not-found');
      for (const s of targets) s!.close(new StreamError('policy-violation', 'kicked by an administrator'));
      const kicked = targets.map((s) => s!.jid.toString());
      t.core.log.info('sessions kicked', { part: 'admin', jid: j.toString(), kicked });
      return { kicked };
    },
  },
  {
    name: 's2s.list', description: 'List live server-to-server streams (direction, domains, auth method, TLS)', args: [],
    run: async (t) => {
      if (!t.modules) throw new CommandError('the server is not running');
      return { s2s: t.s2s ? t.s2s.list() : [], enabled: t.core.config.s2s.enabled };
    },
  },
  { name: 'module.list', description: 'List loaded modules', args: [], run: async (t) => ({ modules: modules(t).list() }) },
  {
    name: 'module.load', description: 'Load a module (bundled or from module_paths)', args: ['name', 'options?'],
    run: async (t, a) => moduleOp(a.name, (n) => modules(t).load(n, (a.options as Record<string, unknown>) ?? {})),
  },
  {
    name: 'module.unload', description: 'Unload a module', args: ['name'],
    run: async (t, a) => {
      await modules(t).unload(String(a.name));
      return { unloaded: a.name };
    },
  },
  {
    name: 'module.reload', description: 'Reload a module, with new options if given', args: ['name', 'options?'],
    run: async (t, a) => moduleOp(a.name, (n) => modules(t).reload(n, a.options as Record<string, unknown> | undefined)),
  },
  {
    name: 'commands.list', description: 'List the admin commands (the server\'s and those of loaded modules)', args: [],
    run: async (t) => ({ commands: registryOf(t).list() }),
  },
  {
    name: 'status', description: 'Server status', args: [],
    run: async (t) => ({
      version: t.core.version,
      hosts: t.core.config.hosts,
      sessions: t.core.sessions.count(),
      uptime_s: Math.round(process.uptime()),
      rss_mib: Math.round(process.memoryUsage().rss / 1048576),
      pid: process.pid,
      ...(t.core.cluster ? { node: t.core.cluster.node } : {}),
      ...(t.status?.() ?? {}),
    }),
  },
];

/** The server's own commands, from every area (modules add theirs at runtime: core.commands). */
export const COMMANDS: CommandDef[] = [...SERVER_COMMANDS, ...CONFIG_COMMANDS, ...DATA_COMMANDS, ...CHAT_COMMANDS, ...CLUSTER_COMMANDS];

export const COMMANDS_BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

/** A registry of the server's own commands, for a core built without one (the CLI on a stopped server). */
export const newCommandRegistry = (): CommandRegistry => new CommandRegistry(COMMANDS);
const CORE_ONLY = newCommandRegistry();

/** The registry an admin target serves: the running server's (with module commands) or the core's own commands. */
export const registryOf = (t: AdminTarget): CommandRegistry => t.core.commands ?? CORE_ONLY;

/** Run a command; a caller that does not say who it is gets the confined (non-CLI) treatment. */
export async function runCommand(t: AdminTarget, name: string, args: Record<string, unknown>, caller: CommandCaller = REMOTE_CALLER): Promise<unknown> {
  const cmd = registryOf(t).get(name);
  if (!cmd) {
    auditUnknown(t, name, caller);
    throw new CommandError(`unknown command "${name}"`, 'not-found');
  }
  return runAudited(t, cmd, args, caller);
}

const MODULE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Module load/reload: a bad or unknown name is the admin's mistake (REST 4xx, no stack in the log). The
 * module manager reports failures to resolve a module as plain errors, so they are turned into command errors here.
 */
async function moduleOp<T>(name: unknown, fn: (name: string) => Promise<T>): Promise<T> {
  const n = String(name ?? '');
  if (!MODULE_NAME.test(n)) throw new CommandError(`"${n}" is not a valid module name (lowercase letters, digits, - and _)`);
  try {
    return await fn(n);
  } catch (err) {
    if (err instanceof OperatorError) throw err;
    const msg = (err as Error)?.message ?? String(err);
    throw new CommandError(msg, /^no module named/.test(msg) ? 'not-found' : 'invalid');
  }
}
