// XEP-0077 over raw XML: the stream feature and disco feature, registration before authentication with its
// error cases (§3.1), the access rule and TLS requirement, and password change (§3.3) after authentication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, iqResult, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
import { Jid } from '../../src/sdk.js';
import { canLogin, expectIq, registerRaw, securedStream } from './test-support.js';

const FEATURE = /<register xmlns=["']http:\/\/jabber\.org\/features\/iq-register["']\/>/;
let t: TestServer;
let insecurePort: number;

before(async () => {
  t = await startTestServer({
    modules: { disco: {}, ping: {}, register: {} },
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'c2s_tls' },
      { port: 0, ip: '127.0.0.1', type: 'c2s', starttls_required: false },
    ],
  });
  insecurePort = t.server.listeners.bound[2]!.port;
  for (const host of HOSTS) {
    await t.addUser('alice', 'alice-password', host);
    await t.addUser('bob', 'bob-password', host);
  }
});
after(() => t.stop());

forEachHost((host) => {
  const exists = (local: string) => t.server.core.accounts.exists(Jid.of(local, host));
  const errorOf = (reply: string) => /<error\b[^>]*>[\s\S]*?<\/error>/.exec(reply)?.[0] ?? `(no error in ${reply})`;
  /** An IQ error with this condition, error type, XEP-0086 legacy code and (optionally) text. */
  const regError = (condition: string, type: string, code: string, text?: RegExp): StanzaShape => ({
    name: 'iq', attrs: { type: 'error' },
    has: [{ name: 'error', attrs: { type, code }, has: [{ name: condition, ns: NS_STANZAS }, ...(text ? [{ name: 'text', ns: NS_STANZAS, text }] : [])] }],
  });

  test('the register stream feature is offered after STARTTLS and before authentication only; disco#info lists jabber:iq:register', async () => {
    const c = await RawClient.connect(t.c2sPort);
    c.openStream(host);
    assert.doesNotMatch(await c.features(), FEATURE, 'not before TLS');
    await c.starttls(host);
    c.openStream(host);
    assert.match(await c.features(), FEATURE, 'after TLS, before SASL');
    assert.equal(await c.authScram('SCRAM-SHA-256', 'alice', 'alice-password').then((r) => r.startsWith('<success')), true);
    c.openStream(host);
    assert.doesNotMatch(await c.features(), FEATURE, 'not after authentication');
    const jid = await c.bind('disco');
    assert.equal(jid, `alice@${host}/disco`);
    c.send(`<iq type='get' id='d1' to='${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assertStanza(await expectIq(c, 'd1'), discoFeature('jabber:iq:register'));
    c.close();

    const direct = await RawClient.connect(t.c2sTlsPort, { tls: true });
    direct.openStream(host);
    assert.match(await direct.features(), FEATURE, 'direct TLS (XEP-0368) counts as TLS');
    direct.close();
  });

  test('a newcomer gets the form, registers, and logs in with the new account; the username is case-mapped', async () => {
    const { c, features } = await securedStream(t.c2sPort, host);
    assert.match(features, FEATURE);
    c.send(`<iq type='get' id='g1' to='${host}'><query xmlns='jabber:iq:register'/></iq>`);
    const form = await expectIq(c, 'g1');
    assertStanza(form, {
      name: 'iq', attrs: { type: 'result', from: host },
      children: [{ name: 'query', ns: 'jabber:iq:register', has: [{ name: 'instructions', text: /8 characters/ }, { name: 'username', children: [] }, { name: 'password', children: [] }] }],
    });
    assert.doesNotMatch(form, /<registered\/>/, 'an unauthenticated requester is not registered (§3.1)');

    c.send("<iq type='set' id='s1'><query xmlns='jabber:iq:register'><username>Carol</username><password>carol-secret</password></query></iq>");
    const ok = await expectIq(c, 's1');
    assert.match(ok, /^<iq [^>]*type=["']result["'][^>]*\/>$/, ok);
    assert.doesNotMatch(ok, /\bto=/, 'an unauthenticated stream has no address to answer to');
    assert.equal(await exists('carol'), true);
    // XEP-0077 §3.1.1: the same stream goes on to authenticate with the new identity.
    assert.match(await c.authScram('SCRAM-SHA-256', 'carol', 'carol-secret'), /^<success/);
    c.close();
    assert.equal(await canLogin(t.c2sPort, 'carol', 'carol-secret', host), true);
  });

  test('registering a taken name is a conflict (409); the account keeps its password', async () => {
    const r = await registerRaw(t.c2sPort, 'alice', 'another-password', host);
    // the request is echoed (§3.1 Example 6), with the legacy code (§3.1 Table 1)
    assertStanza(r, { ...regError('conflict', 'cancel', '409'), has: [...regError('conflict', 'cancel', '409').has!, { name: 'query', has: [{ name: 'username', text: 'alice' }] }] });
    assert.doesNotMatch(r, /another-password/, 'but never the password');
    // Case-mapped names collide too (RFC 7622 localpart preparation).
    assertStanza(await registerRaw(t.c2sPort, 'ALICE', 'another-password', host), stanzaError('conflict'));
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-password', host), true);
    assert.equal(await canLogin(t.c2sPort, 'alice', 'another-password', host), false);
  });

  test('weak passwords, missing fields and invalid usernames are refused and create nothing', async () => {
    const weak = await registerRaw(t.c2sPort, 'dave', 'short', host);
    assertStanza(weak, regError('not-acceptable', 'modify', '406', /^the password is too weak/));
    assert.equal(await exists('dave'), false);
    // XEP-0077 §3.1: missing information, an empty <password/> included, is <not-acceptable/>.
    for (const [name, body] of [
      ['no password', '<username>dave</username>'],
      ['empty password', '<username>dave</username><password/>'],
      ['no username', '<password>long-enough-pw</password>'],
      ['nothing', ''],
    ]) {
      const { c } = await securedStream(t.c2sPort, host);
      c.send(`<iq type='set' id='m'><query xmlns='jabber:iq:register'>${body}</query></iq>`);
      assertStanza(await expectIq(c, 'm'), stanzaError('not-acceptable'), { what: name });
      c.close();
    }
    const bad = await registerRaw(t.c2sPort, 'da ve', 'long-enough-pw', host);
    assertStanza(bad, stanzaError('jid-malformed'));
    assert.match(errorOf(bad), /code=["']400["']/);
    assertStanza(await registerRaw(t.c2sPort, 'dave@evil', 'long-enough-pw', host), stanzaError('jid-malformed'));
    // SASLprep (RFC 4013 §2.3, RFC 3454 C.3) prohibits private-use characters in passwords.
    assert.match(errorOf(await registerRaw(t.c2sPort, 'dave', 'long-enough\ue000pw', host)), /<not-acceptable [\s\S]*characters that are not allowed/);
    assert.equal(await exists('dave'), false);
    assert.deepEqual(await t.server.core.accounts.list(host), [`alice@${host}`, `bob@${host}`, `carol@${host}`]);
  });

  test('without TLS nothing is offered and registration is refused with not-authorized; the password is not stored', async () => {
    // A listener that does not require STARTTLS: the stream can authenticate in the clear, but not register.
    const c = await RawClient.connect(insecurePort);
    c.openStream(host);
    const features = await c.features();
    assert.match(features, /<mechanisms /, 'SASL is offered in the clear on this listener');
    assert.doesNotMatch(features, FEATURE);
    c.send("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>");
    assertStanza(await expectIq(c, 'g'), stanzaError('not-authorized'));
    c.send("<iq type='set' id='s'><query xmlns='jabber:iq:register'><username>eve</username><password>eve-password</password></query></iq>");
    const r = await expectIq(c, 's');
    assertStanza(r, regError('not-authorized', 'modify', '401', /^in-band registration needs an encrypted stream/));
    c.close();
    // The same before STARTTLS on a listener that requires it.
    const d = await RawClient.connect(t.c2sPort);
    d.openStream(host);
    await d.features();
    d.send("<iq type='set' id='s'><query xmlns='jabber:iq:register'><username>eve</username><password>eve-password</password></query></iq>");
    assertStanza(await expectIq(d, 's'), stanzaError('not-authorized'));
    d.close();
    assert.equal(await exists('eve'), false);
  });

  test('before authentication: remove is an unexpected-request, and any other IQ still ends the stream', async () => {
    const { c } = await securedStream(t.c2sPort, host);
    c.send("<iq type='set' id='r'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    assertStanza(await expectIq(c, 'r'), stanzaError('unexpected-request'));
    c.send("<iq type='get' id='bad'><query xmlns='jabber:iq:register'/><ping xmlns='urn:xmpp:ping'/></iq>");
    assertStanza(await expectIq(c, 'bad'), stanzaError('bad-request'));
    c.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.match(await c.waitClosed(), /<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
  });

  test('the access rule: an unknown rule closes registration (no feature, forbidden); a rule can reserve names', async () => {
    await t.server.modules.reload('register', { access: 'no_such_rule' });
    try {
      const { c, features } = await securedStream(t.c2sPort, host);
      assert.doesNotMatch(features, FEATURE);
      c.send("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>");
      assertStanza(await expectIq(c, 'g'), stanzaError('forbidden'));
      c.close();
      const r = await registerRaw(t.c2sPort, 'frank', 'frank-password', host);
      assert.match(errorOf(r), /code=["']403["']/);
      assertStanza(r, stanzaError('forbidden'));
      assert.equal(await exists('frank'), false);
    } finally {
      await t.server.modules.reload('register', {});
    }
  });

  test('a server whose rule denies everyone offers no feature and refuses get and set with forbidden', async () => {
    const closed = await startTestServer({
      modules: { register: {} },
      acl: { reserved: { user_regexp: ['^admin'] }, loopback: { ip: ['127.0.0.0/8'] } },
      access_rules: { register: [{ deny: 'all' }], register_named: [{ deny: 'reserved' }, { allow: 'loopback' }] },
    });
    try {
      const { c, features } = await securedStream(closed.c2sPort, host);
      assert.doesNotMatch(features, FEATURE);
      c.send("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>");
      assertStanza(await expectIq(c, 'g'), stanzaError('forbidden'));
      c.send("<iq type='set' id='s'><query xmlns='jabber:iq:register'><username>gina</username><password>gina-password</password></query></iq>");
      assertStanza(await expectIq(c, 's'), stanzaError('forbidden'));
      c.close();
      assert.deepEqual(await closed.server.core.accounts.list(), []);

      // The `access` option names another rule; it sees the requested JID too, so names can be reserved.
      await closed.server.modules.reload('register', { access: 'register_named' });
      assertStanza(await registerRaw(closed.c2sPort, 'administrator', 'admin-password', host), stanzaError('forbidden'));
      assert.match(await registerRaw(closed.c2sPort, 'gina', 'gina-password', host), /type=["']result["']/);
      assert.deepEqual(await closed.server.core.accounts.list(), [`gina@${host}`]);
    } finally {
      await closed.stop();
    }
  });

  test('alice asks for her registration and gets <registered/> with her username', async () => {
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'reg', { host });
    c.send("<iq type='get' id='q1'><query xmlns='jabber:iq:register'/></iq>");
    const r = await expectIq(c, 'q1');
    // the password is never shown
    assertStanza(r, iqResult({ name: 'query', ns: 'jabber:iq:register', has: [{ name: 'registered' }, { name: 'username', text: 'alice' }, { name: 'password', text: '', children: [] }] }));
    c.send(`<iq type='get' id='q2' to='${host}'><query xmlns='jabber:iq:register'/></iq>`);
    assert.match(await expectIq(c, 'q2'), /<registered\/>/, 'the same when addressed to the server');
    c.close();
  });

  test('alice changes her password (to her account and to the server); the old one stops working', async () => {
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'pw', { host });
    c.send("<iq type='set' id='c1'><query xmlns='jabber:iq:register'><username>alice</username><password>alice-second</password></query></iq>");
    assert.match(await expectIq(c, 'c1'), /type=["']result["']/);
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-password', host), false);
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-second', host), true);
    // XEP-0077 §3.3 Example 18 addresses the server.
    c.send(`<iq type='set' id='c2' to='${host}'><query xmlns='jabber:iq:register'><username>Alice</username><password>alice-password</password></query></iq>`);
    assert.match(await expectIq(c, 'c2'), /type=["']result["']/);
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-password', host), true);
    c.close();
  });

  test('password change errors: someone else’s name, empty, weak, incomplete; the password is never echoed', async () => {
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'pw-err', { host });
    const cases: Array<[string, string, RegExp]> = [
      ['bob’s account', '<username>bob</username><password>stolen-password</password>', /<forbidden /],
      ['empty password', '<username>alice</username><password/>', /<bad-request /],
      ['weak password', '<username>alice</username><password>weak</password>', /<not-acceptable /],
      ['no username', '<password>alice-third-pw</password>', /<bad-request /],
      ['no password', '<username>alice</username>', /<bad-request /],
    ];
    for (const [name, body, condition] of cases) {
      c.send(`<iq type='set' id='e'><query xmlns='jabber:iq:register'>${body}</query></iq>`);
      const r = await expectIq(c, 'e');
      assert.match(errorOf(r), condition, name);
      assert.doesNotMatch(r, /<query/, `${name}: XEP-0077 §3.3 — the request is not echoed`);
    }
    assert.equal(await canLogin(t.c2sPort, 'alice', 'alice-password', host), true, 'an empty <password/> keeps the existing one');
    assert.equal(await canLogin(t.c2sPort, 'bob', 'bob-password', host), true);
    c.close();
  });

  test('a password change on an unencrypted session is refused with not-authorized (§3.3)', async () => {
    const c = await RawClient.connect(insecurePort);
    c.openStream(host);
    await c.features();
    assert.match(await c.authScram('SCRAM-SHA-256', 'bob', 'bob-password'), /^<success/);
    c.openStream(host);
    await c.features();
    await c.bind('clear');
    c.send("<iq type='set' id='c'><query xmlns='jabber:iq:register'><username>bob</username><password>bob-cleartext</password></query></iq>");
    const r = await expectIq(c, 'c');
    assertStanza(r, stanzaError('not-authorized'));
    assert.match(errorOf(r), /type=["']modify["']/);
    c.close();
    assert.equal(await canLogin(t.c2sPort, 'bob', 'bob-password', host), true);
  });

  test('options: allow_password_change and allow_removal false answer not-allowed', async () => {
    await t.server.modules.reload('register', { allow_password_change: false, allow_removal: false, min_password_length: 12 });
    try {
      const { c } = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'opts', { host });
      c.send("<iq type='get' id='q'><query xmlns='jabber:iq:register'/></iq>");
      assert.doesNotMatch(await expectIq(c, 'q'), /<password/, 'no password field when it cannot be changed');
      c.send("<iq type='set' id='c'><query xmlns='jabber:iq:register'><username>bob</username><password>bob-new-password</password></query></iq>");
      assert.match(errorOf(await expectIq(c, 'c')), /code=["']405["'][^>]*>?[\s\S]*<not-allowed /);
      c.send("<iq type='set' id='r'><query xmlns='jabber:iq:register'><remove/></query></iq>");
      assertStanza(await expectIq(c, 'r'), stanzaError('not-allowed'));
      c.close();
      assert.equal(await exists('bob'), true);
      // min_password_length: 12 refuses what 8 accepted.
      assertStanza(await registerRaw(t.c2sPort, 'hank', 'nine-char', host), stanzaError('not-acceptable'));
      assert.match(await registerRaw(t.c2sPort, 'hank', 'twelve-chars', host), /type=["']result["']/);
    } finally {
      await t.server.modules.reload('register', {});
    }
  });

  test('bob cannot manage alice’s registration: to her bare JID it is service-unavailable', async () => {
    const { c } = await RawClient.login(t.c2sPort, 'bob', 'bob-password', 'nosy', { host });
    c.send(`<iq type='set' id='x' to='alice@${host}'><query xmlns='jabber:iq:register'><remove/></query></iq>`);
    assertStanza(await expectIq(c, 'x'), stanzaError('service-unavailable'));
    c.send(`<iq type='get' id='y' to='alice@${host}'><query xmlns='jabber:iq:register'/></iq>`);
    assertStanza(await expectIq(c, 'y'), stanzaError('service-unavailable'));
    c.close();
    assert.equal(await exists('alice'), true);
  });
});
