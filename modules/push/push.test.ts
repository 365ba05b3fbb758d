// XEP-0357 Push Notifications over real sockets, the app server's push service being a real XEP-0114 component:
// disco on the account, enable/disable and their errors, the notification sent from the account's bare JID
// with the summary form (no body unless include_body) and the publish-options given at enable, disable by jid
// and by jid+node, disable on an app server error, coalescing (min_interval), sessions that are inactive or
// detached (through the csi / stream_management service contracts), account removal, XEP-0227 export/import.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, type StanzaShape } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { Jid, type Session } from '../../src/sdk.js';
import { APP_SECRET, AppServer, NS_PUSH, enable, pushIq, summaryOf } from './test-support.js';
import { admin } from '../../test/e2e/portable-support.js';

const APP = 'push.localhost';
let t: TestServer;
let app: AppServer;

before(async () => {
  t = await startTestServer({
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'component' }],
    components: { [APP]: { secret: APP_SECRET } },
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, push: { min_interval: 0, max_registrations: 3 } },
  });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await t.addUser(u, `pw-${u}`);
  app = await AppServer.connect(t.server.listeners.bound.find((l) => l.type === 'component')!.port, APP);
});
after(async () => {
  app.c.close();
  await t.stop();
});

const login = async (user: string, resource = 'r') => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource)).c;
const ok: StanzaShape = { name: 'iq', attrs: { type: 'result' } };
const err = (cond: string): StanzaShape => ({ name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: cond, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }] });
/** Log out and wait until the server has no session of the account left (so messages go offline). */
async function offline(c: RawClient, user: string): Promise<void> {
  c.close();
  await until(() => t.server.core.sessions.resources(Jid.parse(`${user}@localhost`)).length === 0, `${user} has no session`);
}
const metric = async (name: string) => t.server.core.metrics.registry.getSingleMetricAsString(name);

