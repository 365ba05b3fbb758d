// Logins as deployed clients do them (issue 10): SCRAM -PLUS with tls-unique (RFC 5929 §3) beside tls-exporter
// (RFC 9266, preferred in the XEP-0440 list), the channel_binding option, answers to the client's own session
// without a 'from' (RFC 6120 §8.1.2.1), and failed logins logged with the claimed account and the reason.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { ScramClient } from '../../src/core/sasl/scram-client.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';

const PASSWORD = 'correct horse battery';
const cbTypes = (features: string) => [...features.matchAll(/<channel-binding type=["']([^"']+)["']/g)].map((m) => m[1]);
const mechanisms = (features: string) => [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);

async function server(extra: Record<string, unknown> = {}): Promise<{ t: TestServer; records: () => Array<Record<string, unknown>>; lines: string[] }> {
  const lines: string[] = [];
  const t = await startTestServer(extra, { log: new Logger('info', {}, (l) => lines.push(l), false) });
  await t.addUser('alice', PASSWORD);
  return { t, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** STARTTLS at the highest version both ends have (TLS 1.3 here): the features offered for SASL. */
async function secured(t: TestServer): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  await c.features();
  await c.starttls();
  c.openStream();
  return { c, features: await c.features() };
}

describe('default channel binding', () => {
  let s: Awaited<ReturnType<typeof server>>;
  before(async () => {
    s = await server();
  });
  after(() => s.t.stop());

  test('TLS 1.3 offers -PLUS with tls-exporter first and tls-unique last (XEP-0440)', async () => {
    const { c, features } = await secured(s.t);
    try {
      assert.deepEqual(cbTypes(features), ['tls-exporter', 'tls-server-end-point', 'tls-unique']);
      assert.equal(mechanisms(features)[0], 'SCRAM-SHA-256-PLUS');
    } finally {
      c.close();
    }
  });

  test('alice logs in with SCRAM-SHA-256-PLUS over tls-unique; the login is logged with TLS version and binding', async () => {
    const { c } = await secured(s.t);
    try {
      assert.match(await c.authScram('SCRAM-SHA-256-PLUS', 'alice', PASSWORD, 'tls-unique'), /^<success/);
      const login = s.records().filter((r) => r.msg === 'authenticated').at(-1)!;
      assert.deepEqual([login.user, login.mechanism, login.channel_binding, login.tls], ['alice@localhost', 'SCRAM-SHA-256-PLUS', 'tls-unique', 'TLSv1.3']);
    } finally {
      c.close();
    }
  });

  test('tls-unique data of another TLS connection fails with channel-bindings-dont-match', async () => {
    const other = await secured(s.t);
    const { c } = await secured(s.t);
    try {
      const foreign = other.c.tlsSocket.getFinished()!;
      assert.match(await c.authScram('SCRAM-SHA-256-PLUS', 'alice', PASSWORD, 'tls-unique', foreign), /channel-bindings-dont-match/);
    } finally {
      other.c.close();
      c.close();
    }
  });

  test('bind and session results to alice’s own session carry no from (as ejabberd and Prosody send them)', async () => {
    const { c } = await secured(s.t);
    try {
      assert.match(await c.authScram('SCRAM-SHA-256-PLUS', 'alice', PASSWORD, 'tls-exporter'), /^<success/);
      c.openStream();
      await c.features();
      const bind = await c.iq('b1', `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r1</resource></bind></iq>`);
      assert.match(bind, /<jid>alice@localhost\/r1<\/jid>/);
      assert.doesNotMatch(bind.slice(0, bind.indexOf('>')), /\bfrom=/, bind);
      const session = await c.iq('s1', `<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
      assert.match(session, /type=["']result["']/);
      assert.doesNotMatch(session, /\bfrom=/, session);
      const toServer = await c.iq('s2', `<iq type='set' id='s2' to='localhost'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
      assert.match(toServer, /type=["']result["']/);
      assert.match(toServer, /from=["']localhost["']/, 'addressed to the server: answered from it');
      // An IQ the client addressed to the server is answered from the server.
      const ping = await c.iq('p1', `<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assert.match(ping, /from=["']localhost["']/);
    } finally {
      c.close();
    }
  });
});

describe('failed logins are logged with the claimed account and the reason, never the secret', () => {
  let s: Awaited<ReturnType<typeof server>>;
  before(async () => {
    // No throttle delay, so five failures stay fast; sasl_max_failures high enough for one connection each.
    s = await server({ limits: { auth: { failures_before_delay: 100, max_failures_per_ip: 100 } } });
    await s.t.addUser('mallet', 'mallet-password-1');
    await s.t.server.core.accounts.ban(Jid.of('mallet', 'localhost'), 'spam');
  });
  after(() => s.t.stop());

  const failure = (account: string) => s.records().filter((r) => r.msg === 'authentication failed' && r.account === account).at(-1);

  test('wrong password, no such account, unsupported channel binding, unknown mechanism, disabled account', async () => {
    const cases: Array<[string, (c: RawClient) => Promise<unknown>, string, string]> = [
      ['alice@localhost', (c) => c.authScram('SCRAM-SHA-256', 'alice', 'hunter2-wrong'), 'wrong password', 'not-authorized'],
      ['nobody@localhost', (c) => c.authPlain('nobody', 'hunter2-wrong'), 'no such account', 'not-authorized'],
      ['alice@localhost', (c) => c.authScram('SCRAM-SHA-256-PLUS', 'alice', 'hunter2-wrong', 'tls-bogus', Buffer.from('x')), 'unsupported channel binding type tls-bogus', 'not-authorized'],
      ['mallet@localhost', (c) => c.authPlain('mallet', 'mallet-password-1'), 'account disabled', 'account-disabled'],
    ];
    for (const [account, attempt, reason, condition] of cases) {
      const { c } = await secured(s.t);
      try {
        await attempt(c);
        const r = failure(account);
        assert.ok(r, `a failure of ${account} is logged: ${s.lines.join('\n')}`);
        assert.deepEqual([r.reason, r.condition, r.kind, r.ip], [reason, condition, 'c2s', '127.0.0.1']);
      } finally {
        c.close();
      }
    }
    const { c } = await secured(s.t);
    try {
      const first = Buffer.from(new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'alice', password: 'x' }).clientFirst()).toString('base64');
      c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'>${first}</auth>`);
      await c.expect(/<failure[\s\S]*?<\/failure>/);
      const r = s.records().filter((x) => x.msg === 'authentication failed').at(-1)!;
      assert.deepEqual([r.reason, r.condition], ['mechanism X-UNKNOWN not offered', 'invalid-mechanism']);
    } finally {
      c.close();
    }
    for (const secret of ['hunter2-wrong', 'mallet-password-1', Buffer.from('\0nobody\0hunter2-wrong').toString('base64')]) {
      assert.ok(!s.lines.some((l) => l.includes(secret)), `no secret or SASL payload in the log (${secret})`);
    }
  });
});

describe('channel_binding option', () => {
  test('plus: false offers no -PLUS and no binding list, so a client’s gs2 “y” is no downgrade', async () => {
    const s = await server({ channel_binding: { plus: false } });
    try {
      const { c, features } = await secured(s.t);
      try {
        assert.deepEqual(cbTypes(features), []);
        assert.ok(!mechanisms(features).some((m) => m!.endsWith('-PLUS')), features);
        const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'alice', password: PASSWORD, clientSupportsChannelBinding: true });
        c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${client.clientFirst().toString('base64')}</auth>`);
        const m = await c.expect(/<challenge[^>]*>([^<]*)<\/challenge>/);
        c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${(await client.clientFinal(Buffer.from(m[1]!, 'base64'))).toString('base64')}</response>`);
        await c.expect(/<success/);
      } finally {
        c.close();
      }
    } finally {
      await s.t.stop();
    }
  });

  test('tls_unique: tls12 drops tls-unique on TLS 1.3 (a client asking for it gets unsupported-channel-binding-type)', async () => {
    const s = await server({ channel_binding: { tls_unique: 'tls12' } });
    try {
      const { c, features } = await secured(s.t);
      try {
        assert.deepEqual(cbTypes(features), ['tls-exporter', 'tls-server-end-point']);
        assert.match(await c.authScram('SCRAM-SHA-256-PLUS', 'alice', PASSWORD, 'tls-unique'), /unsupported-channel-binding-type/);
      } finally {
        c.close();
      }
    } finally {
      await s.t.stop();
    }
  });
});
