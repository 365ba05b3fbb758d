// The `xmppd` command line (commander): start the server, check the config, and admin verbs that reach a
// running server over its control socket (user management also works on the data dir when it is stopped).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { relative as relativePath, resolve as resolvePath } from 'node:path';
import { defaultConfig, KNOWN_KEYS, loadConfigFile, ConfigErrors } from '../core/config/load-config.js';
import { ignoredEnv } from '../core/config/env-overrides.js';
import { errorsOf } from '../core/config/config-problem.js';
import { addCheckVerb } from './check/check-verb.js';
import type { ServerConfig } from '../core/config/types.js';
import { OperatorError } from '../core/errors.js';
import { VERSION } from '../version.js';
import { callServer, NotRunningError } from './control-client.js';
import { formatClusterStatus } from './cluster-status-format.js';
import { checkWorkersFlag, workerConfig } from '../core/config/workers.js';
import { Logger, serverLogger } from '../core/log.js';
import { formatReport, type ReloadReport } from '../core/config/reload/reload-report.js';
import { printResult } from './output.js';
import { newPassword } from './password-input.js';
import type { LogFormat } from '../core/log.js';
import type { ModuleDefinition } from '../core/module-runtime/module-definition.js';

// The server, the bundled modules and the data layer are loaded by the verbs that use them: a verb that asks
// the running server over its control socket starts in half the time.
const bundledModules = async (): Promise<Record<string, ModuleDefinition<any, any>>> => (await import('../../modules/index.js')).BUNDLED_MODULES;

interface CliOpts { config?: string; json?: boolean; passwordStdin?: boolean }

/** Run an admin command and print its result (a table or text; JSON with --json). */
async function call(opts: CliOpts, cmd: string, args: Record<string, unknown>, timeoutMs?: number): Promise<void> {
  printResult(cmd, await admin(opts, cmd, args, timeoutMs), opts.json === true);
}

/** The file -c names, else $XMPPD_CONFIG, else ./xmppd.yaml if there is one; undefined: the embedded default. */
function configFile(file: string | undefined): string | undefined {
  const path = file ?? process.env.XMPPD_CONFIG;
  if (path) return path;
  return existsSync('xmppd.yaml') ? 'xmppd.yaml' : undefined;
}

function configFrom(file: string | undefined): ServerConfig {
  // XMPPD_* variables override the file (env-overrides.ts); one that sets nothing is most likely a typo.
  for (const name of ignoredEnv(KNOWN_KEYS)) process.stderr.write(`xmppd: warning: the environment variable ${name} is not a configuration option (ignored)\n`);
  const path = configFile(file);
  return path ? loadConfigFile(path) : defaultConfig(); // embedded default: localhost, ./data, 5222 + 5223, http on 127.0.0.1:5280
}

async function admin(opts: { config?: string }, cmd: string, args: Record<string, unknown>, timeoutMs?: number): Promise<unknown> {
  const config = configFrom(opts.config);
  // With workers, the CLI talks to worker 0 (replicated data is the same on every node; sessions are per node).
  const socket = config.workers > 1 ? workerConfig(config, 0).control_socket : config.control_socket;
  try {
    return await callServer(socket, cmd, args, timeoutMs).catch((err) => {
      // started with --workers N but no `workers` in the file: worker 0's socket is where the server answers
      if (err instanceof NotRunningError && config.cluster && config.workers === 1) return callServer(workerConfig(config, 0).control_socket, cmd, args, timeoutMs);
      throw err;
    });
  } catch (err) {
    if (!(err instanceof NotRunningError)) throw err;
    const { COMMANDS_BY_NAME } = await import('../core/admin/commands.js');
    if (COMMANDS_BY_NAME.get(cmd)?.offline) {
      const { runOffline } = await import('./offline.js');
      return runOffline(config, cmd, args, await bundledModules());
    }
    throw err;
  }
}

