// One password policy (src/core/password-policy.ts): the register module's minimum per host, applied by the
// admin commands (CLI, REST, ad-hoc) as by in-band registration; "-" is never a password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minPasswordLength, passwordProblem } from '../../../src/core/password-policy.js';
import { needPassword, CommandError, type AdminTarget } from '../../../src/core/admin/command-def.js';
import { buildConfig } from '../../../src/core/config/load-config.js';
import type { Core } from '../../../src/core/core.js';

const config = buildConfig({
  hosts: ['a.test', 'b.test', 'c.test'],
  modules: { register: { min_password_length: 10 } },
  host_config: { 'b.test': { modules: { register: { min_password_length: 4 } } }, 'c.test': { modules: { register: false } } },
});
const target: AdminTarget = { core: { config } as Core };

test('the minimum is modules.register.min_password_length of the host (host_config overrides; 8 without the module)', () => {
  assert.equal(minPasswordLength(config, 'a.test'), 10);
  assert.equal(minPasswordLength(config, 'b.test'), 4);
  assert.equal(minPasswordLength(config, 'c.test'), 8);
  assert.equal(minPasswordLength(buildConfig({ hosts: ['x.test'], modules: {} }), 'x.test'), 8);
});

test('lengths count characters (code points), with an upper bound', () => {
  assert.equal(passwordProblem('1234567', 8), 'the password is too weak: use at least 8 characters');
  assert.equal(passwordProblem('12345678', 8), null);
  assert.equal(passwordProblem('🔑🔑🔑🔑', 4), null, 'four characters, eight UTF-16 units');
  assert.match(passwordProblem('x'.repeat(1025), 8)!, /too long \(at most 1024 characters\)/);
});

test('the admin commands refuse what the policy refuses, empty passwords, and "-"', () => {
  assert.throws(() => needPassword(target, 'a.test', 'nine-char'), (e) => e instanceof CommandError && /at least 10 characters/.test(e.message));
  assert.equal(needPassword(target, 'a.test', 'ten-chars!'), 'ten-chars!');
  assert.equal(needPassword(target, 'b.test', 'four'), 'four');
  assert.throws(() => needPassword(target, 'b.test', '-'), /"-" is not a password/);
  assert.throws(() => needPassword(target, 'a.test', ''), /a non-empty password is required/);
  assert.throws(() => needPassword(target, 'a.test', undefined), /a non-empty password is required/);
});
