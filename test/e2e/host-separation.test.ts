// Virtual hosts are separate (issue 9, hooks per host): one server with localhost and example.test, the
// same localpart on both. A module instance handles its own host's stanzas and account data only: offline,
// vCard, roster, private, blocking, MAM and registration never read or write the other host's rows, and
// stamps (delay from, stanza-id by), metrics and stats name the host they belong to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TWO_HOSTS, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertNoStanza, assertStanza, parseStanzas, type StanzaShape } from '../support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import { runCommand } from '../../src/core/admin/commands.js';

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
  assertStanza(await iq(other, 'v2', 'get', "<vCard xmlns='vcard-temp'/>"), result('v2', { name: 'vCard', ns: 'vcard-temp', children: [] }));
  assertStanza(await iq(other, 'p2', 'get', "<query xmlns='jabber:iq:private'><note xmlns='x:notes'/></query>"), privateNote('p2', ''));
  assertStanza(await iq(other, 'r2', 'get', "<query xmlns='jabber:iq:roster'/>"), result('r2', { name: 'query', ns: 'jabber:iq:roster', children: [] }));
  assertStanza(await iq(other, 'b2', 'get', "<blocklist xmlns='urn:xmpp:blocking'/>"), result('b2', { name: 'blocklist', ns: 'urn:xmpp:blocking', children: [] }));

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

/** The rows of `table` whose key starts with `prefix` (the project's per-user layout: `${host}/${local}`). */
const rowCount = (table: string, prefix: string) => t.server.core.store.table(table).count({ prefix });

test('offline: bob@example.test\'s stored message lives under example.test only and is delivered there; bob@localhost gets nothing', async () => {
  const alice = await login('alice', 'example.test', 'off2');
  alice.send("<message to='bob@example.test' type='chat' id='off2'><body>same host</body></message>");
  await iq(alice, 'offsync', 'get', "<ping xmlns='urn:xmpp:ping'/>");
  assert.equal(await rowCount('offline_messages', 'example.test/bob\u0000'), 1);
  assert.equal(await rowCount('offline_messages', 'localhost/bob\u0000'), 0, 'nothing written under the other host');
  const localBob = await login('bob', 'localhost', 'nothing');
  localBob.send("<iq type='get' id='lb1'><ping xmlns='urn:xmpp:ping'/></iq>");
  const [, arrived] = await localBob.expect(/^([\s\S]*?)<iq[^>]*id=["']lb1["'][^>]*?(?:\/>|>[\s\S]*?<\/iq>)/);
  assertNoStanza(arrived!, { name: 'message' }, 'bob@localhost does not receive bob@example.test\'s message');
  const delivered = async (host: string) =>
    Number(new RegExp(`xmppd_offline_messages_total\\{host="${host.replace('.', '\\.')}",event="delivered"\\} (\\d+)`).exec(await t.server.core.metrics.registry.metrics())?.[1] ?? 0);
  const localBefore = await delivered('localhost');
  const otherBefore = await delivered('example.test');
  const bob = await login('bob', 'example.test', 'off2');
  assertStanza((await bob.expect(/<message[^>]*id=["']off2["'][\s\S]*?<\/message>/))[0], {
    name: 'message', attrs: { from: 'alice@example.test/off2', to: 'bob@example.test' },
    has: [{ name: 'body', text: 'same host' }, { name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: 'example.test' } }],
  });
  for (let i = 0; i < 100 && (await delivered('example.test')) === otherBefore; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await delivered('example.test'), otherBefore + 1, 'delivery counted under example.test');
  assert.equal(await delivered('localhost'), localBefore, 'and not under localhost');
  alice.close();
  localBob.close();
  bob.close();
});

test('MAM: each host archives its own users\' messages, stanza-ids are by the recipient on their host, queries never see the other host', async () => {
  const NS_MAM = 'urn:xmpp:mam:2';
  // carol exists on both hosts; she talks to dave on her own host only.
  for (const host of ['localhost', 'example.test']) {
    await t.addUser('carol', 'carol-password', host);
    await t.addUser('dave', 'dave-password', host);
  }
  const carolLocal = await login('carol', 'localhost', 'mam');
  const daveOther = await login('dave', 'example.test', 'mam');
  const carolOther = await login('carol', 'example.test', 'mam');
  await iq(daveOther, 'dsync', 'get', "<ping xmlns='urn:xmpp:ping'/>");
  // across hosts: carol@localhost -> dave@example.test
  carolLocal.send("<message to='dave@example.test' type='chat' id='x1'><body>across</body></message>");
  assertStanza((await daveOther.expect(/<message[^>]*id=["']x1["'][\s\S]*?<\/message>/))[0], {
    name: 'message', attrs: { from: 'carol@localhost/mam' },
    has: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: 'dave@example.test' } }],
    without: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: 'dave@localhost' } }],
  });
  // within example.test: carol@example.test -> dave@example.test
  carolOther.send("<message to='dave@example.test' type='chat' id='x2'><body>within</body></message>");
  assertStanza((await daveOther.expect(/<message[^>]*id=["']x2["'][\s\S]*?<\/message>/))[0], {
    name: 'message', has: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: 'dave@example.test' } }],
  });
  assert.equal(await rowCount('mam_messages', 'example.test/dave\u0000'), 2);
  assert.equal(await rowCount('mam_messages', 'localhost/dave\u0000'), 0, 'dave@localhost archived nothing');
  assert.equal(await rowCount('mam_messages', 'localhost/carol\u0000'), 1, 'the sender\'s copy on her own host');
  assert.equal(await rowCount('mam_messages', 'example.test/carol\u0000'), 1);

  /** The bodies of carol's archive on `host`, through XEP-0313 on her own stream. */
  const archive = async (c: RawClient, id: string): Promise<string[]> => {
    c.send(`<iq type='set' id='${id}'><query xmlns='${NS_MAM}' queryid='${id}'/></iq>`);
    const m = await c.expect(new RegExp(`^([\\s\\S]*?)(<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>))`));
    assertStanza(m[2]!, { name: 'iq', attrs: { type: 'result' }, has: [{ name: 'fin', ns: NS_MAM }] });
    return parseStanzas(m[1]!).filter((r) => r.getChild('result', NS_MAM))
      .map((r) => r.getChild('result', NS_MAM)!.getChild('forwarded')?.getChild('message')?.getChildText('body') ?? '');
  };
  assert.deepEqual(await archive(carolLocal, 'qa'), ['across']);
  assert.deepEqual(await archive(carolOther, 'qb'), ['within']);
  // a query to the same localpart on the other host is someone else's archive
  carolLocal.send(`<iq type='set' id='qc' to='carol@example.test'><query xmlns='${NS_MAM}'/></iq>`);
  assertStanza((await carolLocal.expect(/<iq[^>]*id=["']qc["'][\s\S]*?<\/iq>/))[0], {
    name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: 'forbidden', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }],
  });
  for (const c of [carolLocal, daveOther, carolOther]) c.close();
});

