// XEP-0313 where clients look for it and archiving preferences: the server's and the account's disco#info
// (Profanity asks the server's), <prefs/> get/set with their errors, and what each preference archives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import { bodies, query, sync } from './test-support.js';

const MAM = 'urn:xmpp:mam:2';
let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, mam: {} } });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = async (user: string, resource = 'r') => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource)).c;
const prefs = (def: string, always: string[], never: string[]) =>
  `<prefs xmlns='${MAM}' default='${def}'><always>${always.map((j) => `<jid>${j}</jid>`).join('')}</always><never>${never.map((j) => `<jid>${j}</jid>`).join('')}</never></prefs>`;
const prefsShape = (def: string, always: string[], never: string[]): StanzaShape => ({
  name: 'iq', attrs: { type: 'result' }, children: [{ name: 'prefs', ns: MAM, attrs: { default: def }, children: [
    { name: 'always', ns: MAM, children: always.map((j) => ({ name: 'jid', ns: MAM, text: j })) },
    { name: 'never', ns: MAM, children: never.map((j) => ({ name: 'jid', ns: MAM, text: j })) },
  ] }],
});
const errorShape = (cond: string): StanzaShape => ({ name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: cond, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }] });
let n = 0;
const iq = (c: RawClient, type: 'get' | 'set', payload: string, to?: string) => {
  const id = `p${++n}`;
  return c.iq(id, `<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
};

test('Profanity\'s check: disco#info to the server (and to the account) lists urn:xmpp:mam:2', async () => {
  const a = await login('alice', 'profanity');
  // Profanity 0.13 asks the server's domain and its disco#items, never the account, before /mam on.
  for (const to of ['localhost', 'alice@localhost']) {
    const info = await iq(a, 'get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", to);
    assertStanza(info, { name: 'iq', attrs: { type: 'result' }, has: [{ name: 'query', has: [{ name: 'feature', attrs: { var: MAM } }] }] });
  }
  a.close();
});

test('<prefs/>: the default until set; set replaces both lists and answers with what is stored; errors', async () => {
  const a = await login('alice', 'prefs');
  assertStanza(await iq(a, 'get', `<prefs xmlns='${MAM}'/>`), prefsShape('always', [], []));
  assertStanza(await iq(a, 'set', prefs('never', ['bob@localhost', 'bob@localhost', 'BOB@localhost/Phone'], ['carol@localhost'])),
    prefsShape('never', ['bob@localhost', 'bob@localhost/Phone'], ['carol@localhost']), {});
  assertStanza(await iq(a, 'get', `<prefs xmlns='${MAM}'/>`), prefsShape('never', ['bob@localhost', 'bob@localhost/Phone'], ['carol@localhost']));
  assertStanza(await iq(a, 'set', prefs('sometimes', [], [])), errorShape('bad-request'));
  assertStanza(await iq(a, 'set', prefs('always', ['not a jid@@'], [])), errorShape('jid-malformed'));
  assertStanza(await iq(a, 'get', `<prefs xmlns='${MAM}'/>`, 'bob@localhost'), errorShape('forbidden'));
  assertStanza(await iq(a, 'set', prefs('always', [], []), 'bob@localhost'), errorShape('forbidden'));
  const many = Array.from({ length: 1001 }, (_, i) => `u${i}@localhost`);
  assertStanza(await iq(a, 'set', prefs('always', many, [])), errorShape('policy-violation'));
  assertStanza(await iq(a, 'get', `<prefs xmlns='${MAM}'/>`), prefsShape('never', ['bob@localhost', 'bob@localhost/Phone'], ['carol@localhost']), {});
  a.close();
});

test('preferences decide what is archived, for sent and received messages: never wins over always, roster, default', async () => {
  const d = await login('dave');
  // dave: never archive, except bob; carol in both lists (never wins).
  assertStanza(await iq(d, 'set', prefs('never', ['bob@localhost', 'carol@localhost'], ['carol@localhost'])), { name: 'iq', attrs: { type: 'result' } });
  const b = await login('bob');
  const c = await login('carol');
  const e = await login('erin');
  await sync(b); await sync(c); await sync(e);
  b.send("<message to='dave@localhost' type='chat'><body>bob in</body></message>");
  c.send("<message to='dave@localhost' type='chat'><body>carol in</body></message>");
  e.send("<message to='dave@localhost' type='chat'><body>erin in</body></message>");
  await sync(b); await sync(c); await sync(e);
  d.send("<message to='bob@localhost' type='chat'><body>to bob</body></message>");
  d.send("<message to='carol@localhost' type='chat'><body>to carol</body></message>");
  d.send("<message to='erin@localhost' type='chat'><body>to erin</body></message>");
  await sync(d);
  assert.deepEqual(bodies(await query(d)), ['bob in', 'to bob']);
  // The peers' own preferences (the default, always) archive their side regardless of dave's.
  assert.deepEqual(bodies(await query(c)), ['carol in', 'to carol']);

  // roster: contacts only (erin is added; bob and carol stay listed).
  assertStanza(await iq(d, 'set', prefs('roster', ['bob@localhost'], ['carol@localhost'])), { name: 'iq', attrs: { type: 'result' } });
  assertStanza(await iq(d, 'set', "<query xmlns='jabber:iq:roster'><item jid='erin@localhost'/></query>"), { name: 'iq', attrs: { type: 'result' } });
  const a = await login('alice', 'r2');
  await sync(a);
  e.send("<message to='dave@localhost' type='chat'><body>erin is a contact</body></message>");
  a.send("<message to='dave@localhost' type='chat'><body>alice is not</body></message>");
  await sync(e); await sync(a);
  d.send("<message to='erin@localhost' type='chat'><body>to contact erin</body></message>");
  d.send("<message to='alice@localhost' type='chat'><body>to stranger alice</body></message>");
  await sync(d);
  assert.deepEqual(bodies(await query(d)), ['bob in', 'to bob', 'erin is a contact', 'to contact erin']);
  for (const x of [a, b, c, d, e]) x.close();
});

test('default_policy: roster is what an account without preferences gets; removing the account removes its preferences', async () => {
  const s = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, mam: { default_policy: 'roster' } } });
  try {
    await s.addUser('zoe', 'pw-zoe');
    const z = (await RawClient.login(s.c2sPort, 'zoe', 'pw-zoe', 'r')).c;
    assertStanza(await iq(z, 'get', `<prefs xmlns='${MAM}'/>`), prefsShape('roster', [], []));
    assertStanza(await iq(z, 'set', prefs('always', ['x@localhost'], [])), prefsShape('always', ['x@localhost'], []));
    z.close();
    await s.server.core.accounts.remove(Jid.parse('zoe@localhost'));
    await s.addUser('zoe', 'pw-zoe');
    const z2 = (await RawClient.login(s.c2sPort, 'zoe', 'pw-zoe', 'r')).c;
    assertStanza(await iq(z2, 'get', `<prefs xmlns='${MAM}'/>`), prefsShape('roster', [], []));
    z2.close();
  } finally {
    await s.stop();
  }
});
