// PEP notifications to a stock slixmpp client (Debian python3-slixmpp 1.8) through the caps module, on every
// host: its xep_0115 and xep_0163 plugins at their defaults, interest registered with add_interest once
// logged in; its caps are verified from its own disco#info answer, and a contact's publication made after
// that reaches it as a live (not delayed) event.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jid } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { PYTHON, slixmppTestOptions, startJsonLines } from '../../test/support/slixmpp.js';
import { testCertificateFile } from '../../test/support/harness.js';
import { until } from '../../test/support/until.js';
import { befriend, capsLogin, capsLookups, capsOf, expectEvent, iq, publishXml, startPubsubServer } from './test-support.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
const NODE = 'http://jabber.org/protocol/tune';
let t: TestServer | undefined;

before(async () => {
  if (slixmppTestOptions.skip) return;
  t = await startPubsubServer();
  for (const host of HOSTS) {
    for (const u of ['alice', 'sli']) await t.addUser(u, `pw-${u}`, host);
    await befriend(t, host, 'alice', 'sli');
  }
});
after(() => t?.stop());

forEachHost((host) => {
  test('slixmpp (xep_0115, xep_0163 at defaults) after add_interest receives a contact’s PEP notification published after it logs in', slixmppTestOptions, async () => {
    const server = t!;
    const full = Jid.parse(`sli@${host}/slixmpp`);
    const failures = await capsLookups(server, host, 'verification_failure');
    const p = startJsonLines(PYTHON, [join(SCRIPTS, 'pep_notify.py'), server.c2sPort, full.toString(), 'pw-sli', NODE],
      { cwd: SCRIPTS, env: { SSL_CERT_FILE: await testCertificateFile() } });
    try {
      const ready = await p.event('ready');
      assert.ok(typeof ready.ver === 'string' && ready.ver, 'slixmpp announced caps');
      await until(() => capsOf(server, host).wantsNotify(full, NODE), 'slixmpp’s caps are verified with tune+notify');
      assert.equal(await capsLookups(server, host, 'verification_failure'), failures, 'its hash matched its answer');
      const a = await capsLogin(server, 'alice', host, 'publisher', [NODE]);
      const tune = `<tune xmlns='${NODE}'><title>Heart of Glass</title></tune>`;
      await iq(a.c, publishXml(NODE, `song-${host}`, tune), 'set');
      await expectEvent(a.c, NODE); // alice's own resource asked for it too
      a.c.close();
    } catch (err) {
      p.kill();
      throw err;
    }
    const r = await p.done;
    assert.equal(r.code, 0, r.transcript);
    assert.deepEqual(r.one('notified'), { event: 'notified', sender: `alice@${host}`, node: NODE, item: `song-${host}`, payload: `{${NODE}}tune`, text: null, delayed: false }, r.transcript);
    assert.ok(!r.events.some((e) => ['exception', 'timeout', 'unparsed'].includes(e.event)), r.transcript);
  });
});