test('disco on the account advertises urn:xmpp:push:0; enable and disable answer; bad requests get bad-request, others\' accounts forbidden, too many policy-violation', async () => {
  const c = await login('carol');
  const info = await c.iq('d1', "<iq type='get' id='d1' to='carol@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match(info, new RegExp(`<feature var=["']${NS_PUSH}["']/>`));
  assertStanza(await pushIq(c, enable(APP, 'n1')), ok);
  assertStanza(await pushIq(c, enable(APP, 'n1', 's3')), ok, ); // again, now with publish options: replaces
  assertStanza(await pushIq(c, `<disable xmlns='${NS_PUSH}' jid='${APP}' node='n1'/>`), ok);
  assertStanza(await pushIq(c, `<disable xmlns='${NS_PUSH}' jid='${APP}'/>`), ok); // nothing left: still fine
  assertStanza(await pushIq(c, `<enable xmlns='${NS_PUSH}' node='n1'/>`), err('bad-request')); // no jid
  assertStanza(await pushIq(c, `<enable xmlns='${NS_PUSH}' jid='@bad@' node='n1'/>`), err('bad-request'));
  assertStanza(await pushIq(c, `<enable xmlns='${NS_PUSH}' jid='${APP}'/>`), err('bad-request')); // no node (XEP-0357 schema)
  assertStanza(await pushIq(c, `<toggle xmlns='${NS_PUSH}' jid='${APP}'/>`), err('bad-request'));
  assertStanza(await pushIq(c, `<enable xmlns='${NS_PUSH}' jid='${APP}' node='n1'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:example:other</value></field></x></enable>`), err('bad-request'));
  assertStanza(await c.iq('g1', `<iq type='get' id='g1'>${enable(APP, 'n1')}</iq>`), err('bad-request'));
  assertStanza(await pushIq(c, enable(APP, 'n1'), 'dave@localhost'), err('forbidden'));
  for (const n of ['a', 'b', 'c']) assertStanza(await pushIq(c, enable(APP, n)), ok);
  assertStanza(await pushIq(c, enable(APP, 'd')), err('policy-violation')); // max_registrations: 3
  assertStanza(await pushIq(c, enable(APP, 'c', 'new-secret')), ok); // re-enabling one held is not one more
  assertStanza(await pushIq(c, `<disable xmlns='${NS_PUSH}' jid='${APP}'/>`), ok); // jid alone: all three
  assert.deepEqual(await t.server.core.store.table('push_registrations').range({ prefix: 'localhost/carol\u0000' }), []);
  c.close();
});

test('alice offline: bob\'s message is announced from alice@localhost to the app server, with the summary form (no body) and the publish options', async () => {
  const alice = await login('alice');
  assertStanza(await pushIq(alice, enable(APP, 'alice-node', 'eruio234')), ok);
  await offline(alice, 'alice');
  const bob = await login('bob', 'x');
  bob.send("<message to='alice@localhost' type='chat' id='m1'><body>Wherefore art thou?</body></message>");
  const iq = await app.nextPublish();
  assertStanza(iq, {
    name: 'iq', attrs: { type: 'set', from: 'alice@localhost', to: APP, id: /.+/ },
    children: [{ name: 'pubsub', ns: 'http://jabber.org/protocol/pubsub', has: [{ name: 'publish', attrs: { node: 'alice-node' }, children: [{ name: 'item', children: [{ name: 'notification', ns: NS_PUSH }] }] }] }],
  }, { ns: 'jabber:component:accept' });
  const s = summaryOf(iq);
  assert.deepEqual(s.fields, { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': 'bob@localhost/x' }, 'no last-message-body by default');
  assert.deepEqual(s.options, { FORM_TYPE: 'http://jabber.org/protocol/pubsub#publish-options', secret: 'eruio234' });
  assert.equal(s.optionsType, 'submit');

  // A message without a body (a chat state) is not announced; the next one counts the stored messages: 2.
  bob.send("<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  bob.send("<message to='alice@localhost' type='chat' id='m2'><body>second</body></message>");
  assert.equal(summaryOf(await app.nextPublish()).fields['message-count'], '2');
  await until(async () => /\{host="localhost",result="sent"\} 2(\n|$)/.test(await metric('xmppd_push_notifications_total')), 'two notifications counted as sent');

  // A message the offline store refuses (its queue is full: resource-constraint) is not announced.
  await t.server.modules.reload('offline', { max_messages: 2 });
  bob.send("<message to='alice@localhost' type='chat' id='full1'><body>no room</body></message>");
  await bob.expect(/<message[^>]*id=["']full1["'][^>]*type=["']error["']|<message[^>]*type=["']error["'][^>]*id=["']full1["']/);
  await app.nothingWithin(500);
  await t.server.modules.reload('offline', {});

  // include_body: the operator lets the text through.
  await t.server.modules.reload('push', { min_interval: 0, max_registrations: 3, include_body: true });
  bob.send("<message to='alice@localhost' type='chat' id='m3'><body>with text</body></message>");
  assert.equal(summaryOf(await app.nextPublish()).fields['last-message-body'], 'with text');
  await t.server.modules.reload('push', { min_interval: 0, max_registrations: 3 });

  // Disabled (jid + node): nothing more is published for alice.
  const again = await login('alice', 'back');
  assertStanza(await pushIq(again, `<disable xmlns='${NS_PUSH}' jid='${APP}' node='alice-node'/>`), ok);
  await offline(again, 'alice');
  bob.send("<message to='alice@localhost' type='chat' id='m4'><body>unannounced</body></message>");
  await app.nothingWithin(500);
  bob.close();
});

test('an app server answering with an error loses the registration (XEP-0357 §7.1), counted as failed; the other registration stays', async () => {
  const dave = await login('dave');
  assertStanza(await pushIq(dave, enable(APP, 'gone')), ok);
  assertStanza(await pushIq(dave, enable(APP, 'kept')), ok);
  await offline(dave, 'dave');
  const bob = await login('bob', 'e');
  bob.send("<message to='dave@localhost' type='chat'><body>one</body></message>");
  const first = [await app.nextPublish({ error: 'item-not-found' }), await app.nextPublish()]; // in key order: gone, kept
  assert.deepEqual(first.map((iq) => summaryOf(iq).node), ['gone', 'kept']);
  await until(async () => (await t.server.core.store.table('push_registrations').range({ prefix: 'localhost/dave\u0000' })).length === 1, 'the refused registration is removed');
  assert.match(await metric('xmppd_push_notifications_total'), /\{host="localhost",result="failed"\} [1-9]/);
  assert.match(await metric('xmppd_push_registrations_disabled_total'), /\{host="localhost"\} 1(\n|$)/);
  bob.send("<message to='dave@localhost' type='chat'><body>two</body></message>");
  assert.equal(summaryOf(await app.nextPublish()).node, 'kept');
  await app.nothingWithin(300);
  bob.close();
});

test('min_interval: a burst of messages gives one notification at once and one trailing notification with the final count', async () => {
  await t.server.modules.reload('push', { min_interval: 1, max_registrations: 3 });
  try {
    const erin = await login('erin');
    assertStanza(await pushIq(erin, enable(APP, 'burst')), ok);
    await offline(erin, 'erin');
    const bob = await login('bob', 'b');
    for (let i = 1; i <= 5; i++) bob.send(`<message to='erin@localhost' type='chat'><body>m${i}</body></message>`);
    assert.equal(summaryOf(await app.nextPublish()).fields['message-count'], '1');
    assert.equal(summaryOf(await app.nextPublish({}, 5000)).fields['message-count'], '5', 'the rest summed into one');
    await app.nothingWithin(1500);
    bob.close();
  } finally {
    await t.server.modules.reload('push', { min_interval: 0, max_registrations: 3 });
  }
});

test('online but unable to show it: announced when every session that got the message is inactive (csi) or detached (stream_management), not while one is active', async () => {
  // The csi and stream_management modules offer these services; the test stands in for them (their contract:
  // isInactive / isDetached per session), so the decision is checked over real sessions.
  const inactive = new Set<string>();
  const detached = new Set<string>();
  const off = [
    t.server.core.services.provide('localhost', 'csi', { isInactive: (s: Session) => inactive.has(s.id) }),
    t.server.core.services.provide('localhost', 'stream_management', { isDetached: (s: Session) => detached.has(s.id) }),
  ];
  try {
    const frank = await login('frank', 'phone');
    assertStanza(await pushIq(frank, enable(APP, 'frank-node')), ok);
    const [session] = t.server.core.sessions.resources(Jid.parse('frank@localhost'));
    const bob = await login('bob', 'o');
    bob.send("<message to='frank@localhost' type='chat'><body>seen</body></message>");
    await frank.expect(/<body>seen<\/body>/);
    await app.nothingWithin(300); // active: the client shows it

    inactive.add(session!.id);
    bob.send("<message to='frank@localhost' type='chat'><body>while inactive</body></message>");
    await frank.expect(/while inactive/);
    const s = summaryOf(await app.nextPublish());
    assert.equal(s.fields['message-count'], '1');
    assert.equal(s.fields['last-message-sender'], 'bob@localhost/o');

    inactive.delete(session!.id);
    detached.add(session!.id);
    bob.send("<message to='frank@localhost/phone' type='chat'><body>while detached</body></message>");
    assert.equal(summaryOf(await app.nextPublish()).fields['message-count'], '2', 'unread since the client last showed one');
    bob.close();
    frank.close();
  } finally {
    for (const f of off) f();
  }
});

test('removing the account removes its registrations', async () => {
  await t.addUser('gina', 'pw-gina');
  const gina = await login('gina');
  assertStanza(await pushIq(gina, enable(APP, 'g1')), ok);
  assertStanza(await pushIq(gina, enable('other.example', 'g2')), ok);
  const table = t.server.core.store.table('push_registrations');
  assert.equal((await table.range({ prefix: 'localhost/gina\u0000' })).length, 2);
  gina.close();
  await t.server.core.accounts.remove(Jid.parse('gina@localhost'));
  assert.deepEqual(await table.range({ prefix: 'localhost/gina\u0000' }), []);
});

test('XEP-0227: export writes each registration as the client\'s <enable/>; an import on another server restores them', async () => {
  await t.addUser('hank', 'pw-hank');
  const hank = await login('hank');
  assertStanza(await pushIq(hank, enable(APP, 'h1', 'hank-secret')), ok);
  assertStanza(await pushIq(hank, enable('apps.example', 'h2')), ok);
  hank.close();
  const file = join(t.dir, 'export.xml');
  const exported = await admin(t, 'data.export', { file });
  assert.equal(exported.pushRegistrations, (await t.server.core.store.table('push_registrations').range({ prefix: 'localhost/' })).length, 'every account\'s');
  const text = await readFile(file, 'utf8');
  assert.match(text, /<user name=["']hank["']>[^\n]*<enable xmlns=["']urn:xmpp:push:0["'] jid=["']push\.localhost["'] node=["']h1["']><x xmlns=["']jabber:x:data["']>[^\n]*hank-secret/);

  const t2 = await startTestServer({ modules: { disco: {}, offline: {}, push: {} } });
  try {
    const imported = await admin(t2, 'data.import', { file });
    assert.equal(imported.pushRegistrations, exported.pushRegistrations);
    const rows = await t2.server.core.store.table<{ jid: string; node: string; options: unknown }>('push_registrations').range({ prefix: 'localhost/hank\u0000' });
    assert.deepEqual(rows.map((r) => [r.value.jid, r.value.node, r.value.options !== null]), [['apps.example', 'h2', false], [APP, 'h1', true]]);
  } finally {
    await t2.stop();
  }
});
