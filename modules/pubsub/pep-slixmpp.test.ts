// PEP notifications to a stock slixmpp client (Debian python3-slixmpp 1.8) through the caps module, on every
// host: its xep_0115 and xep_0163 plugins at their defaults, interest registered with add_interest once
// logged in (its caps verify and are cached) or before connecting (slixmpp 1.8.3's caps then do not verify:
// its own answer is used for its session, uncached); a contact's publication made after that reaches it as a
// live (not delayed) event.
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
const EARLY_NODE = 'urn:example:slixmpp:early';
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

/**
 * Run pep_notify.py as sli on `host` in `mode` for `node` (one per mode: an earlier test's item would come
 * first, as the last item); once its caps ask for <node>+notify, `checkCaps` runs, then alice (a contact)
 * publishes and the script must report the live notification.
 */
async function notifiedSlixmpp(host: string, mode: 'after-login' | 'before-login', node: string, checkCaps: (ver: string) => Promise<void>): Promise<void> {
  const server = t!;
  const full = Jid.parse(`sli@${host}/slixmpp-${mode}`);
  const p = startJsonLines(PYTHON, [join(SCRIPTS, 'pep_notify.py'), server.c2sPort, full.toString(), 'pw-sli', node, mode],
    { cwd: SCRIPTS, env: { SSL_CERT_FILE: await testCertificateFile() } });
  const item = `song-${host}-${mode}`;
  try {
    const ready = await p.event('ready');
    assert.ok(typeof ready.ver === 'string' && ready.ver, 'slixmpp announced caps');
    await until(() => capsOf(server, host).wantsNotify(full, node), `slixmpp’s caps ask for ${node}+notify`);
    await checkCaps(ready.ver);
    const a = await capsLogin(server, 'alice', host, `publisher-${mode}`, [node]);
    const tune = `<tune xmlns='${node}'><title>Heart of Glass</title></tune>`;
    await iq(a.c, publishXml(node, item, tune), 'set');
    await expectEvent(a.c, node); // alice's own resource asked for it too
    a.c.close();
  } catch (err) {
    p.kill();
    throw err;
  }
  const r = await p.done;
  assert.equal(r.code, 0, r.transcript);
  assert.deepEqual(r.one('notified'), { event: 'notified', sender: `alice@${host}`, node, item, payload: `{${node}}tune`, text: null, delayed: false }, r.transcript);
  assert.ok(!r.events.some((e) => ['exception', 'timeout', 'unparsed'].includes(e.event)), r.transcript);
}

forEachHost((host) => {
  test('slixmpp (xep_0115, xep_0163 at defaults) after add_interest receives a contact’s PEP notification published after it logs in', slixmppTestOptions, async () => {
    const failures = await capsLookups(t!, host, 'verification_failure');
    await notifiedSlixmpp(host, 'after-login', NODE, async (ver) => {
      assert.equal(await capsLookups(t!, host, 'verification_failure'), failures, 'its hash matched its answer');
      assert.ok(await t!.server.core.store.table('caps_cache').get(`caps1/sha-1/${ver}`), 'verified, so cached');
    });
  });

  test('slixmpp 1.8.3 at defaults with add_interest before login (its caps do not verify) receives a contact’s PEP notification', slixmppTestOptions, async () => {
    // slixmpp 1.8.3 hashes its caps when add_interest runs, before its bind-time features exist, and answers
    // disco#info with all of them: as Prosody, the server uses that answer for this session, uncached.
    const failures = await capsLookups(t!, host, 'verification_failure');
    await notifiedSlixmpp(host, 'before-login', EARLY_NODE, async (ver) => {
      assert.equal(await capsLookups(t!, host, 'verification_failure'), failures + 1, 'slixmpp 1.8.3’s ver does not match its answer');
      assert.equal(await t!.server.core.store.table('caps_cache').get(`caps1/sha-1/${ver}`), undefined, 'not cached');
    });
  });
});
