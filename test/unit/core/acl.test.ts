// ACL groups and access rules: each match kind, first match wins, built-in all/none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acl } from '../../../src/core/acl.js';
import { Jid } from '../../../src/core/jid.js';

const acl = new Acl(
  {
    admin: { user: ['admin@example.org'] },
    local: { server: ['example.org'] },
    loopback: { ip: ['127.0.0.0/8', '::1/128'] },
    bots: { user_regexp: ['^bot-'] },
    mobiles: { resource: ['phone'] },
  },
  {
    register: [{ action: 'allow', acl: 'loopback' }, { action: 'deny', acl: 'all' }],
    configure: [{ action: 'allow', acl: 'admin' }],
    order: [{ action: 'deny', acl: 'bots' }, { action: 'allow', acl: 'local' }],
  },
);

test('each ACL kind matches what it names and nothing else', () => {
  assert.equal(acl.match('admin', { jid: Jid.parse('Admin@Example.org/x') }), true);
  assert.equal(acl.match('admin', { jid: Jid.parse('eve@example.org') }), false);
  assert.equal(acl.match('local', { jid: Jid.parse('eve@example.org') }), true);
  assert.equal(acl.match('local', { jid: Jid.parse('eve@other.org') }), false);
  assert.equal(acl.match('loopback', { ip: '127.1.2.3' }), true);
  assert.equal(acl.match('loopback', { ip: '::ffff:127.0.0.1' }), true);
  assert.equal(acl.match('loopback', { ip: '::1' }), true);
  assert.equal(acl.match('loopback', { ip: '10.0.0.1' }), false);
  assert.equal(acl.match('bots', { jid: Jid.parse('bot-7@example.org') }), true);
  assert.equal(acl.match('bots', { jid: Jid.parse('robot@example.org') }), false);
  assert.equal(acl.match('mobiles', { jid: Jid.parse('a@example.org/phone') }), true);
  assert.equal(acl.match('all', {}), true);
  assert.equal(acl.match('none', { ip: '127.0.0.1' }), false);
  assert.equal(acl.match('undefined-acl', { ip: '127.0.0.1' }), false);
});

test('access rules: first match wins, default deny', () => {
  assert.equal(acl.allowed('register', { ip: '127.0.0.1' }), true);
  assert.equal(acl.allowed('register', { ip: '192.0.2.1' }), false);
  assert.equal(acl.allowed('configure', { jid: Jid.parse('eve@example.org') }), false);
  assert.equal(acl.allowed('order', { jid: Jid.parse('bot-1@example.org') }), false);
  assert.equal(acl.allowed('order', { jid: Jid.parse('eve@example.org') }), true);
  assert.equal(acl.allowed('no-such-rule', { ip: '127.0.0.1' }), false);
  assert.equal(acl.access('no-such-rule', {}, 'allow'), 'allow');
});

test('per-host ACLs and access rules (host_config) take precedence on their host only', () => {
  const a = new Acl(
    { admin: { user: ['root@a.example'] }, loopback: { ip: ['127.0.0.0/8'] } },
    { register: [{ action: 'allow', acl: 'loopback' }], configure: [{ action: 'allow', acl: 'admin' }] },
    { 'b.example': { acl: { admin: { user: ['boss@b.example'] } }, access_rules: { register: [{ action: 'deny', acl: 'all' }] } } },
  );
  const boss = Jid.parse('boss@b.example');
  const root = Jid.parse('root@a.example');
  assert.equal(a.match('admin', { jid: boss, host: 'b.example' }), true, 'the host ACL applies on its host');
  assert.equal(a.match('admin', { jid: root, host: 'b.example' }), false, 'and overrides the global one there');
  assert.equal(a.match('admin', { jid: root, host: 'a.example' }), true, 'other hosts keep the global ACL');
  assert.equal(a.match('admin', { jid: boss }), false);
  assert.equal(a.allowed('register', { ip: '127.0.0.1', host: 'b.example' }), false, 'the host rule replaces the global rule');
  assert.equal(a.allowed('register', { ip: '127.0.0.1', host: 'a.example' }), true);
  assert.equal(a.allowed('configure', { jid: boss, host: 'b.example' }), true, 'a global rule sees the host ACL of the same name');
});
