// The `xmppd` command line (commander): start the server, check the config, and admin verbs that reach a
// running server over its control socket (user management also works on the data dir when it is stopped).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { buildConfig, loadConfigFile } from '../core/config/load-config.js';
import type { ServerConfig } from '../core/config/types.js';
import { OperatorError } from '../core/errors.js';
import { COMMANDS_BY_NAME } from '../core/admin/commands.js';
import { startServer, VERSION } from '../main.js';
import { callServer, NotRunningError } from './control-client.js';
import { runOffline } from './offline.js';

function configFrom(file: string | undefined): ServerConfig {
  const path = file ?? process.env.XMPPD_CONFIG;
  if (path) return loadConfigFile(path);
  if (existsSync('xmppd.yaml')) return loadConfigFile('xmppd.yaml');
  return buildConfig({}); // embedded default: localhost, ./data, 5222 + 5223
}

async function admin(opts: { config?: string }, cmd: string, args: Record<string, unknown>): Promise<unknown> {
  const config = configFrom(opts.config);
  try {
    return await callServer(config.control_socket, cmd, args);
  } catch (err) {
    if (err instanceof NotRunningError && COMMANDS_BY_NAME.get(cmd)?.offline) return runOffline(config, cmd, args);
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
  if (r && Array.isArray(r.modules)) {
    for (const m of r.modules as Array<Record<string, unknown>>) console.log(`${m.name}\t${m.status}\t${(m.xeps as string[]).join(',')}${m.error ? `\t${m.error}` : ''}`);
    return;
  }
  console.log(JSON.stringify(result, null, 2));
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

  cfg(program.command('start').description('run the server in the foreground')).action(async (opts) => {
    const config = configFrom(opts.config);
    const server = await startServer(config, { processMetrics: true });
    const stop = (signal: string) => {
      server.core.log.info('signal received', { signal });
      void server.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
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

  cfg(program.command('sessions').description('list client sessions')).action(run((opts) => admin(opts, 'sessions.list', {})));
  cfg(program.command('kick <jid>').description('end the sessions of a JID')).action(run((jid, opts) => admin(opts, 'session.kick', { jid })));
  cfg(program.command('s2s').description('list server-to-server streams (direction, peer, auth method, TLS)')).action(run((opts) => admin(opts, 's2s.list', {})));
  cfg(program.command('status').description('show server status')).action(run((opts) => admin(opts, 'status', {})));

  const mod = program.command('module').description('manage modules at runtime');
  cfg(mod.command('list').description('list loaded modules')).action(run((opts) => admin(opts, 'module.list', {})));
  cfg(mod.command('load <name>').description('load a module').option('--options <json>', 'module options as JSON'))
    .action(run((name, opts) => admin(opts, 'module.load', { name, options: parseOptions(opts.options) })));
  cfg(mod.command('unload <name>').description('unload a module')).action(run((name, opts) => admin(opts, 'module.unload', { name })));
  cfg(mod.command('reload <name>').description('reload a module (with new options)').option('--options <json>', 'new options as JSON'))
    .action(run((name, opts) => admin(opts, 'module.reload', { name, options: parseOptions(opts.options) })));
  return program;
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