/** `name=value` words as command arguments (a value may itself contain '='). */
function namedArgs(words: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new OperatorError('XMPPD_ERR_USAGE', `"${w}" is not an argument: write name=value, e.g. jid=alice@localhost`);
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

function parseOptions(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  try {
    const v = JSON.parse(json);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
    return v;
  } catch {
    throw new OperatorError('XMPPD_ERR_USAGE', `--options must be a JSON object, e.g. '{"interval": 30}'`);
  }
}

export function buildCli(): Command {
  const program = new Command('xmppd').version(VERSION).description('xmppd, an XMPP server').showHelpAfterError();
  const cfg = (c: Command) => c.option('-c, --config <file>', 'configuration file (YAML); default: $XMPPD_CONFIG, ./xmppd.yaml, or the embedded default');
  // Every admin verb: a table or text for people, or --json (one stable schema per verb, docs/cli.md) for scripts.
  const verb = (c: Command) => cfg(c).option('--json', 'print the result as JSON (schema: docs/cli.md)');

  cfg(program.command('start').description('run the server in the foreground')
    .option('--log-format <format>', 'text (readable, coloured lines; the default on a terminal) or json (one object a line; the default otherwise)')
    .option('--workers <n>', 'node processes sharing the listening ports, one per core (needs the cluster section; overrides `workers`)'))
    .action(async (opts) => {
      for (const name of ignoredEnv(KNOWN_KEYS)) process.stderr.write(`xmppd: warning: the environment variable ${name} is not a configuration option (ignored)\n`);
      // The same check as check-config (module options included), so start refuses with every problem at once.
      const { checkConfig } = await import('../core/config/check-config.js');
      const checked = await checkConfig(configFile(opts.config), await bundledModules());
      const errors = errorsOf(checked.problems);
      if (errors.length || !checked.config) throw new ConfigErrors(errors);
      const config = checked.config;
      if (opts.workers !== undefined) {
        config.workers = Number(opts.workers);
        checkWorkersFlag(config.workers, config.cluster);
      }
      const format = opts.logFormat === undefined ? undefined : String(opts.logFormat);
      if (format !== undefined && format !== 'text' && format !== 'json') throw new OperatorError('XMPPD_ERR_USAGE', `--log-format must be text or json, not "${format}"`);
      const { isWorker, runPrimary } = await import('./workers.js');
      if (config.workers > 1 && !isWorker()) return runPrimary(config, config.workers, new Logger(config.log_level).child({ part: 'primary' }));
      // Several nodes' logs end up side by side (workers, a log collector): each line names its node.
      const log = serverLogger(config.log_level, format as LogFormat | undefined, config.cluster ? { node: config.cluster.node } : {});
      const { startServer } = await import('../main.js');
      const server = await startServer(config, { processMetrics: true, log, cliHint: cliHint(opts.config) });
      const stop = (signal: string) => {
        server.core.log.info('signal received', { signal });
        void server.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      // SIGHUP: re-read the config file and apply it all or nothing; the reloader logs the outcome, a bad file changes nothing.
      process.on('SIGHUP', () => {
        server.core.log.info('signal received', { signal: 'SIGHUP' });
        server.reload().catch((err: Error) => server.core.log.error('configuration reload failed', { err }));
      });
    });

  // One check under two names (the README lists check-config first; config check sits beside config reload).
  addCheckVerb(program, 'check-config', cfg, configFile, bundledModules);

  const user = program.command('user').description('manage accounts');
  const pw = (c: Command) => verb(c).option('--password-stdin', 'read the password from standard input (for scripts)');
  pw(user.command('add <jid> [password]').description('create an account (omit the password to be prompted for it)'))
    .action(async (jid, password, opts) => call(opts, 'user.add', { jid, password: await newPassword(jid, password, opts) }));
  verb(user.command('del <jid>').description('delete an account')).action((jid, opts) => call(opts, 'user.del', { jid }));
  pw(user.command('passwd <jid> [password]').description('set a new password (omit it to be prompted for it)'))
    .action(async (jid, password, opts) => call(opts, 'user.passwd', { jid, password: await newPassword(jid, password, opts) }));
  verb(user.command('list [host]').description('list accounts').option('--banned', 'only banned accounts, with when and why'))
    .action((host, opts) => call(opts, 'user.list', { host, ...(opts.banned && { banned: true }) }));
  verb(user.command('ban <jid> [reason]').description('end an account\'s sessions and refuse its logins')).action((jid, reason, opts) => call(opts, 'user.ban', { jid, reason }));
  verb(user.command('unban <jid>').description('lift a ban')).action((jid, opts) => call(opts, 'user.unban', { jid }));

  verb(program.command('sessions').description('list client sessions: presence, address, TLS, client, stream management, idle time'))
    .action((opts) => call(opts, 'sessions.list', {}));
  verb(program.command('kick <jid>').description('end the sessions of a JID')).action((jid, opts) => call(opts, 'session.kick', { jid }));
  verb(program.command('s2s').description('list server-to-server streams (direction, peer, auth method, TLS)')).action((opts) => call(opts, 's2s.list', {}));
  verb(program.command('status').description('show server status')).action((opts) => call(opts, 'status', {}));
  // Modules add commands at runtime (ctx.command): the running server lists them and runs any by name.
  verb(program.command('commands').description("list the running server's admin commands, those of its loaded modules included"))
    .action((opts) => call(opts, 'commands.list', {}));
  verb(program.command('run <command> [args...]').description('run an admin command by name, arguments as name=value (see "xmppd commands")'))
    .action((command, args: string[], opts) => call(opts, command, namedArgs(args)));

  const cluster = program.command('cluster').description('the cluster this node belongs to (config `cluster`)');
  cfg(cluster.command('status').description('nodes, replication lag, last applied, stream leader, consumers').option('--json', 'print the result as JSON'))
    .action(async (opts) => {
      const status = (await admin(opts, 'cluster.status', {})) as Record<string, unknown>;
      console.log(opts.json ? JSON.stringify(status, null, 2) : formatClusterStatus(status));
    });

  const conf = program.command('config').description('check the configuration file, or make the running server reload it');
  addCheckVerb(conf, 'check', cfg, configFile, bundledModules);
  verb(conf.command('reload').description('make the running server re-read its configuration file: applies all of it or none, lists what needs a restart'))
    .action((opts) => call(opts, 'config.reload', {}));

  // prosodyctl's `cert import`: works on files only, a running server follows its certificate directory itself.
  const cert = program.command('cert').description('TLS certificates');
  verb(cert.command('import <dir>').description("copy each host's certificate and key from an ACME client's directory (certbot, lego, acmetool) into the server's certificate directory"))
    .action(async (dir: string, opts) => {
      const { formatImportReport, importCertificates } = await import('../interface/tls/cert-import.js');
      const report = importCertificates(configFrom(opts.config), dir);
      console.log(opts.json === true ? JSON.stringify(report, null, 2) : formatImportReport(report, resolvePath(dir)));
      if (!report.imported.length) process.exitCode = 1;
    });

  const mod = program.command('module').description('manage modules at runtime');
  verb(mod.command('list').description('list loaded modules')).action((opts) => call(opts, 'module.list', {}));
  verb(mod.command('load <name>').description('load a module').option('--options <json>', 'module options as JSON'))
    .action((name, opts) => call(opts, 'module.load', { name, options: parseOptions(opts.options) }));
  verb(mod.command('unload <name>').description('unload a module')).action((name, opts) => call(opts, 'module.unload', { name }));
  verb(mod.command('reload <name>').description('reload a module (with new options)').option('--options <json>', 'new options as JSON'))
    .action((name, opts) => call(opts, 'module.reload', { name, options: parseOptions(opts.options) }));
  addDataVerbs(program, verb);
  return program;
}

/**
 * export/import/backup/restore (file paths made absolute: a running server does the work) and the chat
 * operations. Progress lines go to stderr when the work runs here (server stopped); a running server logs them.
 */
function addDataVerbs(program: Command, verb: (c: Command) => Command): void {
  const LONG = 24 * 3600_000; // big imports take long; the CLI waits for the server's answer
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const data = (cmd: string, file: string, opts: CliOpts, extra: Record<string, unknown> = {}) =>
    call(opts, cmd, { file: resolvePath(file), ...extra, progress }, LONG);
  verb(program.command('export <file>').description('export accounts, rosters, vCards, private storage and offline messages as XEP-0227 XML (.gz compresses)')
    .option('--host <host>', 'only this virtual host')).action((file, opts) => data('data.export', file, opts, opts.host ? { host: opts.host } : {}));
  verb(program.command('import <file>').description('import a XEP-0227 file or directory (xmppd export, ejabberdctl export_piefxis, prosody-migrator)'))
    .action((file, opts) => data('data.import', file, opts));
  verb(program.command('backup <file>').description('write a consistent copy of every table (JSON lines; .gz compresses)')).action((file, opts) => data('backup', file, opts));
  verb(program.command('restore <file>').description('replace the contents of every table with a backup; a running server is refused unless --force (with a summary of what would be replaced)')
    .option('--force', 'replace the data of a running server, or data newer than the backup (what is dropped is reported)'))
    .action((file, opts) => data('restore', file, opts, opts.force ? { force: true } : {}));

  const send = program.command('send').description('send stanzas as a local address');
  verb(send.command('message <from> <to> <body>').description('send a message').option('--type <type>', 'chat (default), normal, headline or groupchat'))
    .action((from, to, body, opts) => call(opts, 'send.message', { from, to, body, type: opts.type }));
  verb(send.command('stanza <from> <to> <xml>').description('send a <message/>, <presence/> or <iq/>'))
    .action((from, to, stanza, opts) => call(opts, 'send.stanza', { from, to, stanza }));
  const roster = program.command('roster').description("read and change an account's roster (pushed to its clients)");
  verb(roster.command('get <jid>').description('list the roster')).action((jid, opts) => call(opts, 'roster.get', { jid }));
  verb(roster.command('add <jid> <contact>').description('add or change an item').option('--name <name>', 'display name')
    .option('--groups <groups>', 'comma-separated groups').option('--subscription <sub>', 'none, to, from or both'))
    .action((jid, contact, opts) => call(opts, 'roster.add', { jid, contact, name: opts.name, groups: opts.groups, subscription: opts.subscription }));
  verb(roster.command('remove <jid> <contact>').description('remove an item')).action((jid, contact, opts) => call(opts, 'roster.remove', { jid, contact }));
  const vcard = program.command('vcard').description("read and replace an account's vCard");
  verb(vcard.command('get <jid>').description('print the vCard XML')).action((jid, opts) => call(opts, 'vcard.get', { jid }));
  verb(vcard.command('set <jid> <xml>').description("replace the vCard (<vCard xmlns='vcard-temp'>…</vCard>)")).action((jid, xml, opts) => call(opts, 'vcard.set', { jid, vcard: xml }));
  verb(program.command('offline-count <jid>').description('count the offline messages stored for an account')).action((jid, opts) => call(opts, 'offline.count', { jid }));
  verb(program.command('archive-query <jid>').description("list an account's archived messages (XEP-0313)").option('--with <jid>', 'only with this JID')
    .option('--start <time>', 'from this time').option('--end <time>', 'until this time').option('--max <n>', 'only the newest n'))
    .action((jid, opts) => call(opts, 'archive.query', { jid, with: opts.with, start: opts.start, end: opts.end, max: opts.max }));
  verb(program.command('stats').description('accounts per host, sessions, s2s streams, uptime, stanza counters')).action((opts) => call(opts, 'stats', {}));
}

/** A CLI command line as the operator runs this CLI, for the hints the server prints ("xmppd user add ..."). */
function cliHint(configFile: string | undefined): (words: string) => string {
  const script = process.argv[1] ?? '';
  const rel = relativePath(process.cwd(), script);
  const shown = rel && !rel.startsWith('..') ? rel : script;
  const base = /(^|\/)xmppd$/.test(script) ? 'xmppd' : `${process.argv0 === 'node' ? 'node' : process.execPath} ${shown}`;
  return (words) => `${base} ${words}${configFile ? ` -c ${configFile}` : ''}`;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`xmppd: ${e.message}${e instanceof OperatorError ? '' : e.stack && process.env.XMPPD_DEBUG ? `\n${e.stack}` : ''}\n`);
    process.exit(1);
  }
}
