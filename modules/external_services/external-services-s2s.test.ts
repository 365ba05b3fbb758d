// XEP-0215 over federation: two in-process xmppd servers over loopback s2s (TLS, certificates of a test CA).
// bob@b.test asks a.test for its STUN/TURN services and for TURN credentials: forbidden, nothing leaks;
// alice@a.test, on the same server, gets them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa } from '../../test/e2e/interop/test-ca.js';
import { XmppdPeer } from '../../test/e2e/interop/xmppd-peer.js';
import { freePorts } from '../../test/e2e/interop/net-util.js';
import { login } from '../../test/e2e/interop/xmpp-client.js';
import { assertStanza, iqResult, stanzaError } from '../../test/support/stanza-match.js';

const NS = 'urn:xmpp:extdisco:2';
const tmp = mkdtempSync(join(tmpdir(), 'xmppd-extdisco-s2s-'));
const ca = new TestCa(tmp);
let a: XmppdPeer;
let b: XmppdPeer;

before(async () => {
  const [pa, pb] = await freePorts(2);
  a = await XmppdPeer.start({
    domain: 'a.test', s2sPort: pa!, cert: ca.issue('a', { dns: ['a.test'] }),
    s2s: { cafile: ca.certFile, overrides: { 'b.test': `127.0.0.1:${pb}` } }, users: { alice: 'pw-alice' },
    config: { modules: { disco: {}, external_services: { services: [{ type: 'turn', host: 'turn.a.test' }], turn_secret: 'a-secret' } } },
  });
  b = await XmppdPeer.start({
    domain: 'b.test', s2sPort: pb!, cert: ca.issue('b', { dns: ['b.test'] }),
    s2s: { cafile: ca.certFile, overrides: { 'a.test': `127.0.0.1:${pa}` } }, users: { bob: 'pw-bob' },
    config: { modules: { disco: {} } },
  });
});
after(async () => {
  await a?.stop();
  await b?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('a remote user is refused the services and credentials with forbidden; a local one gets them', async () => {
  const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'phone' });
  const list = await bob.c.iq('r1', `<iq type='get' id='r1' to='a.test'><services xmlns='${NS}'/></iq>`);
  assertStanza(list, { ...stanzaError('forbidden'), attrs: { type: 'error', from: 'a.test' } });
  assert.doesNotMatch(list, /password=|turn\.a\.test/, 'nothing of the services leaks');
  const creds = await bob.c.iq('r2', `<iq type='get' id='r2' to='a.test'><credentials xmlns='${NS}'><service host='turn.a.test' type='turn'/></credentials></iq>`);
  assertStanza(creds, stanzaError('forbidden'));
  assert.doesNotMatch(creds, /password=/);
  bob.c.close();

  const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'desk' });
  assertStanza(await alice.c.iq('l1', `<iq type='get' id='l1' to='a.test'><services xmlns='${NS}'/></iq>`), iqResult({
    name: 'services', ns: NS, children: [{ name: 'service', attrs: { type: 'turn', host: 'turn.a.test', username: /^\d+:alice@a\.test$/, password: /\S/ } }],
  }));
  alice.c.close();
});
