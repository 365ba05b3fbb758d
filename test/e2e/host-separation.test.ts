// Virtual hosts are separate (issue 9, hooks per host): one server with localhost and example.test, the
// same localpart on both. A module instance handles its own host's stanzas and account data only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertStanza, type StanzaShape } from '../support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';

let t: TestServer;
before(async () => {
  t = await startTestServer(TWO_HOSTS);
  for (const host of ['localhost', 'example.test']) {
    await t.addUser('bob', 'bob-password', host);
    await t.addUser('alice', 'alice-password', host);
  }
});
after(() => t.stop());

const login = (user: string, host: string, resource = 'desk') =>
  RawClient.login(t.c2sPort, user, `${user}-password`, resource, { host }).then((r) => r.c);

/** An IQ result with the given id whose one child is `payload` (when given). */
const result = (id: string, payload?: StanzaShape): StanzaShape => ({ name: 'iq', attrs: { type: 'result', id }, ...(payload ? { children: [payload] } : {}) });
const vcard = (id: string, fn: string) => result(id, { name: 'vCard', ns: 'vcard-temp', has: [{ name: 'FN', text: fn }] });
const privateNote = (id: string, text: string) => result(id, { name: 'query', ns: 'jabber:iq:private', children: [{ name: 'note', ns: 'x:notes', text }] });
const rosterWith = (id: string, jid: string) => result(id, { name: 'query', ns: 'jabber:iq:roster', has: [{ name: 'item', attrs: { jid } }] });
const blocklistWith = (id: string, jid: string) => result(id, { name: 'blocklist', ns: 'urn:xmpp:blocking', has: [{ name: 'item', attrs: { jid } }] });

/** Send an IQ and return the whole answer. */
async function iq(c: RawClient, id: string, type: 'get' | 'set', payload: string): Promise<string> {
  c.send(`<iq type='${type}' id='${id}'>${payload}</iq>`);
  return (await c.expect(new RegExp(`<iq[^>]*id=["']${id}["'][^>]*(/>|>[\\s\\S]*?</iq>)`)))[0];
}

