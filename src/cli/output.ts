// What the CLI prints: a readable table or text per verb for people, or with --json the command's result
// as one JSON document for scripts (one stable schema per verb: docs/cli.md). Tables have a header row and
// aligned columns; on a terminal the header is bold (NO_COLOR turns that off).
import { formatReport, type ReloadReport } from '../core/config/reload/reload-report.js';

type Obj = Record<string, any>;
type Formatter = (r: Obj) => string;

const useColour = (): boolean => process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string): string => (useColour() ? `\x1b[1m${s}\x1b[0m` : s);

const cell = (v: unknown): string => {
  if (v === undefined || v === null || v === '') return '-';
  if (Array.isArray(v)) return v.length ? v.map(cell).join(',') : '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replace(/[\r\n\t]+/g, ' ');
};

/** Rows under a header, columns padded to their widest cell (the last column is not padded). */
export function table(headers: string[], rows: unknown[][]): string {
  const text = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [bold(line(headers)), ...text.map(line)].join('\n');
}

/** Seconds as "3d 4h", "5h 12m", "7m 3s" or "42s". */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '-';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** "key: value" lines (nested objects indented, lists of objects as tables), for results with no table of their own. */
export function keyValues(r: unknown, indent = ''): string {
  if (r === null || typeof r !== 'object') return `${indent}${cell(r)}`;
  if (Array.isArray(r)) return listOf(r, indent);
  const out: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !(Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object'))) {
      if (Array.isArray(v) ? !v.length : !Object.keys(v).length) out.push(`${indent}${k}: -`);
      else out.push(`${indent}${k}:`, keyValues(v, `${indent}  `));
    } else {
      out.push(`${indent}${k}: ${cell(v)}`);
    }
  }
  return out.join('\n');
}

function listOf(rows: unknown[], indent: string): string {
  if (!rows.length) return `${indent}-`;
  if (rows.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) {
    const keys = [...new Set(rows.flatMap((x) => Object.keys(x as Obj)))];
    return table(keys.map((k) => k.toUpperCase()), rows.map((x) => keys.map((k) => (x as Obj)[k])))
      .split('\n').map((l) => indent + l).join('\n');
  }
  return rows.map((x) => `${indent}${cell(x)}`).join('\n');
}

/** "name: n" lines for the numeric fields of a report not in `skip` (the modules' counts: rosterItems, vcards...). */
const counts = (r: Obj, skip: string[]): string[] =>
  Object.entries(r).filter(([k, v]) => !skip.includes(k) && typeof v === 'number').map(([k, v]) => `${k}: ${v}`);
const tableRows = (t: Record<string, number>): string => (Object.keys(t).length ? table(['TABLE', 'ROWS'], Object.entries(t)) : 'no rows');

const done = (verb: string, key: string): Formatter => (r) => `${verb} ${r[key]}`;