test('registration (XEP-0077) on a stream to example.test creates the account on example.test only; stats count it there', async () => {
  await t.addUser('lonely', 'lonely-password', 'localhost');
  const stats = async () => (await runCommand({ core: t.server.core, modules: t.server.modules }, 'stats', {})) as { accounts: Record<string, number>; sessions: { by_host: Record<string, number> } };
  const accountsBefore = (await stats()).accounts;
  /** Register in-band on a fresh stream to `host`; the answer to the set. */
  const register = async (host: string, user: string, password: string): Promise<string> => {
    const c = await RawClient.secured(t.c2sPort, { host });
    try {
      c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
      return (await c.expect(/<iq[^>]*id=["']reg["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/))[0];
    } finally {
      c.close();
    }
  };
  assertStanza(await register('example.test', 'zoe', 'zoe-password-1'), { name: 'iq', attrs: { type: 'result' } });
  assert.equal(await t.server.core.accounts.exists(Jid.parse('zoe@example.test')), true);
  assert.equal(await t.server.core.accounts.exists(Jid.parse('zoe@localhost')), false, 'not on the other host');
  // a name taken on localhost only is free on example.test
  assertStanza(await register('example.test', 'lonely', 'other-password-1'), { name: 'iq', attrs: { type: 'result' } });
  assertStanza(await register('localhost', 'lonely', 'other-password-1'), {
    name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: 'conflict', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }],
  });
  const zoe = (await RawClient.login(t.c2sPort, 'zoe', 'zoe-password-1', 'new', { host: 'example.test' })).c;
  await assert.rejects(RawClient.login(t.c2sPort, 'zoe', 'zoe-password-1', 'new', { host: 'localhost' }), /login failed/);
  // each host's lonely has its own password
  const lonelyOther = (await RawClient.login(t.c2sPort, 'lonely', 'other-password-1', 'x', { host: 'example.test' })).c;
  await assert.rejects(RawClient.login(t.c2sPort, 'lonely', 'other-password-1', 'x', { host: 'localhost' }), /login failed/);
  const s = await stats();
  assert.deepEqual(s.accounts, { localhost: accountsBefore.localhost!, 'example.test': accountsBefore['example.test']! + 2 });
  assert.ok(s.sessions.by_host['example.test']! >= 2, `zoe and lonely count under example.test: ${JSON.stringify(s.sessions.by_host)}`);
  assert.ok((await t.server.core.accounts.list('localhost')).every((j) => j.endsWith('@localhost')));
  const otherAccounts = await t.server.core.accounts.list('example.test');
  assert.ok(otherAccounts.includes('zoe@example.test') && otherAccounts.includes('lonely@example.test'));
  assert.ok(otherAccounts.every((j) => j.endsWith('@example.test')));
  zoe.close();
  lonelyOther.close();
});
