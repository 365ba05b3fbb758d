// Interop with a third-party Python client, slixmpp 1.8.3 (Debian python3-slixmpp), against an
// in-process xmppd: each test runs a script from test/e2e/slixmpp/ and asserts on the JSON lines it prints
// (SASL SCRAM-SHA-1/-256-PLUS with tls-unique and PLAIN, STARTTLS and XEP-0368 direct TLS, bind, XEP-0030/0092/0199/0202, chat).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/harness.js';
import { runSlixmppOk, slixmppTestOptions as opts } from '../support/slixmpp.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
const skip = opts.skip;
const runOk = (script: string, args: Array<string | number>) => runSlixmppOk(join(SCRIPTS, script), args, SCRIPTS);

describe('slixmpp 1.8.3 against xmppd', () => {
  let t: TestServer;
  before(async () => {
    if (skip) return;
    t = await startTestServer();
    await t.addUser('alice', 'pw-alice');
    await t.addUser('bob', 'pw-bob');
  });
  after(() => t?.stop());

  // slixmpp 1.8.3 picks SCRAM-SHA-256-PLUS with tls-unique (RFC 5929) by default, which xmppd offers on
  // TLS 1.2 and 1.3 (channel_binding.tls_unique); the client matrix (test/e2e/clients/) covers every TLS
  // version and mode with the defaults. The other rows set slixmpp's one documented mechanism option,
  // ClientXMPP(sasl_mech=...) ("force the use of a particular SASL mechanism"), as users do: PLAIN where
  // their accounts' SCRAM keys are not usable (accounts moved from a server that kept other hashes, or a
  // host that checks passwords with an external program), and a SHA-1 mechanism for accounts whose stored
  // keys are SHA-1 only (imported from Prosody 0.12, which keeps SCRAM-SHA-1 keys only).
  for (const [mech, gs2] of [['auto', 'p=tls-unique,,'], ['SCRAM-SHA-1-PLUS', 'p=tls-unique,,'], ['PLAIN', null]] as const) {
    test(`alice logs in with ${mech === 'auto' ? 'slixmpp’s own choice' : mech} over STARTTLS and binds the resource she asked for`, opts, async () => {
      const resource = `slix-${mech.toLowerCase()}`;
      const s = await runOk('login.py', [t.c2sPort, `alice@localhost/${resource}`, 'pw-alice', mech, 'starttls']);
      const start = s.one('session_start');
      assert.equal(start.jid, `alice@localhost/${resource}`);
      assert.equal(start.mech, mech === 'auto' ? 'SCRAM-SHA-256-PLUS' : mech);
      assert.equal(start.tls, 'TLSv1.3', 'STARTTLS was negotiated before SASL');
      if (gs2) assert.equal(start.gs2, gs2, 'channel binding tls-unique, no authzid');
      assert.equal(s.one('ping').ok, true, 'the bound session answers');
      assert.ok(!s.has('auth_failed'));
    });
  }

  test('bob logs in over direct TLS on the XEP-0368 port (slixmpp: connect(use_ssl=True))', opts, async () => {
    const s = await runOk('login.py', [t.c2sTlsPort, 'bob@localhost/direct', 'pw-bob', 'auto', 'direct']);
    const start = s.one('session_start');
    assert.equal(start.jid, 'bob@localhost/direct');
    assert.equal(start.mech, 'SCRAM-SHA-256-PLUS');
    assert.equal(start.tls, 'TLSv1.3');
    assert.equal(s.one('ping').ok, true);
  });

  test('with -PLUS turned off by the operator (channel_binding.plus: false), slixmpp with its defaults logs in with SCRAM-SHA-256 and gs2 “y”', opts, async () => {
    // RFC 5802 §6: a client that can bind the channel but sees no -PLUS mechanism sends "y"; the server,
    // which did not advertise -PLUS, accepts it. No client setting: the server's offer decides.
    const noPlus = await startTestServer({ channel_binding: { plus: false } });
    try {
      await noPlus.addUser('carol', 'pw-carol');
      const s = await runOk('login.py', [noPlus.c2sPort, 'carol@localhost/defaults', 'pw-carol', 'auto', 'starttls']);
      const start = s.one('session_start');
      assert.equal(start.jid, 'carol@localhost/defaults');
      assert.equal(start.mech, 'SCRAM-SHA-256', 'slixmpp’s own choice without -PLUS');
      assert.equal(start.gs2, 'y,,');
      assert.equal(s.one('ping').ok, true);
    } finally {
      await noPlus.stop();
    }
  });

  test('told to use plain SCRAM, slixmpp 1.8.3 sends the gs2 flag “y”, refused as a channel-binding downgrade', opts, async () => {
    // sasl_mech='SCRAM-SHA-1' is what a user who pinned plain SCRAM for an older server keeps in a bot's
    // config; seen from the server it is also exactly what a man in the middle stripping -PLUS produces.
    // slixmpp has channel-binding data, so with plain SCRAM it claims "I support channel binding but think
    // you don't" (gs2 'y'). xmppd advertised -PLUS, so RFC 5802 §6 requires it to fail the exchange.
    const s = await runOk('login.py', [t.c2sPort, 'alice@localhost/slix-y', 'pw-alice', 'SCRAM-SHA-1', 'starttls']);
    assert.ok(!s.has('session_start'), s.transcript);
    const failed = s.one('auth_failed');
    assert.equal(failed.gs2, 'y,,');
    assert.deepEqual(failed.failures, [{ condition: 'not-authorized', text: 'server-does-support-channel-binding' }]);
  });

  test('a wrong password fires failed_auth with not-authorized and no session starts (SCRAM and PLAIN)', opts, async () => {
    // sasl_mech pins each mechanism (see above), so both password checks are reached through the real client.
    for (const mech of ['SCRAM-SHA-256-PLUS', 'PLAIN']) {
      const s = await runOk('login.py', [t.c2sPort, 'alice@localhost/wrong', 'not-her-password', mech, 'starttls']);
      assert.ok(!s.has('session_start'), mech);
      const failed = s.one('auth_failed');
      assert.equal(failed.reason, 'failed_all_auth', mech);
      assert.equal(failed.mech, mech);
      const failures = failed.failures as Array<{ condition: string }>;
      assert.equal(failures.length, 1, mech);
      assert.equal(failures[0]!.condition, 'not-authorized', mech);
    }
  });

  test('disco#info, ping, version and time of the server through slixmpp’s plugins', opts, async () => {
    const s = await runOk('server_iq.py', [t.c2sPort, 'alice@localhost/plugins', 'pw-alice']);
    const info = s.one('disco_info');
    assert.equal(info.sender, 'localhost');
    assert.equal(info.type, 'result');
    const features = info.features as string[];
    for (const f of ['urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'http://jabber.org/protocol/disco#info']) {
      assert.ok(features.includes(f), `disco#info lists ${f}; got ${features.join(' ')}`);
    }
    // slixmpp identities: [category, type, lang, name]
    assert.ok((info.identities as string[][]).some(([category, type]) => category === 'server' && type === 'im'), JSON.stringify(info.identities));

    assert.equal(s.one('ping').ok, true);

    const version = s.one('version');
    assert.equal(version.sender, 'localhost');
    assert.equal(version.name, 'xmppd');
    assert.match(String(version.version), /^\d+\.\d+\.\d+/);

    const time = s.one('time');
    assert.equal(time.sender, 'localhost');
    assert.match(String(time.tzo), /^[+-]\d\d:\d\d$|^Z$/);
    assert.match(String(time.utc), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Math.abs(Date.parse(String(time.utc)) - Date.now()) < 60_000, `server time ${time.utc} is close to now`);

    const unknown = s.one('unknown_ns');
    assert.equal(unknown.error, 'service-unavailable');
    assert.equal(unknown.type, 'cancel');
  });

  test('alice sends bob a chat message to his bare JID, bob answers her full JID; bob’s client answers her IQs', opts, async () => {
    const s = await runOk('chat.py', [t.c2sPort, 'alice@localhost/slix-a', 'pw-alice', 'bob@localhost/slix-b', 'pw-bob']);
    const toBob = s.one('bob_received');
    assert.equal(toBob.from, 'alice@localhost/slix-a');
    assert.equal(toBob.to, 'bob@localhost');
    assert.equal(toBob.type, 'chat');
    assert.equal(toBob.body, 'hello bob, ça va? €');
    const toAlice = s.one('alice_received');
    assert.equal(toAlice.from, 'bob@localhost/slix-b');
    assert.equal(toAlice.to, 'alice@localhost/slix-a');
    assert.equal(toAlice.body, 'hi alice');

    const version = s.one('bob_version');
    assert.equal(version.type, 'result');
    assert.equal(version.sender, 'bob@localhost/slix-b');
    assert.equal(version.name, 'Slixmpp', 'the answer came from bob’s client, not from the server');
    assert.equal(s.one('bob_ping').ok, true);
  });

  test('a second slixmpp client binding the same resource replaces the first, which gets a conflict stream error', opts, async () => {
    const s = await runOk('conflict.py', [t.c2sPort, 'alice@localhost/dup', 'pw-alice']);
    assert.equal(s.events.filter((e) => e.event === 'session_start').length, 2);
    const gone = s.one('first_disconnected');
    assert.deepEqual((gone.stream_errors as Array<{ condition: string }>).map((e) => e.condition), ['conflict']);
    const second = s.one('second_ping');
    assert.equal(second.ok, true);
    assert.equal(second.jid, 'alice@localhost/dup');
  });
});
