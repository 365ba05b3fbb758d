// The `xmppd` command line (commander): start the server, check the config, and admin verbs that reach a
// running server over its control socket (user management also works on the data dir when it is stopped).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { defaultConfig, KNOWN_KEYS, loadConfigFile } from '../core/config/load-config.js';
import { ignoredEnv } from '../core/config/env-overrides.js';
import type { ServerConfig } from '../core/config/types.js';
import { OperatorError } from '../core/errors.js';
import { COMMANDS_BY_NAME } from '../core/admin/commands.js';
import { startServer, VERSION } from '../main.js';
import { callServer, NotRunningError } from './control-client.js';
import { runOffline } from './offline.js';
import { formatClusterStatus } from './cluster-status-format.js';
import { isWorker, runPrimary } from './workers.js';
import { checkWorkersFlag, workerConfig } from '../core/config/workers.js';
import { Logger } from '../core/log.js';
import { checkModules } from '../core/config/reload/check-modules.js';
import { formatReport, type ReloadReport } from '../core/config/reload/reload-report.js';
import { BUNDLED_MODULES } from '../../modules/index.js';

function configFrom(file: string | undefined): ServerConfig {
  // XMPPD_* variables override the file (env-overrides.ts); one that sets nothing is most likely a typo.
  for (const name of ignoredEnv(KNOWN_KEYS)) process.stderr.write(`xmppd: warning: the environment variable ${name} is not a configuration option (ignored)\n`);
  const path = file ?? process.env.XMPPD_CONFIG;
  if (path) return loadConfigFile(path);
  if (existsSync('xmppd.yaml')) return loadConfigFile('xmppd.yaml');
  return defaultConfig(); // embedded default: localhost, ./data, 5222 + 5223
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
    if (err instanceof NotRunningError && COMMANDS_BY_NAME.get(cmd)?.offline) return runOffline(config, cmd, args, BUNDLED_MODULES);
    throw err;
  }
}

