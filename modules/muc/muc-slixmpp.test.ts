// A real client in a room: slixmpp 1.8.3 (Debian python3-slixmpp) with its xep_0045 plugin's defaults
// creates, configures and chats in a room of xmppd's MUC service (script: test/e2e/slixmpp/muc.py).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { runSlixmppOk, slixmppTestOptions as opts } from '../../test/support/slixmpp.js';
import { MUC_MODULES } from './test-support.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
let t: TestServer;

before(async () => {
  if (opts.skip) return;
  t = await startTestServer({ modules: MUC_MODULES });
  await t.addUser('alice', 'pw-alice');
  await t.addUser('bob', 'pw-bob');
});
after(() => t?.stop());

test('slixmpp’s xep_0045: alice creates and configures a room, bob joins with history and subject, they chat and send a private message', opts, async () => {
  const room = 'slix@conference.localhost';
  const s = await runSlixmppOk(join(SCRIPTS, 'muc.py'), [t.c2sPort, 'alice@localhost/slix', 'pw-alice', 'bob@localhost/slix', 'pw-bob', room], SCRIPTS);
  assert.deepEqual(s.one('alice_joined'), { event: 'alice_joined', codes: [110, 201], affiliation: 'owner', role: 'moderator' });
  const fields = s.one('config_form').fields as string[];
  for (const f of ['muc#roomconfig_roomname', 'muc#roomconfig_persistentroom', 'muc#roomconfig_membersonly', 'muc#roomconfig_whois']) assert.ok(fields.includes(f), f);
  const info = s.one('room_info');
  assert.equal(info.name, 'Slix Room');
  assert.ok((info.features as string[]).includes('muc_temporary'));
  assert.deepEqual(s.one('alice_reflected'), { event: 'alice_reflected', sender: `${room}/Alice`, body: 'first message' });
  const bob = s.one('bob_joined');
  assert.deepEqual(bob.codes, [110]);
  assert.equal(bob.nick, 'Bob');
  assert.deepEqual(bob.occupants, ['Alice', 'Bob']);
  assert.deepEqual(bob.history, ['first message']);
  assert.deepEqual(bob.delay_from, [room]);
  assert.equal(bob.subject, '');
  assert.deepEqual(s.one('alice_received'), { event: 'alice_received', sender: `${room}/Bob`, body: 'hi alice' });
  assert.deepEqual(s.one('bob_reflected'), { event: 'bob_reflected', sender: `${room}/Bob`, body: 'hi alice' });
  assert.deepEqual(s.one('bob_subject'), { event: 'bob_subject', sender: `${room}/Alice`, subject: 'Testing' });
  assert.deepEqual(s.one('alice_pm'), { event: 'alice_pm', sender: `${room}/Bob`, body: 'just for you' });
  assert.deepEqual(s.one('alice_roster').nicks, ['Alice', 'Bob']);
});
