// Access rules per virtual host (host_config): registration open on one host and closed on another,
// and the admin ACL of one host not reaching the other, over real sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { Jid } from '../../src/core/jid.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({
    hosts: ['localhost', 'example.test'],
    acl: { loopback: { ip: ['127.0.0.0/8', '::1/128'] }, admin: { user: ['admin@localhost'] } },
    access_rules: { register: [{ allow: 'loopback' }, { deny: 'all' }] },
    host_config: {
      'example.test': {
        acl: { admin: { user: ['chief@example.test'] } },
        access_rules: { register: [{ deny: 'all' }] },
      },
    },
  });
});
after(() => t.stop());

async function featuresOf(host: string): Promise<string> {
  const c = await RawClient.connect(t.c2sTlsPort, { tls: true, servername: host });
  c.openStream(host);
  const f = await c.features();
  c.close();
  return f;
}

test('alice sees in-band registration offered on localhost and not on example.test', async () => {
  assert.match(await featuresOf('localhost'), /http:\/\/jabber\.org\/features\/iq-register/);
  assert.doesNotMatch(await featuresOf('example.test'), /iq-register/);
});

test('a forced registration on example.test is forbidden, on localhost it succeeds', async () => {
  for (const [host, expected] of [['example.test', /<forbidden /], ['localhost', /type=["']result["']/]] as const) {
    const c = await RawClient.connect(t.c2sTlsPort, { tls: true, servername: host });
    c.openStream(host);
    await c.features();
    c.send("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>newbie</username><password>a-long-password</password></query></iq>");
    assert.match((await c.expect(/<iq[^>]*id=["']r1["'][^>]*(\/>|>[\s\S]*?<\/iq>)/))[0], expected);
    c.close();
  }
});

test('the admin ACL is per host: chief is admin on example.test only, admin on localhost only', () => {
  const { acl } = t.server.core;
  assert.equal(acl.match('admin', { jid: Jid.parse('chief@example.test'), host: 'example.test' }), true);
  assert.equal(acl.match('admin', { jid: Jid.parse('admin@localhost'), host: 'example.test' }), false);
  assert.equal(acl.match('admin', { jid: Jid.parse('admin@localhost'), host: 'localhost' }), true);
});