function print(result: unknown): void {
  const r = result as Record<string, unknown>;
  if (r && Array.isArray(r.users)) return void console.log((r.users as string[]).join('\n'));
  if (r && Array.isArray(r.sessions)) {
    const rows = r.sessions as Array<Record<string, unknown>>;
    if (!rows.length) return void console.log('no sessions');
    for (const s of rows) console.log(`${s.jid}\t${s.ip}\t${s.secure ? 'tls' : 'plain'}\t${s.mechanism}\t${s.available ? 'available' : 'unavailable'}\t${s.since}`);
    return;
  }
  if (r && Array.isArray(r.s2s)) {
    const rows = r.s2s as Array<Record<string, any>>;
    if (!rows.length) return void console.log(r.enabled === false ? 'federation is disabled (s2s.enabled: false)' : 'no s2s streams');
    console.log(['direction', 'local', 'remote', 'state', 'auth', 'tls', 'cipher', 'queued', 'address', 'since'].join('\t'));
    for (const s of rows) {
      console.log([s.direction, s.local, s.remote || '-', s.state, s.auth || '-', s.tls?.version || 'plain', s.tls?.cipher || '-', s.queued, s.ip || '-', s.since].join('\t'));
    }
    return;
  }
  if (r && Array.isArray(r.commands)) {
    for (const c of r.commands as Array<{ name: string; args: string[]; description: string; module?: string }>) {
      console.log(`${c.name}\t${c.args.join(' ') || '-'}\t${c.description}${c.module ? ` (module ${c.module})` : ''}`);
    }
    return;
  }
  if (r && Array.isArray(r.modules)) {
    for (const m of r.modules as Array<Record<string, unknown>>) console.log(`${m.name}\t${m.status}\t${(m.xeps as string[]).join(',')}${m.error ? `\t${m.error}` : ''}`);
    return;
  }
  console.log(JSON.stringify(result, null, 2));
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
  const run = (fn: (...a: any[]) => Promise<unknown>) => async (...a: any[]) => {
    const result = await fn(...a);
    if (result !== undefined) print(result);
  };

  cfg(program.command('start').description('run the server in the foreground')
    .option('--workers <n>', 'node processes sharing the listening ports, one per core (needs the cluster section; overrides `workers`)'))
    .action(async (opts) => {
    const config = configFrom(opts.config);
    if (opts.workers !== undefined) {
      config.workers = Number(opts.workers);
      checkWorkersFlag(config.workers, config.cluster);
    }
    if (config.workers > 1 && !isWorker()) return runPrimary(config, config.workers, new Logger(config.log_level).child({ part: 'primary' }));
    // Several nodes' logs end up side by side (workers, a log collector): each line names its node.
    const log = new Logger(config.log_level, config.cluster ? { node: config.cluster.node } : {});
    const server = await startServer(config, { processMetrics: true, log });
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

  cfg(program.command('check-config').description('validate the configuration and exit')).action((opts) => {
    const config = configFrom(opts.config);
    console.log(`${config.path || 'embedded default'}: OK (hosts: ${config.hosts.join(', ')}; modules: ${Object.keys(config.modules).join(', ')})`);
  });

  const user = program.command('user').description('manage accounts');
  cfg(user.command('add <jid> <password>').description('create an account')).action(run((jid, password, opts) => admin(opts, 'user.add', { jid, password })));
  cfg(user.command('del <jid>').description('delete an account')).action(run((jid, opts) => admin(opts, 'user.del', { jid })));
  cfg(user.command('passwd <jid> <password>').description('set a new password')).action(run((jid, password, opts) => admin(opts, 'user.passwd', { jid, password })));
  cfg(user.command('list [host]').description('list accounts')).action(run((host, opts) => admin(opts, 'user.list', { host })));
  cfg(user.command('ban <jid> [reason]').description('end an account\'s sessions and refuse its logins')).action(run((jid, reason, opts) => admin(opts, 'user.ban', { jid, reason })));
  cfg(user.command('unban <jid>').description('lift a ban')).action(run((jid, opts) => admin(opts, 'user.unban', { jid })));

  cfg(program.command('sessions').description('list client sessions')).action(run((opts) => admin(opts, 'sessions.list', {})));
  cfg(program.command('kick <jid>').description('end the sessions of a JID')).action(run((jid, opts) => admin(opts, 'session.kick', { jid })));
  cfg(program.command('s2s').description('list server-to-server streams (direction, peer, auth method, TLS)')).action(run((opts) => admin(opts, 's2s.list', {})));
  cfg(program.command('status').description('show server status')).action(run((opts) => admin(opts, 'status', {})));
  // Modules add commands at runtime (ctx.command): the running server lists them and runs any by name.
  cfg(program.command('commands').description("list the running server's admin commands, those of its loaded modules included"))
    .action(run((opts) => admin(opts, 'commands.list', {})));
  cfg(program.command('run <command> [args...]').description('run an admin command by name, arguments as name=value (see "xmppd commands")'))
    .action(run((command, args: string[], opts) => admin(opts, command, namedArgs(args))));

  const cluster = program.command('cluster').description('the cluster this node belongs to (config `cluster`)');
  cfg(cluster.command('status').description('nodes, replication lag, last applied, stream leader, consumers').option('--json', 'print the result as JSON'))
    .action(async (opts) => {
      const status = (await admin(opts, 'cluster.status', {})) as Record<string, unknown>;
      console.log(opts.json ? JSON.stringify(status, null, 2) : formatClusterStatus(status));
    });

  const conf = program.command('config').description('check the configuration file, or make the running server reload it');
  cfg(conf.command('check').description('validate the configuration file and its module options (and show what a reload would change, if the server runs)'))
    .action(async (opts) => {
      const config = configFrom(opts.config);
      const problems = await checkModules(config, BUNDLED_MODULES);
      if (problems.length) throw new OperatorError('XMPPD_ERR_CONFIG', problems.map((p) => `${config.path || '<config>'}: ${p}`).join('\n'));
      console.log(`${config.path || 'embedded default'}: OK (hosts: ${config.hosts.join(', ')}; modules: ${Object.keys(config.modules).join(', ')})`);
      if (!config.path) return;
      const report = await callServer(config.control_socket, 'config.check', {}).catch((err) => {
        if (err instanceof NotRunningError) return undefined;
        throw err;
      });
      if (report) console.log(`running server: ${formatReport(report as ReloadReport)}`);
    });
  cfg(conf.command('reload').description('make the running server re-read its configuration file: applies all of it or none, lists what needs a restart'))
    .action(async (opts) => console.log(formatReport((await admin(opts, 'config.reload', {})) as ReloadReport)));

  const mod = program.command('module').description('manage modules at runtime');
  cfg(mod.command('list').description('list loaded modules')).action(run((opts) => admin(opts, 'module.list', {})));
  cfg(mod.command('load <name>').description('load a module').option('--options <json>', 'module options as JSON'))
    .action(run((name, opts) => admin(opts, 'module.load', { name, options: parseOptions(opts.options) })));
  cfg(mod.command('unload <name>').description('unload a module')).action(run((name, opts) => admin(opts, 'module.unload', { name })));
  cfg(mod.command('reload <name>').description('reload a module (with new options)').option('--options <json>', 'new options as JSON'))
    .action(run((name, opts) => admin(opts, 'module.reload', { name, options: parseOptions(opts.options) })));
  addDataVerbs(program, cfg, run);
  return program;
}

/**
 * export/import/backup/restore (file paths made absolute: a running server does the work) and the chat
 * operations. Progress lines go to stderr when the work runs here (server stopped); a running server logs them.
 */
function addDataVerbs(program: Command, cfg: (c: Command) => Command, run: (fn: (...a: any[]) => Promise<unknown>) => (...a: any[]) => Promise<void>): void {
  const LONG = 24 * 3600_000; // big imports take long; the CLI waits for the server's answer
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const data = (cmd: string, file: string, opts: { config?: string }, extra: Record<string, unknown> = {}) =>
    admin(opts, cmd, { file: resolvePath(file), ...extra, progress }, LONG);
  cfg(program.command('export <file>').description('export accounts, rosters, vCards, private storage and offline messages as XEP-0227 XML (.gz compresses)')
    .option('--host <host>', 'only this virtual host')).action(run((file, opts) => data('data.export', file, opts, opts.host ? { host: opts.host } : {})));
  cfg(program.command('import <file>').description('import a XEP-0227 file or directory (xmppd export, ejabberdctl export_piefxis, prosody-migrator)'))
    .action(run((file, opts) => data('data.import', file, opts)));
  cfg(program.command('backup <file>').description('write a consistent copy of every table (JSON lines; .gz compresses)')).action(run((file, opts) => data('backup', file, opts)));
  cfg(program.command('restore <file>').description('replace the contents of every table with a backup')
    .option('--force', 'replace the data of a running server, or data newer than the backup (what is dropped is reported)'))
    .action(run((file, opts) => data('restore', file, opts, opts.force ? { force: true } : {})));

  const send = program.command('send').description('send stanzas as a local address');
  cfg(send.command('message <from> <to> <body>').description('send a message').option('--type <type>', 'chat (default), normal, headline or groupchat'))
    .action(run((from, to, body, opts) => admin(opts, 'send.message', { from, to, body, type: opts.type })));
  cfg(send.command('stanza <from> <to> <xml>').description('send a <message/>, <presence/> or <iq/>'))
    .action(run((from, to, stanza, opts) => admin(opts, 'send.stanza', { from, to, stanza })));
  const roster = program.command('roster').description("read and change an account's roster (pushed to its clients)");
  cfg(roster.command('get <jid>').description('list the roster')).action(run((jid, opts) => admin(opts, 'roster.get', { jid })));
  cfg(roster.command('add <jid> <contact>').description('add or change an item').option('--name <name>', 'display name')
    .option('--groups <groups>', 'comma-separated groups').option('--subscription <sub>', 'none, to, from or both'))
    .action(run((jid, contact, opts) => admin(opts, 'roster.add', { jid, contact, name: opts.name, groups: opts.groups, subscription: opts.subscription })));
  cfg(roster.command('remove <jid> <contact>').description('remove an item')).action(run((jid, contact, opts) => admin(opts, 'roster.remove', { jid, contact })));
  const vcard = program.command('vcard').description("read and replace an account's vCard");
  cfg(vcard.command('get <jid>').description('print the vCard XML')).action(async (jid, opts) => console.log(((await admin(opts, 'vcard.get', { jid })) as { vcard: string }).vcard));
  cfg(vcard.command('set <jid> <xml>').description("replace the vCard (<vCard xmlns='vcard-temp'>…</vCard>)")).action(run((jid, xml, opts) => admin(opts, 'vcard.set', { jid, vcard: xml })));
  cfg(program.command('offline-count <jid>').description('count the offline messages stored for an account')).action(run((jid, opts) => admin(opts, 'offline.count', { jid })));
  cfg(program.command('archive-query <jid>').description("list an account's archived messages (XEP-0313)").option('--with <jid>', 'only with this JID')
    .option('--start <time>', 'from this time').option('--end <time>', 'until this time').option('--max <n>', 'only the newest n'))
    .action(run((jid, opts) => admin(opts, 'archive.query', { jid, with: opts.with, start: opts.start, end: opts.end, max: opts.max })));
  cfg(program.command('stats').description('accounts per host, sessions, s2s streams, uptime, stanza counters')).action(run((opts) => admin(opts, 'stats', {})));
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