/** The human form of each admin command's result (by command name); others get keyValues. */
const FORMATTERS: Record<string, Formatter> = {
  'user.add': done('created', 'created'),
  'user.del': (r) => [`deleted ${r.deleted}`, ...((r.warnings as string[] | undefined) ?? []).map((w) => `warning: ${w}`)].join('\n'),
  'user.passwd': (r) => `password changed for ${r.changed}`,
  'user.ban': done('banned', 'banned'),
  'user.unban': done('unbanned', 'unbanned'),
  'user.list': (r) => {
    if (Array.isArray(r.banned)) {
      if (!r.banned.length) return 'no banned accounts';
      return table(['ACCOUNT', 'BANNED AT', 'REASON'], r.banned.map((b: Obj) => [b.jid, b.at, b.reason]));
    }
    if (!r.users.length) return 'no accounts';
    return table(['ACCOUNT'], r.users.map((u: string) => [u]));
  },
  'sessions.list': (r) => {
    if (!r.sessions.length) return 'no sessions';
    return table(['JID', 'SHOW', 'STATUS', 'IP', 'TLS', 'AUTH', 'CLIENT', 'SM', 'IDLE', 'SINCE'], r.sessions.map((s: Obj) => [
      s.jid, s.show, s.status, s.ip, s.tls ? (s.tls_version ?? 'yes') : 'no', s.mechanism, s.client,
      s.detached ? `${s.stream_management} (detached)` : s.stream_management, duration(s.idle_s), s.since,
    ]));
  },
  'session.kick': (r) => `kicked ${(r.kicked as string[]).join(', ')}`,
  's2s.list': (r) => {
    if (!r.s2s.length) return r.enabled === false ? 'federation is disabled (s2s.enabled: false)' : 'no s2s streams';
    return table(['DIRECTION', 'LOCAL', 'REMOTE', 'STATE', 'AUTH', 'TLS', 'CIPHER', 'QUEUED', 'ADDRESS', 'SINCE'],
      r.s2s.map((s: Obj) => [s.direction, s.local, s.remote, s.state, s.auth, s.tls?.version || 'plain', s.tls?.cipher, s.queued, s.ip, s.since]));
  },
  status: (r) => {
    const { listeners, version, hosts, sessions, uptime_s, rss_mib, pid, ...rest } = r;
    const lines = [
      `version:     ${version}`, `hosts:       ${(hosts as string[]).join(', ')}`, `sessions:    ${sessions}`,
      `uptime:      ${duration(uptime_s)}`, `memory:      ${rss_mib} MiB RSS`,
    ];
    if (pid !== undefined) lines.push(`pid:         ${pid}`);
    if (Object.keys(rest).length) lines.push(keyValues(rest));
    if (Array.isArray(listeners)) lines.push('', table(['TYPE', 'ADDRESS', 'PORT'], listeners.map((l: Obj) => [l.type, l.ip, l.port])));
    return lines.join('\n');
  },
  'commands.list': (r) => table(['COMMAND', 'ARGUMENTS', 'MODULE', 'DESCRIPTION'], r.commands.map((c: Obj) => [c.name, (c.args as string[]).join(' '), c.module, c.description])),
  'module.list': (r) => {
    if (!r.modules.length) return 'no modules';
    return table(['MODULE', 'STATUS', 'HOSTS', 'XEPS', 'ERROR'], r.modules.map((m: Obj) => [m.name, m.status, m.hosts, m.xeps, m.error]));
  },
  'module.load': (r) => `loaded ${r.name} (${r.status}) on ${cell(r.hosts)}${r.error ? `: ${r.error}` : ''}`,
  'module.reload': (r) => `reloaded ${r.name} (${r.status}) on ${cell(r.hosts)}${r.error ? `: ${r.error}` : ''}`,
  'module.unload': done('unloaded', 'unloaded'),
  'config.reload': (r) => formatReport(r as ReloadReport),
  'data.export': (r) => [
    `exported ${r.users} user${r.users === 1 ? '' : 's'} to ${r.file}`,
    table(['HOST', 'USERS'], (r.hosts as Obj[]).map((h) => [h.host, h.users])),
    ...counts(r, ['file', 'hosts', 'users', 'warnings']),
    ...(r.warnings as string[]).map((w) => `warning: ${w}`),
  ].join('\n'),
  'data.import': (r) => [
    `imported ${r.users} user${r.users === 1 ? '' : 's'} (${r.created} created, ${r.updated} updated) from ${(r.files as string[]).join(', ')}`,
    ...counts(r, ['files', 'users', 'created', 'updated', 'warnings', 'hosts', 'unknownHosts', 'noCredentials', 'skipped', 'overLimit', 'ignored']),
    ...(r.noCredentials as string[]).map((j) => `no usable credential (a random password was set): ${j}`),
    ...(r.skipped as Obj[]).map((x) => `skipped ${x.jid}: ${x.reason}`),
    ...(r.warnings as string[]).map((w) => `warning: ${w}`),
  ].join('\n'),
  backup: (r) => [`backup of ${r.rows} rows written to ${r.file} (up to transaction ${r.lastApplied})`, tableRows(r.tables)].join('\n'),
  restore: (r) => {
    const p = r.replaced as Obj;
    return [
      `restored ${r.rows} rows from ${r.file} (backup of ${r.created}; ${r.method})`,
      `replaced: ${p.dropped} rows deleted, ${p.changed} changed, ${p.newerTransactions} transactions newer than the backup dropped`,
      tableRows(r.tables),
      ...(r.warnings as string[]).map((w) => `warning: ${w}`),
    ].join('\n');
  },
  'send.message': (r) => `sent message ${r.id} from ${r.from} to ${r.to}`,
  'send.stanza': (r) => `sent <${r.name}/>${r.id ? ` ${r.id}` : ''} from ${r.from} to ${r.to}`,
  'roster.get': (r) => {
    const lines = [r.items.length
      ? table(['CONTACT', 'NAME', 'GROUPS', 'SUBSCRIPTION', 'ASK'], r.items.map((i: Obj) => [i.jid, i.name, i.groups, i.subscription, i.ask]))
      : `the roster of ${r.jid} is empty`];
    if (r.pending?.length) lines.push(`waiting for approval: ${r.pending.join(', ')}`);
    return lines.join('\n');
  },
  'roster.add': (r) => `${r.added ? 'added' : 'updated'} ${r.added ?? r.updated} in the roster of ${r.jid}`,
  'roster.remove': (r) => `removed ${r.removed} from the roster of ${r.jid}`,
  'vcard.get': (r) => String(r.vcard),
  'vcard.set': (r) => `vCard of ${r.set} replaced`,
  'offline.count': (r) => `${r.count} offline message${r.count === 1 ? '' : 's'} for ${r.jid}`,
  'archive.query': (r) => {
    const head = `${r.count} archived message${r.count === 1 ? '' : 's'} for ${r.jid}${r.messages.length < r.count ? ` (newest ${r.messages.length} shown)` : ''}`;
    if (!r.messages.length) return head;
    return `${head}\n${table(['TIME', 'WITH', 'ID', 'STANZA'], r.messages.map((m: Obj) => [m.stamp, m.with, m.id, m.xml]))}`;
  },
};

/** Print a command's result: JSON for --json, else the verb's human form. */
export function printResult(command: string, result: unknown, json: boolean): void {
  if (result === undefined) return;
  if (json) return void process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const f = FORMATTERS[command] as Formatter | undefined;
  const text = f && result !== null && typeof result === 'object' ? f(result as Obj) : keyValues(result);
  process.stdout.write(`${text}\n`);
}
