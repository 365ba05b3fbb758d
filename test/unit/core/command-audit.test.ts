// The admin commands' audit lines (src/core/admin/command-audit.ts): every run logged with its target and
// origin, never a password, stanza, body or module options; refusals at warn, bugs at error; unknown names too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/core/log.js';
import { runAudited, targetOf } from '../../../src/core/admin/command-audit.js';
import { runCommand } from '../../../src/core/admin/commands.js';
import { CommandError, type AdminTarget, type CommandDef } from '../../../src/core/admin/command-def.js';
import { buildConfig } from '../../../src/core/config/load-config.js';
import type { Core } from '../../../src/core/core.js';

function target(): { t: AdminTarget; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  const core = { config: buildConfig({ hosts: ['a.test'] }), log: new Logger('info', {}, (l) => lines.push(JSON.parse(l)), false) } as unknown as Core;
  const t: AdminTarget = { core, modules: {} as never }; // a running server
  core.admin = t;
  return { t, lines };
}

const cmd = (run: CommandDef['run']): CommandDef => ({ name: 'user.add', description: '', args: ['jid', 'password'], run });

test('a command is logged with its target and origin; secrets are left out', async () => {
  const { t, lines } = target();
  await runAudited(t, cmd(async () => ({ created: 'alice@a.test' })), { jid: 'alice@a.test', password: 's3cret-password', stanza: '<message><body>hi</body></message>', options: { token: 'x' } }, { origin: 'rest' });
  assert.equal(lines.length, 1);
  const { time, ms, ...rest } = lines[0]!;
  assert.equal(typeof ms, 'number');
  assert.deepEqual(rest, { level: 'info', msg: 'admin command', part: 'admin', cmd: 'user.add', origin: 'rest', jid: 'alice@a.test' });
  assert.doesNotMatch(JSON.stringify(lines), /s3cret|<body>|token/);
  assert.deepEqual(targetOf({ jid: 'a@a.test', host: 'a.test', file: '/tmp/x', reason: 'spam', force: true, password: 'p', body: 'b', vcard: '<vCard/>' }),
    { jid: 'a@a.test', host: 'a.test', file: '/tmp/x', reason: 'spam', force: true });
});

test('a refused command is logged at warn with the error; a failing one at error; an unknown name too', async () => {
  const { t, lines } = target();
  await assert.rejects(runAudited(t, cmd(async () => { throw new CommandError('alice@a.test already exists', 'conflict'); }), { jid: 'alice@a.test', password: 'pw-pw-pw-pw' }, { origin: 'cli' }));
  await assert.rejects(runAudited(t, cmd(async () => { throw new Error('disk on fire'); }), { jid: 'bob@a.test' }, { origin: 'adhoc' }));
  await assert.rejects(runCommand(t, 'user.ad', { jid: 'carol@a.test' }, { origin: 'cli' }), /unknown command "user\.ad"/);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.cmd, l.origin, l.jid, l.error ?? l.err?.message]), [
    ['warn', 'admin command failed', 'user.add', 'cli', 'alice@a.test', 'alice@a.test already exists'],
    ['error', 'admin command failed', 'user.add', 'adhoc', 'bob@a.test', 'disk on fire'],
    ['warn', 'admin command failed', 'user.ad', 'cli', undefined, 'unknown command "user.ad"'],
  ]);
  assert.doesNotMatch(JSON.stringify(lines), /pw-pw-pw-pw/);
});
