// caps with a real client at its defaults: slixmpp 1.8 (Debian python3-slixmpp) with its XEP-0115 plugin
// and a PEP interest sends caps in its presence and answers the server's disco#info itself; the server
// verifies and caches them; slixmpp in turn verifies the server's caps from the stream features.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestServer, testCertificateFile, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { PYTHON, slixmppTestOptions, startJsonLines } from '../../test/support/slixmpp.js';
import { until } from '../../test/support/until.js';
import { Jid } from '../../src/core/jid.js';
import { CAPS_SERVICE, xml, type CapsApi } from '../../src/sdk.js';
import { serverCaps } from './server-caps.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
const CONFIG = { modules: { disco: {}, roster: {}, presence: {}, caps: {} } };
let t: TestServer | undefined;

before(async () => {
  if (slixmppTestOptions.skip) return;
  t = await startTestServer(CONFIG);
  for (const host of HOSTS) await t.addUser('alice', 'pw-alice', host);
});
after(() => t?.stop());

forEachHost((host) => {
  test('slixmpp’s caps are verified and cached (tune+notify is known); slixmpp verifies the server’s caps', slixmppTestOptions, async () => {
    const server = t!;
    const api = server.server.core.services.get<CapsApi>(host, CAPS_SERVICE.name)!;
    const full = Jid.parse(`alice@${host}/slix-caps`);
    const p = startJsonLines(PYTHON, [join(SCRIPTS, 'caps.py'), server.c2sPort, full.toString(), 'pw-alice'],
      { cwd: SCRIPTS, env: { SSL_CERT_FILE: await testCertificateFile() } });
    try {
      const sent = await p.event('presence_sent');
      assert.ok(typeof sent.ver === 'string' && sent.ver, 'slixmpp put caps in its presence');
      const features = (await until(() => api.featuresOf(full), 'slixmpp’s features are known')) as ReadonlySet<string>;
      assert.ok(features.has('http://jabber.org/protocol/tune+notify'), [...features].join(' '));
      assert.equal(api.wantsNotify(full, 'http://jabber.org/protocol/tune'), true);
      assert.ok(await server.server.core.store.table('caps_cache').get(`caps1/sha-1/${sent.ver}`), 'verified, so cached');

      const caps = server.server.modules.instancesOn(host).find((i) => i.def.name === 'caps')!;
      const ours = await serverCaps(caps.ctx);
      assert.ok(ours, 'the server has caps to offer');
      assert.equal((await p.event('server_caps')).ver, ours.ver, 'slixmpp accepted the server’s caps');
    } finally {
      server.server.core.router.route(xml('message', { from: host, to: full.toString() }, xml('body', {}, 'bye')), Jid.parse(host), full);
    }
    const r = await p.done;
    assert.equal(r.code, 0, r.transcript);
    assert.equal(r.one('released').body, 'bye', r.transcript);
    assert.ok(!r.events.some((e) => ['exception', 'timeout', 'unparsed'].includes(e.event)), r.transcript);
  });
});
