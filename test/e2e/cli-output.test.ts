// The CLI for people and for scripts (docs/cli.md), against a real server process: every admin verb as a
// table/text and with --json (each JSON result checked against its schema below), passwords prompted on a
// pseudo-terminal (util-linux `script`), read from stdin, and held to the registration policy; restore over a
// running server refused; non-XML imports; and the log lines an administrator looks for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { RawClient } from '../support/raw-client.js';
import { buildCli } from '../../src/cli/main.js';
import { makeCert, writeCertbot } from '../support/test-certs.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;

// ---- a small schema checker: every field typed, no field the schema does not list -------------------------------
type Schema = 'string' | 'number' | 'boolean' | 'null' | 'any' | 'object' | { or: Schema[] } | [Schema] | { [key: string]: Schema };
const opt = (k: string) => `${k}?`;
const or = (...s: Schema[]): Schema => ({ or: s });

function check(v: unknown, s: Schema, at = '$'): string[] {
  if (s === 'any') return [];
  if (typeof s === 'string') {
    if (s === 'null') return v === null ? [] : [`${at}: expected null`];
    if (s === 'object') return v !== null && typeof v === 'object' && !Array.isArray(v) ? [] : [`${at}: expected an object`];
    return typeof v === s ? [] : [`${at}: expected ${s}, got ${JSON.stringify(v)}`];
  }
  if (Array.isArray(s)) {
    if (!Array.isArray(v)) return [`${at}: expected a list`];
    return v.flatMap((x, i) => check(x, s[0], `${at}[${i}]`));
  }
  if ('or' in s && Array.isArray((s as { or: unknown }).or)) {
    const alts = (s as { or: Schema[] }).or;
    return alts.some((a) => check(v, a, at).length === 0) ? [] : [`${at}: ${JSON.stringify(v)} matches none of the alternatives`];
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [`${at}: expected an object`];
  const obj = v as Record<string, unknown>;
  const fields = s as Record<string, Schema>;
  const errs: string[] = [];
  const known = new Set<string>();
  for (const [k, fs] of Object.entries(fields)) {
    if (k === '*') continue;
    const optional = k.endsWith('?');
    const name = optional ? k.slice(0, -1) : k;
    known.add(name);
    if (!(name in obj)) {
      if (!optional) errs.push(`${at}.${name}: missing`);
      continue;
    }
    errs.push(...check(obj[name], fs, `${at}.${name}`));
  }
  for (const k of Object.keys(obj)) {
    if (known.has(k)) continue;
    if (fields['*']) errs.push(...check(obj[k], fields['*'], `${at}.${k}`));
    else errs.push(`${at}.${k}: not in the schema`);
  }
  return errs;
}

const STR_MAP: Schema = { '*': 'number' };
const SESSION: Schema = {
  jid: 'string', show: 'string', status: 'string', priority: 'number', ip: 'string', tls: 'boolean', tls_version: or('string', 'null'),
  mechanism: 'string', client: 'string', client_source: 'string', stream_management: 'string', detached: 'boolean', since: 'string', idle_s: 'number',
};
const MODULE: Schema = { name: 'string', status: 'string', hosts: ['string'], xeps: ['string'], [opt('error')]: 'string', options: 'object', [opt('host_options')]: 'object' };
const ROSTER_ITEM: Schema = { jid: 'string', [opt('name')]: 'string', groups: ['string'], subscription: 'string', [opt('ask')]: 'string', [opt('approved')]: 'boolean', [opt('pending_in')]: 'boolean' };
const ROSTER: Schema = { jid: 'string', items: [ROSTER_ITEM], pending: ['string'] };

/** The JSON schema of every admin verb (docs/cli.md), keyed by the verb as typed. */
const SCHEMAS: Record<string, Schema> = {
  'user add': { created: 'string' },
  'user passwd': { changed: 'string' },
  'user del': { deleted: 'string', [opt('warnings')]: ['string'] },
  'user list': { users: ['string'] },
  'user list --banned': { banned: [{ jid: 'string', reason: 'string', at: 'string' }] },
  'user ban': { banned: 'string' },
  'user unban': { unbanned: 'string' },
  sessions: { sessions: [SESSION] },
  kick: { kicked: ['string'] },
  s2s: { s2s: ['any'], enabled: 'boolean' },
  status: {
    version: 'string', hosts: ['string'], sessions: 'number', uptime_s: 'number', rss_mib: 'number', pid: 'number',
    listeners: [{ type: 'string', ip: 'string', port: 'number' }], connections: 'number', s2s_streams: 'number',
  },
  commands: { commands: [{ name: 'string', description: 'string', args: ['string'], [opt('module')]: 'string' }] },
  run: ROSTER, // `run roster.get jid=...`
  'config reload': {
    file: 'string', dry_run: 'boolean', ok: 'boolean', applied: ['string'], restart_required: ['any'],
    modules: { started: ['string'], reloaded: ['string'], stopped: ['string'] }, errors: ['string'],
  },
  'module list': { modules: [MODULE] },
  'module load': MODULE,
  'module reload': MODULE,
  'module unload': { unloaded: 'string' },
  export: { file: 'string', hosts: [{ host: 'string', users: 'number' }], users: 'number', warnings: ['string'], '*': 'number' },
  import: {
    files: ['string'], hosts: STR_MAP, unknownHosts: STR_MAP, users: 'number', created: 'number', updated: 'number', plainPasswords: 'number',
    scramCredentials: 'number', noCredentials: ['string'], sha1Only: 'number', skipped: [{ jid: 'string', reason: 'string' }], overLimit: STR_MAP,
    ignored: STR_MAP, warnings: ['string'], '*': 'number',
  },
  backup: { file: 'string', rows: 'number', tables: STR_MAP, lastApplied: 'number' },
  restore: {
    file: 'string', rows: 'number', tables: STR_MAP, cleared: ['string'], created: 'string', warnings: ['string'], method: 'string',
    replaced: {
      version: 'number', created: 'string', [opt('hosts')]: ['string'], backupLastApplied: 'number', storeLastApplied: 'number',
      newerTransactions: 'number', rows: 'number', tables: 'object', dropped: 'number', changed: 'number',
    },
  },
  'send message': { sent: 'boolean', id: 'string', from: 'string', to: 'string' },
  'send stanza': { sent: 'boolean', name: 'string', [opt('id')]: 'string', from: 'string', to: 'string' },
  'roster get': ROSTER,
  'roster add': { [opt('added')]: 'string', [opt('updated')]: 'string', jid: 'string', item: ROSTER_ITEM },
  'roster remove': { removed: 'string', jid: 'string' },
  'vcard get': { jid: 'string', vcard: 'string' },
  'vcard set': { set: 'string' },
  'offline-count': { jid: 'string', count: 'number' },
  'cert import': {
    imported: [{ host: 'string', from: 'string', layout: 'string', cert: 'string', key: 'string', sha256: 'string', sha1: 'string', not_after: 'string' }],
    not_found: [{ host: 'string' }], skipped: [{ host: 'string', reason: 'string' }],
  },
  'archive-query': { jid: 'string', count: 'number', messages: [{ id: 'string', stamp: 'string', with: 'string', xml: 'string' }] },
  stats: {
    accounts: { '*': or('number', 'null') }, sessions: { total: 'number', by_host: STR_MAP }, s2s_streams: 'number', uptime_s: 'number',
    stanzas: { in: STR_MAP, out: 'number', routed: 'number', dropped: STR_MAP }, auth: { success: 'number', failure: 'number' }, connections: STR_MAP,
  },
};
/** Verbs that are not admin commands with a result (or that another part of the CLI owns). */
const NOT_ADMIN_VERBS = new Set(['start', 'check-config', 'config check', 'cluster status']);
const checked = new Set<string>();

// ---- running the CLI ----------------------------------------------------------------------------------------
let dir: string;
let cfg: string;
let server: ChildProcess | null = null;
let serverLog = '';
let c2sPort = 0;

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args, '-c', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.end(input ?? '');
    p.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Run a verb with --json, check its schema, and return the parsed result. */
async function json(verb: string, args: string[], input?: string): Promise<any> {
  const r = await cli([...args, '--json'], input);
  assert.equal(r.code, 0, `${args.join(' ')} --json: ${r.stderr}`);
  const v = JSON.parse(r.stdout);
  const schema = SCHEMAS[verb];
  assert.ok(schema, `no schema for ${verb}`);
  assert.deepEqual(check(v, schema), [], `${verb}: ${r.stdout}`);
  checked.add(verb);
  return v;
}

/** Run a verb for a person: exit 0, no JSON on stdout, and the text matches. */
async function human(args: string[], expected: RegExp, input?: string): Promise<string> {
  const r = await cli(args, input);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /^\s*[{[]/, `${args.join(' ')} printed JSON without --json`);
  assert.match(r.stdout, expected, `${args.join(' ')}:\n${r.stdout}`);
  return r.stdout;
}

/** The server's log as records (it logs JSON lines when stderr is not a terminal). */
const records = (): Array<Record<string, any>> => serverLog.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const logged = (msg: string | RegExp, pred: (r: Record<string, any>) => boolean = () => true) =>
  records().filter((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(r.msg)) && pred(r));

async function waitFor(what: () => boolean, label: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; log:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Type into a pseudo-terminal (util-linux `script`) once the program's prompts appear; what the terminal shows. */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number; screen: string }> {
  const command = [process.execPath, BIN, ...args, '-c', cfg].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const p = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let asked = 0;
    p.stdout.on('data', (d) => {
      screen += d;
      // Answer each prompt only once it is on the screen: the terminal is in raw mode by then, so nothing echoes.
      const prompts = (screen.match(/password[^:\n]*: /gi) ?? []).length;
      while (asked < prompts && asked < answers.length) p.stdin.write(`${answers[asked++]}\r`);
    });
    p.stderr.on('data', (d) => (screen += d));
    p.once('close', (code) => resolve({ code: code ?? 1, screen }));
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-cli-out-'));
  cfg = join(dir, 'xmppd.yaml');
  await writeFile(cfg, ['hosts: [localhost]', 'data_dir: ./data', 'log_level: info', 'listen:', '  - { port: 0, ip: 127.0.0.1, type: c2s }', ''].join('\n'));
});
after(async () => {
  server?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('passwords: from stdin, refused under the registration policy, never "-"; accounts with the server stopped', async () => {
  assert.equal((await json('user add', ['user', 'add', 'alice@localhost', '--password-stdin'], 'alice-password\n')).created, 'alice@localhost');
  await human(['user', 'add', 'bob@localhost', 'bob-password'], /^created bob@localhost$/m);

  const short = await cli(['user', 'add', 'carol@localhost', 'short']);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /^xmppd: the password is too weak: use at least 8 characters$/m);
  const shortStdin = await cli(['user', 'add', 'carol@localhost', '--password-stdin'], 'seven77\n');
  assert.match(shortStdin.stderr, /at least 8 characters/);
  // "-" reads standard input: an empty one gives no password at all, never the password "-".
  const dash = await cli(['user', 'add', 'carol@localhost', '-']);
  assert.equal(dash.code, 1);
  assert.match(dash.stderr, /a non-empty password is required/);
  const dashRun = await cli(['run', 'user.add', 'jid=carol@localhost', 'password=-']);
  assert.match(dashRun.stderr, /"-" is not a password/);
  const none = await cli(['user', 'add', 'carol@localhost']); // stdin is not a terminal
  assert.match(none.stderr, /no password given: run on a terminal to be prompted for it, or pass --password-stdin/);
  const both = await cli(['user', 'add', 'carol@localhost', 'carol-password', '--password-stdin'], 'x');
  assert.match(both.stderr, /either as an argument or with --password-stdin/);
  assert.deepEqual((await json('user list', ['user', 'list'])).users, ['alice@localhost', 'bob@localhost']);

  await human(['user', 'passwd', 'bob@localhost', '--password-stdin'], /^password changed for bob@localhost$/m, 'bob-password-2\n');
  assert.equal((await json('user passwd', ['user', 'passwd', 'bob@localhost', '--password-stdin'], 'bob-password-3\n')).changed, 'bob@localhost');
  assert.match((await cli(['user', 'passwd', 'bob@localhost', 'tiny'])).stderr, /too weak/);
});

test('a password typed on a terminal: asked twice, never echoed; a mismatch or a short one changes nothing', { skip: !HAS_SCRIPT && !process.env.CI && 'util-linux script is not installed' }, async () => {
  const ok = await onTerminal(['user', 'add', 'dave@localhost'], ['dave-password', 'dave-password']);
  assert.equal(ok.code, 0, ok.screen);
  assert.match(ok.screen, /New password for dave@localhost: [\s\S]*Retype the password: /);
  assert.match(ok.screen, /created dave@localhost/);
  assert.doesNotMatch(ok.screen, /dave-password/, 'the password is not echoed');

  const mismatch = await onTerminal(['user', 'add', 'erin@localhost'], ['erin-password', 'erin-passw0rd']);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.screen, /the two passwords do not match; nothing was changed/);
  const tooShort = await onTerminal(['user', 'passwd', 'dave@localhost'], ['short', 'short']);
  assert.equal(tooShort.code, 1);
  assert.match(tooShort.screen, /too weak: use at least 8 characters/);
  assert.deepEqual((await json('user list', ['user', 'list'])).users, ['alice@localhost', 'bob@localhost', 'dave@localhost']);
  // On a terminal the table's header is bold.
  const list = await onTerminal(['user', 'list'], []);
  assert.match(list.screen, /\x1b\[1mACCOUNT\x1b\[0m\r?\nalice@localhost\r?\nbob@localhost\r?\ndave@localhost/);
});

let desk: RawClient;
let phone: RawClient;
let lastBackup = '';

test('running server: status, sessions (show, status, TLS, client, stream management, idle), failed and banned logins, bans', async () => {
  server = spawn(process.execPath, [BIN, 'start', '-c', cfg, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (d) => (serverLog += d));
  await waitFor(() => /no accounts yet|listening on/.test(serverLog) && /xmppd started/.test(serverLog), 'the server to start');
  await waitFor(() => logged(/listening on/).length > 0, 'the startup notes');
  assert.equal(logged(/first start/).length, 0, 'the data dir existed (accounts were added with the server stopped)');
  assert.equal(logged(/the data lives in/)[0]!.data_dir, join(dir, 'data'));
  assert.equal(logged(/no accounts yet/).length, 0, 'there are accounts: no hint');

  // status
  const status = await json('status', ['status']);
  c2sPort = status.listeners.find((l: { type: string }) => l.type === 'c2s').port;
  await human(['status'], /^version: +\S+\nhosts: +localhost\nsessions: +0\n[\s\S]*^TYPE +ADDRESS +PORT\nc2s +127\.0\.0\.1 +\d+$/m);

  // sessions: dnd with a status, a caps node, stream management; another session without presence
  desk = (await RawClient.login(c2sPort, 'alice', 'alice-password', 'desk', { presence: false })).c;
  desk.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  await desk.expect(/<enabled [^>]*resume=["']true["']/, 20_000);
  desk.send("<presence><show>dnd</show><status>in a meeting</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://client.example/app' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>");
  // The caps module asks the client for its disco#info; its identity names the client.
  const query = (await desk.expect(/<iq [^>]*>\s*<query [^>]*disco#info[\s\S]*?<\/iq>/, 20_000))[0];
  const attr = (name: string) => new RegExp(`\\s${name}=["']([^"']+)["']`).exec(query.slice(0, query.indexOf('>')))![1]!;
  desk.send(`<iq type='result' id='${attr('id')}' to='${attr('from')}'><query xmlns='http://jabber.org/protocol/disco#info' node='https://client.example/app#QgayPKawpkPSDYmwT/WM94uAlu0='>` +
    "<identity category='client' type='pc' name='Test Client'/><feature var='http://jabber.org/protocol/disco#info'/></query></iq>");
  phone = (await RawClient.login(c2sPort, 'alice', 'alice-password', 'phone', { presence: false })).c;
  let rows: any[] = [];
  for (let i = 0; i < 100; i++) {
    rows = (await json('sessions', ['sessions'])).sessions;
    const row = rows.find((s) => s.jid === 'alice@localhost/desk');
    if (row?.show === 'dnd' && row.client_source === 'identity') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const d = rows.find((s) => s.jid === 'alice@localhost/desk');
  assert.deepEqual(
    { show: d.show, status: d.status, ip: d.ip, tls: d.tls, client: d.client, client_source: d.client_source, sm: d.stream_management, mech: d.mechanism },
    { show: 'dnd', status: 'in a meeting', ip: '127.0.0.1', tls: true, client: 'Test Client', client_source: 'identity', sm: 'resumable', mech: 'SCRAM-SHA-256' },
  );
  assert.match(d.tls_version, /^TLSv1\.[23]$/);
  assert.ok(Number.isInteger(d.idle_s) && d.idle_s >= 0);
  const p = rows.find((s) => s.jid === 'alice@localhost/phone');
  assert.deepEqual({ show: p.show, client: p.client, client_source: p.client_source, sm: p.stream_management }, { show: 'unavailable', client: 'phone', client_source: 'resource', sm: 'off' });
  const table = await human(['sessions'], /^JID +SHOW +STATUS +IP +TLS +AUTH +CLIENT +SM +IDLE +SINCE$/m);
  assert.match(table, /^alice@localhost\/desk +dnd +in a meeting +127\.0\.0\.1 +TLSv1\.[23] +SCRAM-SHA-256 +Test Client +resumable +\d+s +\S+$/m);
  assert.match(table, /^alice@localhost\/phone +unavailable +- +127\.0\.0\.1 +TLSv1\.[23] +SCRAM-SHA-256 +phone +off /m);

  // failed logins: the claimed account, the mechanism, the address and the reason
  const bad = await RawClient.secured(c2sPort);
  assert.match(await bad.authPlain('alice', 'not-her-password'), /<failure/);
  bad.close();
  await waitFor(() => logged('authentication failed', (r) => r.account === 'alice@localhost').length > 0, 'the failed login line');
  const failed = logged('authentication failed', (r) => r.account === 'alice@localhost')[0]!;
  assert.deepEqual({ mechanism: failed.mechanism, ip: failed.ip }, { mechanism: 'PLAIN', ip: '127.0.0.1' });
  assert.equal(typeof failed.reason, 'string');
  assert.ok(failed.reason.length > 0);

  // ban: the account's attempt is logged; list --banned in both forms; unban
  await human(['user', 'ban', 'bob@localhost', 'spam from this account'], /^banned bob@localhost$/m);
  const bobTry = await RawClient.secured(c2sPort);
  assert.match(await bobTry.authPlain('bob', 'bob-password-3'), /account-disabled/);
  bobTry.close();
  await waitFor(() => logged('authentication failed', (r) => r.account === 'bob@localhost').length > 0, 'the banned login line');
  const banned = logged('authentication failed', (r) => r.account === 'bob@localhost')[0]!;
  assert.deepEqual({ reason: banned.reason, condition: banned.condition, mechanism: banned.mechanism, ip: banned.ip }, { reason: 'account disabled', condition: 'account-disabled', mechanism: 'PLAIN', ip: '127.0.0.1' });
  assert.equal(logged('account banned', (r) => r.jid === 'bob@localhost' && r.reason === 'spam from this account').length, 1);
  const bans = await json('user list --banned', ['user', 'list', '--banned']);
  assert.deepEqual(bans.banned.map((b: { jid: string; reason: string }) => [b.jid, b.reason]), [['bob@localhost', 'spam from this account']]);
  await human(['user', 'list', '--banned'], /^ACCOUNT +BANNED AT +REASON\nbob@localhost +\S+ +spam from this account$/m);
  await human(['user', 'list'], /^ACCOUNT\nalice@localhost\nbob@localhost\ndave@localhost\n$/);
  assert.equal((await json('user unban', ['user', 'unban', 'bob@localhost'])).unbanned, 'bob@localhost');
  assert.equal((await json('user ban', ['user', 'ban', 'bob@localhost'])).banned, 'bob@localhost');
  await human(['user', 'unban', 'bob@localhost'], /^unbanned bob@localhost$/m);
  assert.match((await cli(['user', 'list', '--banned'])).stdout, /^no banned accounts$/m);
});

test('running server: s2s, commands, run, modules, config reload, chat verbs', async () => {
  // s2s, commands, run
  assert.equal((await json('s2s', ['s2s'])).enabled, false);
  await human(['s2s'], /^federation is disabled \(s2s\.enabled: false\)$/m);
  const cmds = await json('commands', ['commands']);
  assert.ok(cmds.commands.some((c: { name: string; module?: string }) => c.name === 'roster.get' && c.module === 'roster'));
  await human(['commands'], /^COMMAND +ARGUMENTS +MODULE +DESCRIPTION\n[\s\S]*^user\.add +jid password +- +Create an account$[\s\S]*^roster\.get +jid +roster +List an account's roster$/m);
  assert.deepEqual(await json('run', ['run', 'roster.get', 'jid=alice@localhost']), { jid: 'alice@localhost', items: [], pending: [] });
  await human(['run', 'roster.get', 'jid=alice@localhost'], /^the roster of alice@localhost is empty$/m);

  // modules
  assert.ok((await json('module list', ['module', 'list'])).modules.some((m: { name: string }) => m.name === 'ping'));
  await human(['module', 'list'], /^MODULE +STATUS +HOSTS +XEPS +ERROR\n[\s\S]*^ping +running +localhost +XEP-0199 +-$/m);
  await human(['module', 'unload', 'ping'], /^unloaded ping$/m);
  assert.equal((await json('module load', ['module', 'load', 'ping'])).status, 'running');
  assert.equal((await json('module unload', ['module', 'unload', 'time'])).unloaded, 'time');
  await human(['module', 'load', 'time'], /^loaded time \(running\) on localhost$/m);
  assert.equal((await json('module reload', ['module', 'reload', 'version', '--options', '{"show_os": true}'])).options.show_os, true);
  await human(['module', 'reload', 'version'], /^reloaded version \(running\) on localhost$/m);

  // config reload (the file did not change)
  assert.equal((await json('config reload', ['config', 'reload'])).ok, true);
  await human(['config', 'reload'], /no changes/);

  // chat verbs
  await human(['user', 'add', 'erin@localhost', 'erin-password'], /^created erin@localhost$/m);
  assert.equal((await json('send message', ['send', 'message', 'alice@localhost', 'erin@localhost', 'hello erin'])).sent, true);
  await human(['send', 'message', 'alice@localhost', 'erin@localhost', 'hello again'], /^sent message \S+ from alice@localhost to erin@localhost$/m);
  assert.equal((await json('send stanza', ['send', 'stanza', 'alice@localhost', 'erin@localhost', '<message><body>x</body></message>'])).name, 'message');
  await human(['send', 'stanza', 'alice@localhost', 'localhost', "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>"], /^sent <iq\/> \S+ from alice@localhost to localhost$/m);
  assert.equal((await json('offline-count', ['offline-count', 'erin@localhost'])).count, 3);
  await human(['offline-count', 'erin@localhost'], /^3 offline messages for erin@localhost$/m);
  const archive = await json('archive-query', ['archive-query', 'alice@localhost', '--max', '1']);
  assert.ok(archive.count >= 2 && archive.messages.length === 1, JSON.stringify(archive));
  await human(['archive-query', 'alice@localhost'], /^\d+ archived messages for alice@localhost\nTIME +WITH +ID +STANZA\n/m);
  assert.equal((await json('roster add', ['roster', 'add', 'alice@localhost', 'erin@localhost', '--name', 'Erin', '--groups', 'a,b'])).added, 'erin@localhost');
  await human(['roster', 'add', 'alice@localhost', 'erin@localhost', '--subscription', 'both'], /^updated erin@localhost in the roster of alice@localhost$/m);
  assert.deepEqual((await json('roster get', ['roster', 'get', 'alice@localhost'])).items, [{ jid: 'erin@localhost', name: 'Erin', groups: ['a', 'b'], subscription: 'both' }]);
  await human(['roster', 'get', 'alice@localhost'], /^CONTACT +NAME +GROUPS +SUBSCRIPTION +ASK\nerin@localhost +Erin +a,b +both +-$/m);
  assert.equal((await json('roster remove', ['roster', 'remove', 'alice@localhost', 'erin@localhost'])).removed, 'erin@localhost');
  await human(['roster', 'add', 'alice@localhost', 'bob@localhost'], /^added bob@localhost/m);
  await human(['roster', 'remove', 'alice@localhost', 'bob@localhost'], /^removed bob@localhost from the roster of alice@localhost$/m);
  assert.equal((await json('vcard set', ['vcard', 'set', 'erin@localhost', "<vCard xmlns='vcard-temp'><FN>Erin</FN></vCard>"])).set, 'erin@localhost');
  await human(['vcard', 'set', 'erin@localhost', "<vCard xmlns='vcard-temp'><FN>Erin E.</FN></vCard>"], /^vCard of erin@localhost replaced$/m);
  assert.match((await json('vcard get', ['vcard', 'get', 'erin@localhost'])).vcard, /<FN>Erin E\.<\/FN>/);
  await human(['vcard', 'get', 'erin@localhost'], /^<vCard xmlns="vcard-temp"><FN>Erin E\.<\/FN><\/vCard>$/m);
  const stats = await json('stats', ['stats']);
  assert.deepEqual(stats.accounts, { localhost: 4 });
  await human(['stats'], /^accounts:\n {2}localhost: 4\nsessions:\n {2}total: 2/m);
});

test('running server: kick, export, import (non-XML refused clearly), backup, restore refused unless --force', async () => {
  // kick: the target is logged
  await human(['kick', 'alice@localhost/phone'], /^kicked alice@localhost\/phone$/m);
  await phone.waitClosed(20_000);
  assert.equal(logged('sessions kicked', (r) => r.jid === 'alice@localhost/phone').length, 1);

  // export, import, backup; non-XML imports get a clear error
  const xml = join(dir, 'out.xml');
  assert.equal((await json('export', ['export', xml])).users, 4);
  await human(['export', join(dir, 'out2.xml')], /^exported 4 users to .*out2\.xml\nHOST +USERS\nlocalhost +4$/m);
  assert.equal((await json('import', ['import', xml])).updated, 4);
  await human(['import', xml], /^imported 4 users \(0 created, 4 updated\) from .*out\.xml$/m);
  await writeFile(join(dir, 'data.json'), '{"users": ["alice"]}\n');
  await writeFile(join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0x10]));
  for (const f of ['data.json', 'blob.bin']) {
    const r = await cli(['import', join(dir, f)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${f.replace('.', '\\.')}: this is not a XEP-0227 file: it is not XML`));
    assert.doesNotMatch(r.stderr, /empty/);
  }
  const bak = join(dir, 'backup.jsonl');
  assert.ok((await json('backup', ['backup', bak])).rows > 0);
  await human(['backup', join(dir, 'backup2.jsonl')], /^backup of \d+ rows written to .*backup2\.jsonl \(up to transaction \d+\)\nTABLE +ROWS\naccounts +4$/m);

  // restore over the running server: refused with a summary unless --force
  await human(['user', 'add', 'late@localhost', 'late-password'], /^created late@localhost$/m);
  const refused = await cli(['restore', bak]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the server is running: restore replaces its data and needs force \(--force\): the backup was taken at transaction \d+, the store is at \d+ \([1-9]\d* transactions newer than the backup\); [1-9]\d* rows would be deleted and \d+ changed; rows per table/);
  assert.match((await cli(['user', 'list'])).stdout, /^late@localhost$/m, 'nothing was restored');
  const restored = await json('restore', ['restore', bak, '--force']);
  assert.ok(restored.replaced.dropped >= 1, JSON.stringify(restored.replaced));
  assert.doesNotMatch((await cli(['user', 'list'])).stdout, /late@localhost/);
  await human(['restore', join(dir, 'backup2.jsonl'), '--force'], /^restored \d+ rows from .*backup2\.jsonl \(backup of \S+; transactions\)\nreplaced: \d+ rows deleted, \d+ changed, \d+ transactions newer than the backup dropped\nTABLE +ROWS\naccounts +4$/m);
  lastBackup = bak;
});

test('running server: user del, kick; the log lines of admin commands and connections', async () => {
  const bak = lastBackup;
  // user del, and kick as JSON
  assert.equal((await json('user del', ['user', 'del', 'erin@localhost'])).deleted, 'erin@localhost');
  await human(['user', 'del', 'dave@localhost'], /^deleted dave@localhost$/m);
  assert.deepEqual((await json('kick', ['kick', 'alice@localhost'])).kicked, ['alice@localhost/desk']);
  await desk.waitClosed(20_000);

  // the admin commands' audit lines: the target, never a secret; failures too
  await waitFor(() => logged('connection closed', (r) => r.user === 'alice@localhost/desk').length > 0, 'the disconnect line');
  assert.ok(logged('admin command', (r) => r.cmd === 'user.add' && r.jid === 'late@localhost' && r.origin === 'cli').length === 1);
  assert.ok(logged('admin command', (r) => r.cmd === 'user.ban' && r.jid === 'bob@localhost' && r.reason === 'spam from this account').length === 1);
  assert.ok(logged('admin command', (r) => r.cmd === 'session.kick' && r.jid === 'alice@localhost/phone').length === 1);
  assert.ok(logged('admin command failed', (r) => r.cmd === 'restore' && r.file === bak && /needs force/.test(r.error)).length === 1);
  assert.ok(logged('admin command failed', (r) => r.cmd === 'data.import' && /blob\.bin$/.test(r.file)).length === 1);
  const add = logged('admin command', (r) => r.cmd === 'user.add')[0]!;
  assert.equal('password' in add, false);
  assert.doesNotMatch(serverLog, /late-password|erin-password|not-her-password|alice-password|bob-password/, 'no password in the log');
  assert.doesNotMatch(serverLog, /hello erin|hello again/, 'no message body at info');

  // connections: opened and closed with the reason, the duration and the bytes
  const opened = logged('connection opened');
  assert.ok(opened.length >= 4 && opened.every((r) => r.ip === '127.0.0.1' && r.listener === 'c2s'), JSON.stringify(opened[0]));
  const closed = logged('connection closed', (r) => r.user === 'alice@localhost/desk')[0]!;
  assert.match(closed.reason, /policy-violation: kicked by an administrator/);
  assert.equal(closed.level, 'info');
  assert.ok(typeof closed.duration_s === 'number' && closed.duration_s >= 0);
  assert.ok(closed.bytes_in > 500 && closed.bytes_out > 500, JSON.stringify(closed));
  const failedConn = logged('connection closed', (r) => r.user === undefined);
  assert.ok(failedConn.length >= 2, 'connections that never logged in are logged too');

  // cert import (files only): a certbot directory into the server's certificate directory
  const acme = join(dir, 'letsencrypt');
  const cert = makeCert(['localhost']);
  writeCertbot(acme, 'localhost', cert);
  const imported = await json('cert import', ['cert', 'import', acme]);
  assert.equal(imported.imported[0].host, 'localhost');
  assert.equal(imported.imported[0].sha1, cert.sha1);
  await human(['cert', 'import', acme], /^imported localhost: [\s\S]*SHA-1 +\S+/m);

  server!.kill('SIGTERM');
  await new Promise((r) => server!.once('exit', r));
  server = null;
});

test('every admin verb of the CLI has a JSON schema here, and was checked in both forms', () => {
  const leaves: string[] = [];
  const walk = (c: Command, path: string[]) => {
    if (!c.commands.length) leaves.push(path.join(' '));
    for (const sub of c.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildCli(), []);
  const verbs = leaves.filter((v) => !NOT_ADMIN_VERBS.has(v));
  for (const v of verbs) {
    assert.ok(SCHEMAS[v], `no JSON schema for \`xmppd ${v}\` (docs/cli.md)`);
    assert.ok(checked.has(v), `\`xmppd ${v} --json\` was not run`);
  }
  for (const v of verbs) {
    const c = findCommand(buildCli(), v.split(' '));
    assert.ok(c.options.some((o) => o.long === '--json'), `\`xmppd ${v}\` has no --json`);
  }
});

function findCommand(root: Command, path: string[]): Command {
  let c = root;
  for (const name of path) c = c.commands.find((x) => x.name() === name)!;
  return c;
}

test('the first start: where the data lives, the exact command for the first account (it works), every-interface warning; text log lines', async () => {
  const fresh = join(dir, 'fresh');
  const freshCfg = join(dir, 'fresh.yaml');
  await writeFile(freshCfg, [`hosts: [example.test]`, `data_dir: ${join(fresh, 'data')}`, 'log_level: info', 'listen:', '  - { port: 0, ip: 0.0.0.0, type: c2s }', ''].join('\n'));
  let out = '';
  const p = spawn(process.execPath, [BIN, 'start', '-c', freshCfg, '--log-format', 'text'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stderr!.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 20_000;
    while (!/no accounts yet/.test(out)) {
      if (Date.now() > deadline || p.exitCode !== null) throw new Error(`no first-start hint: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  first start: the data lives in ${join(fresh, 'data').replace(/[/.]/g, '\\$&')}  part=startup`, 'm'));
    assert.match(out, /^\S+ WARN  c2s listens on every network interface \(c2s 0\.0\.0\.0:\d+\): clients on any network this host is on can connect; set listen\[\]\.ip to restrict it/m);
    assert.match(out, /^\S+ INFO  listening on c2s 0\.0\.0\.0:\d+/m);
    assert.doesNotMatch(out, /^\{/m, 'text lines, not JSON');
    assert.doesNotMatch(out, /\x1b\[/, 'no colours when stderr is not a terminal');
    const hint = /no accounts yet: add the first one with: (.+?)  part=startup/.exec(out)![1]!;
    const rel = relative(process.cwd(), BIN);
    assert.equal(hint, `${process.execPath} ${rel.startsWith('..') ? BIN : rel} user add admin@example.test -c ${freshCfg}`);
    // The command works as printed (with the password from stdin for the test).
    const [exe, ...words] = hint.split(' ');
    const r = spawnSync(exe!, [...words, '--password-stdin'], { input: 'admin-password\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^created admin@example\.test$/m);
  } finally {
    p.kill('SIGTERM');
    if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
  }
});

test('log lines on a terminal are readable and coloured; JSON lines when not a terminal', { skip: !HAS_SCRIPT && !process.env.CI && 'util-linux script is not installed' }, async () => {
  const LOG = fileURLToPath(new URL('../../src/core/log.js', import.meta.url));
  const code = `const { serverLogger } = await import(${JSON.stringify(LOG)}); serverLogger('info').warn('authentication failed', { account: 'bob@localhost', reason: 'wrong password' });`;
  const onTty = spawnSync('script', ['-qec', `'${process.execPath}' --input-type=module -e "${code.replace(/"/g, '\\"')}"`, '/dev/null'], { encoding: 'utf8' });
  assert.equal(onTty.status, 0, onTty.stderr);
  assert.match(onTty.stdout, /\d\d:\d\d:\d\d\.\d{3} \x1b\[33mWARN \x1b\[0m \x1b\[1mauthentication failed\x1b\[0m {2}\x1b\[2maccount=\x1b\[0mbob@localhost \x1b\[2mreason=\x1b\[0m"wrong password"/);
  const piped = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  const rec = JSON.parse(piped.stderr.trim());
  assert.deepEqual({ level: rec.level, msg: rec.msg, account: rec.account, reason: rec.reason }, { level: 'warn', msg: 'authentication failed', account: 'bob@localhost', reason: 'wrong password' });
});