test('alice@localhost sends bob@example.test an offline message: bob receives it with a delay from example.test, counted under example.test', async () => {
  const alice = await login('alice', 'localhost');
  alice.send("<message to='bob@example.test' type='chat' id='off1'><body>while you were out</body></message>");
  // Stored once, by example.test's offline instance.
  const stored = async (host: string) =>
    Number(new RegExp(`xmppd_offline_messages_total\\{host="${host}",event="stored"\\} (\\d+)`).exec(await t.server.core.metrics.registry.metrics())?.[1] ?? 0);
  for (let i = 0; i < 100 && (await stored('example.test')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await stored('example.test'), 1);
  assert.equal(await stored('localhost'), 0, 'nothing counted under the sender host');
  const bob = await login('bob', 'example.test');
  const got = (await bob.expect(/<message[^>]*id=["']off1["'][\s\S]*?<\/message>/))[0];
  assertStanza(got, {
    name: 'message', attrs: { from: 'alice@localhost/desk', to: 'bob@example.test', id: 'off1' },
    has: [{ name: 'body', text: 'while you were out' }, { name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: 'example.test' } }],
  });
  alice.close();
  bob.close();
});

test('bob@localhost and bob@example.test keep separate vCards, private XML, rosters and block lists', async () => {
  const local = await login('bob', 'localhost');
  const other = await login('bob', 'example.test');
  // Writes on localhost.
  assertStanza(await iq(local, 'v1', 'set', "<vCard xmlns='vcard-temp'><FN>Bob of localhost</FN></vCard>"), result('v1'));
  assertStanza(await iq(local, 'p1', 'set', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'>local note</note></query>"), result('p1'));
  assertStanza(await iq(local, 'r1', 'set', "<query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'/></query>"), result('r1'));
  assertStanza(await iq(local, 'b1', 'set', "<block xmlns='urn:xmpp:blocking'><item jid='spam@remote.test'/></block>"), result('b1'));

  // Not visible on example.test.
  assert.doesNotMatch(await iq(other, 'v2', 'get', "<vCard xmlns='vcard-temp'/>"), /Bob of localhost/);
  assert.doesNotMatch(await iq(other, 'p2', 'get', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'/></query>"), /local note/);
  assert.doesNotMatch(await iq(other, 'r2', 'get', "<query xmlns='jabber:iq:roster'/>"), /carol@localhost/);
  assert.doesNotMatch(await iq(other, 'b2', 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), /spam@remote\.test/);

  // Writes on example.test leave localhost's data as it was.
  assertStanza(await iq(other, 'v3', 'set', "<vCard xmlns='vcard-temp'><FN>Bob of example.test</FN></vCard>"), result('v3'));
  assertStanza(await iq(other, 'p3', 'set', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'>other note</note></query>"), result('p3'));
  assertStanza(await iq(local, 'v4', 'get', "<vCard xmlns='vcard-temp'/>"), vcard('v4', 'Bob of localhost'));
  assertStanza(await iq(local, 'p4', 'get', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'/></query>"), privateNote('p4', 'local note'));
  assertStanza(await iq(local, 'r4', 'get', "<query xmlns='jabber:iq:roster'/>"), rosterWith('r4', 'carol@localhost'));
  assertStanza(await iq(local, 'b4', 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), blocklistWith('b4', 'spam@remote.test'));
  local.close();
  other.close();

  // Removing bob@example.test deletes its rows only.
  await t.server.core.accounts.remove(Jid.parse('bob@example.test'));
  const again = await login('bob', 'localhost', 'again');
  assertStanza(await iq(again, 'v5', 'get', "<vCard xmlns='vcard-temp'/>"), vcard('v5', 'Bob of localhost'));
  assertStanza(await iq(again, 'p5', 'get', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'/></query>"), privateNote('p5', 'local note'));
  assertStanza(await iq(again, 'r5', 'get', "<query xmlns='jabber:iq:roster'/>"), rosterWith('r5', 'carol@localhost'));
  assertStanza(await iq(again, 'b5', 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), blocklistWith('b5', 'spam@remote.test'));
  again.close();
});

test('a handler a module registers with ctx.hook runs for its own host only; one hook chain per (hook, host)', async () => {
  const { hooks } = t.server.core;
  // Both hosts load the same modules: each host's filter_packet chain holds that host's handlers only.
  const perHost = hooks.count('filter_packet') / 2;
  assert.ok(perHost >= 1);
  let runs = 0;
  const off = hooks.on('filter_packet', () => { runs++; }, 50, 'test', 'example.test');
  const alice = await login('alice', 'localhost', 'hooks');
  await iq(alice, 'ping1', 'get', "<ping xmlns='urn:xmpp:ping'/>");
  assert.equal(runs, 0, 'a stanza of localhost does not run an example.test handler');
  alice.send("<message to='alice@example.test' type='headline' id='h1'><body>x</body></message>");
  for (let i = 0; i < 100 && runs === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs, 1, 'a stanza to example.test does');
  off();
  alice.close();
});

test('a stanza between two local hosts runs both hosts\' filters: alice@localhost blocked bob@example.test, her message to him is refused', async () => {
  const alice = await login('alice', 'localhost', 'blocker');
  assertStanza(await iq(alice, 'blk1', 'set', "<block xmlns='urn:xmpp:blocking'><item jid='bob@example.test'/></block>"), result('blk1'));
  // bob@example.test was removed by the previous test: recreate him so only the block can refuse.
  if (!(await t.server.core.accounts.exists(Jid.parse('bob@example.test')))) await t.addUser('bob', 'bob-password', 'example.test');
  alice.send("<message to='bob@example.test' type='chat' id='blocked1'><body>hi</body></message>");
  const err = (await alice.expect(/<message[^>]*id=["']blocked1["'][\s\S]*?<\/message>/))[0];
  assertStanza(err, {
    name: 'message', attrs: { type: 'error', id: 'blocked1' },
    has: [{ name: 'error', has: [{ name: 'not-acceptable', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }, { name: 'blocked', ns: 'urn:xmpp:blocking:errors' }] }],
  });
  assertStanza(await iq(alice, 'blk2', 'set', "<unblock xmlns='urn:xmpp:blocking'/>"), result('blk2'));
  alice.close();
});
