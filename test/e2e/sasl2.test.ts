// SASL2 (XEP-0388), Bind2 (XEP-0386) and FAST (XEP-0484) over real sockets: alice logs in with SCRAM and PLAIN
// in the SASL2 profile without a stream restart, binds inline with a tag, enables carbons inline, asks for a
// FAST token and logs in with it on a second connection; wrong, foreign and expired tokens fail.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertStanza, parseStanza } from '../support/stanza-match.js';
import { sasl2Plain, sasl2Scram, sasl2Token } from '../support/sasl2-client.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import xml from '@xmpp/xml';
import { roundTrip, session as carbonsSession } from '../../modules/carbons/test-support.js';

const PASSWORD = 'pw-alice'; // the password modules/carbons/test-support.ts logs in with
const SASL2 = 'urn:xmpp:sasl:2';
const BIND2 = 'urn:xmpp:bind:0';
const FAST = 'urn:xmpp:fast:0';

describe('SASL2, Bind2 and FAST', () => {
  let t: TestServer;
  const lines: string[] = [];
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const clients: RawClient[] = [];
  const secured = async () => {
    const c = await RawClient.secured(t.c2sPort);
    clients.push(c);
    return c;
  };

  before(async () => {
    t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, carbons: {} } }, { log: new Logger('info', {}, (l) => lines.push(l), false) });
    await t.addUser('alice', PASSWORD);
    await t.addUser('bob', 'pw-bob');
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.stop();
  });

  test('after STARTTLS the features offer <authentication/> with the mechanisms, Bind2 with carbons inline, and FAST', async () => {
    const c = await RawClient.connect(t.c2sPort);
    clients.push(c);
    c.openStream();
    const plainText = await c.features();
    assert.doesNotMatch(plainText, /urn:xmpp:sasl:2/, 'no SASL2 before TLS');
    await c.starttls();
    c.openStream();
    const features = parseStanza(await c.features());
    const auth = features.getChild('authentication', SASL2);
    assert.ok(auth, 'an <authentication/> feature');
    assert.deepEqual(auth.getChildren('mechanism').map((m) => m.getText()), features.getChild('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl')!.getChildren('mechanism').map((m) => m.getText()));
    const inline = auth.getChild('inline')!;
    assert.deepEqual(inline.getChild('bind', BIND2)!.getChild('inline')!.getChildren('feature').map((f) => f.attrs.var), ['urn:xmpp:carbons:2']);
    assert.deepEqual(inline.getChild('fast', FAST)!.getChildren('mechanism').map((m) => m.getText()), ['HT-SHA-256-NONE']);
  });

  test('alice logs in with SCRAM-SHA-256 in SASL2: no stream restart, the bare JID is the identity, the features follow and classic bind works', async () => {
    const c = await secured();
    const success = await sasl2Scram(c, 'SCRAM-SHA-256', 'alice', PASSWORD);
    assertStanza(success, { name: 'success', attrs: { xmlns: SASL2 }, children: [{ name: 'additional-data' }, { name: 'authorization-identifier', text: 'alice@localhost' }] });
    // No <stream:stream> from the client: the server goes on with the authenticated stream's features.
    const features = await c.features();
    assert.match(features, /<bind xmlns=["']urn:ietf:params:xml:ns:xmpp-bind["']/);
    assert.equal(await c.bind('classic'), 'alice@localhost/classic');
    const login = records().filter((r) => r.msg === 'authenticated').at(-1)!;
    assert.deepEqual([login.user, login.mechanism, login.sasl2], ['alice@localhost', 'SCRAM-SHA-256', true]);
  });

  test('alice logs in with PLAIN and Bind2: the resource is her tag plus a suffix, the full JID is the identity, the session routes', async () => {
    const c = await secured();
    const success = parseStanza(await sasl2Plain(c, 'alice', PASSWORD, { inline: `<bind xmlns='${BIND2}'><tag>AwesomeXMPP</tag></bind>` }));
    const jid = success.getChildText('authorization-identifier')!;
    assert.match(jid, /^alice@localhost\/AwesomeXMPP\.[0-9a-f]{8}$/);
    assert.ok(success.getChild('bound', BIND2), '<bound/> in <success/>');
    // Bound: a stanza round trip works at once, and bob's message to the full JID arrives.
    await roundTrip(c);
    const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'b');
    clients.push(bob);
    bob.send(`<message to='${jid}' id='m1' type='chat'><body>hi</body></message>`);
    assert.match((await c.expect(/<message[\s\S]*?<\/message>/))[0], /<body>hi<\/body>/);
  });

  test('a wrong password fails with the SASL2 <failure/> and the RFC 6120 condition, logged with the account and reason', async () => {
    const c = await secured();
    const failure = await sasl2Plain(c, 'alice', 'wrong');
    assertStanza(failure, { name: 'failure', attrs: { xmlns: SASL2 }, children: [{ name: 'not-authorized', attrs: { xmlns: 'urn:ietf:params:xml:ns:xmpp-sasl' } }] });
    const logged = records().filter((r) => r.msg === 'authentication failed' || r.reason === 'wrong password').at(-1)!;
    assert.equal(logged.account, 'alice@localhost');
    assert.equal(logged.reason, 'wrong password');
    // An unknown mechanism is invalid-mechanism.
    c.send(`<authenticate xmlns='${SASL2}' mechanism='X-NONE'><initial-response>=</initial-response></authenticate>`);
    assert.match((await c.expect(/<failure[\s\S]*?<\/failure>/))[0], /<invalid-mechanism xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
  });

  test('Bind2 <enable/> for carbons: a copy of bob’s message to alice’s other resource arrives without an enable IQ', async () => {
    const phone = await secured();
    const success = parseStanza(await sasl2Scram(phone, 'SCRAM-SHA-256', 'alice', PASSWORD, {
      inline: `<bind xmlns='${BIND2}'><tag>Phone</tag><enable xmlns='urn:xmpp:carbons:2'/></bind>`,
    }));
    assert.ok(success.getChild('bound', BIND2));
    phone.send('<presence/>');
    await roundTrip(phone);
    const desk = await carbonsSession(t.c2sPort, 'alice', 'desk', {});
    clients.push(desk);
    const bob = await carbonsSession(t.c2sPort, 'bob', 'b2', {});
    clients.push(bob);
    bob.send(`<message to='alice@localhost/desk' id='m2' type='chat'><body>to the desk</body></message>`);
    const copy = parseStanza((await phone.expect(/<message[^>]*><received[\s\S]*?<\/received><\/message>/))[0]);
    assertStanza(copy, { name: 'message', attrs: { from: 'alice@localhost' }, children: [{ name: 'received', attrs: { xmlns: 'urn:xmpp:carbons:2' } }] });
  });

  test('FAST: alice asks for a token with SCRAM, then logs in with HT-SHA-256-NONE on a second connection; it works only for her client', async () => {
    const agentId = '9c6f4e0e-59a9-4e55-8d4a-1e0c5b1f6a01';
    const first = await secured();
    const success = parseStanza(await sasl2Scram(first, 'SCRAM-SHA-256', 'alice', PASSWORD, {
      agentId, inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/><bind xmlns='${BIND2}'><tag>Fast</tag></bind>`,
    }));
    const tokenEl = success.getChild('token', FAST)!;
    assert.ok(tokenEl, 'a <token/> in <success/>');
    const expiry = Date.parse(tokenEl.attrs.expiry);
    assert.ok(expiry > Date.now() + 13 * 86400_000 && expiry <= Date.now() + 14 * 86400_000, 'expires after sasl2.fast_token_lifetime (14 days)');
    const token = tokenEl.attrs.token as string;
    // Never stored or logged as such.
    assert.ok(!lines.some((l) => l.includes(token)), 'the token is not in the log');
    const rows = await t.server.core.store.table('fast_tokens').range({});
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(token), 'the token is not in the database');

    const second = await secured();
    const again = parseStanza(await sasl2Token(second, 'alice', token, { agentId, inline: `<bind xmlns='${BIND2}'><tag>Fast</tag></bind>` }));
    assert.match(again.getChildText('authorization-identifier')!, /^alice@localhost\/Fast\.[0-9a-f]{8}$/);
    await roundTrip(second);
    const login = records().filter((r) => r.msg === 'authenticated').at(-1)!;
    assert.equal(login.mechanism, 'HT-SHA-256-NONE');

    // Another client's id, a wrong token, and the PLAIN mechanism list: not-authorized.
    const other = await secured();
    assert.match(await sasl2Token(other, 'alice', token, { agentId: 'another-client' }), /<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    assert.match(await sasl2Token(other, 'alice', `${token}x`, { agentId }), /<not-authorized/);
    // The classic profile does not offer the FAST mechanism.
    other.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='HT-SHA-256-NONE'>${Buffer.from('alice\0x').toString('base64')}</auth>`);
    assert.match((await other.expect(/<failure[\s\S]*?<\/failure>/))[0], /<invalid-mechanism\/>/);
  });

  test('FAST: an expired token fails with credentials-expired; the client falls back to its password and gets a new one', async () => {
    const agentId = 'a0a0a0a0-0000-4000-8000-000000000001';
    const c = await secured();
    const token = parseStanza(await sasl2Plain(c, 'alice', PASSWORD, { agentId, inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` })).getChild('token', FAST)!.attrs.token as string;
    // Age the stored token past its expiry.
    const table = t.server.core.store.table<{ tokens: Array<{ expires: number }> }>('fast_tokens');
    const rows = await table.range({});
    const ops = rows.map((r) => ({ type: 'put' as const, table: 'fast_tokens', key: r.key, value: { tokens: r.value.tokens.map((x) => ({ ...x, expires: Date.now() - 1000 })) } }));
    await t.server.core.store.transact(ops);
    const d = await secured();
    assert.match(await sasl2Token(d, 'alice', token, { agentId }), /<credentials-expired xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    const renewed = parseStanza(await sasl2Plain(d, 'alice', PASSWORD, { agentId, inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` }));
    assert.ok(renewed.getChild('token', FAST));
  });

  test('FAST: a rotated token keeps the used one valid until the new one is used; invalidate retires the used one', async () => {
    const agentId = 'b1b1b1b1-0000-4000-8000-000000000002';
    const c = await secured();
    const t1 = parseStanza(await sasl2Plain(c, 'alice', PASSWORD, { agentId, inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` })).getChild('token', FAST)!.attrs.token as string;
    const d = await secured();
    const t2 = parseStanza(await sasl2Token(d, 'alice', t1, { agentId, inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` })).getChild('token', FAST)!.attrs.token as string;
    assert.notEqual(t2, t1);
    // The <success/> with t2 might have been lost: t1 still works once...
    assert.match(await sasl2Token(await secured(), 'alice', t1, { agentId }), /^<success/);
    // ...until t2 is used, which retires t1.
    assert.match(await sasl2Token(await secured(), 'alice', t2, { agentId }), /^<success/);
    assert.match(await sasl2Token(await secured(), 'alice', t1, { agentId }), /<not-authorized/);
    // <fast invalidate='true'/>: this login is the token's last.
    assert.match(await sasl2Token(await secured(), 'alice', t2, { agentId, inline: `<fast xmlns='${FAST}' invalidate='true'/>` }), /^<success/);
    assert.match(await sasl2Token(await secured(), 'alice', t2, { agentId }), /<not-authorized/);
  });

  test('sasl2_features and sasl2_inline: a module offers an inline feature, gets the request with the user, and answers in <success/>', async () => {
    const NS_X = 'urn:example:inline';
    const seen: string[] = [];
    const off = [
      t.server.core.hooks.on('sasl2_features', (inline) => [...inline, xml('x', { xmlns: NS_X })], 50, 'test', 'localhost'),
      t.server.core.hooks.on('sasl2_inline', (answers, { element, user, outcome }) => {
        if (element.attrs.xmlns !== NS_X) return;
        seen.push(`${element.name} ${user.toString()} ${outcome.resumed}`);
        return [...answers, xml('done', { xmlns: NS_X })];
      }, 50, 'test', 'localhost'),
    ];
    try {
      const c = await RawClient.connect(t.c2sPort);
      clients.push(c);
      c.openStream();
      await c.features();
      await c.starttls();
      c.openStream();
      assert.ok(parseStanza(await c.features()).getChild('authentication', SASL2)!.getChild('inline')!.getChild('x', NS_X));
      const success = parseStanza(await sasl2Plain(c, 'alice', PASSWORD, { inline: `<ask xmlns='${NS_X}'/><bind xmlns='${BIND2}'/>` }));
      assert.deepEqual(seen, ['ask alice@localhost null']);
      assert.ok(success.getChild('done', NS_X), 'the answer is in <success/>');
      assert.ok(success.getChild('bound', BIND2), 'Bind2 still happens when no module resumed a session');
    } finally {
      for (const f of off) f();
    }
  });

  test('a password change and removing the account end its FAST tokens', async () => {
    await t.addUser('carol', 'pw-carol');
    const c = await secured();
    assert.ok(parseStanza(await sasl2Plain(c, 'carol', 'pw-carol', { inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` })).getChild('token', FAST));
    const table = t.server.core.store.table('fast_tokens');
    assert.equal((await table.range({ prefix: 'localhost/carol/' })).length, 1);
    // A password change ends the tokens too.
    await t.server.core.accounts.setPassword(Jid.of('carol', 'localhost'), 'pw-carol-2');
    assert.equal((await table.range({ prefix: 'localhost/carol/' })).length, 0);
    assert.ok(parseStanza(await sasl2Plain(await secured(), 'carol', 'pw-carol-2', { inline: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` })).getChild('token', FAST));
    assert.equal((await table.range({ prefix: 'localhost/carol/' })).length, 1);
    await t.server.core.accounts.remove(Jid.of('carol', 'localhost'));
    assert.equal((await table.range({ prefix: 'localhost/carol/' })).length, 0);
    assert.ok((await table.range({ prefix: 'localhost/alice/' })).length > 0, "alice's tokens stay");
  });
});

test('SASL2 wrong passwords count for the throttle (limits.auth): the address is locked for SASL2 and classic SASL alike', async () => {
  const t = await startTestServer({ limits: { auth: { failures_before_delay: 1, delay_ms: 100, max_delay_ms: 200, max_failures_per_ip: 2, lock_seconds: 30, max_lock_seconds: 60, failure_decay_seconds: 600, max_tracked: 1000 } } });
  const cs: RawClient[] = [];
  try {
    await t.addUser('alice', PASSWORD);
    const c = await RawClient.secured(t.c2sPort);
    cs.push(c);
    assert.match(await sasl2Plain(c, 'alice', 'guess-1'), /<not-authorized/);
    assert.match(await sasl2Plain(c, 'alice', 'guess-2'), /<not-authorized/);
    const d = await RawClient.secured(t.c2sPort);
    cs.push(d);
    assert.match(await sasl2Plain(d, 'alice', PASSWORD), /<temporary-auth-failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/><text[^>]*>too many failed attempts/);
    const e = await RawClient.secured(t.c2sPort);
    cs.push(e);
    assert.match(await e.authPlain('alice', PASSWORD), /temporary-auth-failure/);
  } finally {
    for (const c of cs) c.close();
    await t.stop();
  }
});

test('sasl2.enabled false: no <authentication/> feature and an <authenticate/> is not accepted; sasl2.fast false: no FAST', async () => {
  const t = await startTestServer({ sasl2: { enabled: false } });
  const u = await startTestServer({ sasl2: { fast: false } });
  try {
    await t.addUser('alice', PASSWORD);
    const c = await RawClient.connect(t.c2sPort);
    c.openStream();
    await c.features();
    await c.starttls();
    c.openStream();
    assert.doesNotMatch(await c.features(), /urn:xmpp:sasl:2/);
    c.send(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${Buffer.from(`\0alice\0${PASSWORD}`).toString('base64')}</initial-response></authenticate>`);
    assert.match((await c.expect(/<stream:error>[\s\S]*?<\/stream:error>/))[0], /not-authorized/);
    c.close();
    const d = await RawClient.connect(u.c2sPort);
    d.openStream();
    await d.features();
    await d.starttls();
    d.openStream();
    const f = parseStanza(await d.features()).getChild('authentication', SASL2)!;
    assert.ok(f.getChild('inline')!.getChild('bind', BIND2));
    assert.equal(f.getChild('inline')!.getChild('fast', FAST), undefined);
    d.close();
  } finally {
    await t.stop();
    await u.stop();
  }
});

