// XEP-0352 over real sockets: the stream feature; an inactive client's presence updates coalesced and its
// chat states held until a message with a body (held ones first, in order); IQs never held; <active/>
// flushing through the filters below the hold; the queue_size and urgent_payloads options; a session that
// ends while inactive loses no message; foreign nonzas still end the stream; unloading flushes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, type OfflineApi } from '../../src/sdk.js';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { roundTrip, session, stanzas } from '../carbons/test-support.js';
import { NS_CSI, befriend, counted, goInactive, label, upTo } from './test-support.js';

const CHATSTATES = 'http://jabber.org/protocol/chatstates';
let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, mam: {}, carbons: {}, csi: {} } });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await t.addUser(u, `pw-${u}`);
  for (const u of ['bob', 'carol', 'dave']) await befriend(t, 'alice', u);
});
after(() => t.stop());

/** A broadcast presence update with a status text, processed (and broadcast) before this resolves. */
async function status(c: RawClient, text: string): Promise<void> {
  c.send(`<presence><status>${text}</status></presence>`);
  await roundTrip(c);
}
/** A standalone chat state (XEP-0085) to `to`, processed before this resolves. */
async function chatState(c: RawClient, to: string, state: string, id: string): Promise<void> {
  c.send(`<message to='${to}' type='chat' id='${id}'><${state} xmlns='${CHATSTATES}'/></message>`);
  await roundTrip(c);
}
const delta = async (event: string, since: number, host?: string) => (await counted(t, event, host)) - since;

test('the <csi/> stream feature is offered once authenticated, not before', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  const preTls = await c.features();
  await c.starttls();
  c.openStream();
  const preAuth = await c.features();
  assert.match(preAuth, /<mechanisms /);
  // Before authentication only as a Bind2 inline feature inside SASL2's <authentication/> (XEP-0386).
  const bind2 = /<authentication xmlns="urn:xmpp:sasl:2">[\s\S]*?<\/authentication>/;
  assert.match(preAuth, /<feature var="urn:xmpp:csi:0"\/>/);
  assert.doesNotMatch(preTls + preAuth.replace(bind2, ''), /urn:xmpp:csi:0/);
  assert.match(await c.authScram('SCRAM-SHA-256', 'alice', 'pw-alice'), /^<success/);
  c.openStream();
  assertStanza(await c.features(), { name: 'features', has: [{ name: 'csi', ns: NS_CSI, children: [] }, { name: 'bind', ns: 'urn:ietf:params:xml:ns:xmpp-bind' }] });
  c.close();
});

test('inactive: presence from three contacts coalesced to the latest each, chat states held; a message with a body brings them first, in order, then itself', async () => {
  const alice = await session(t.c2sPort, 'alice', 'phone');
  const bob = await session(t.c2sPort, 'bob', 'b');
  const carol = await session(t.c2sPort, 'carol', 'c');
  const dave = await session(t.c2sPort, 'dave', 'd');
  await roundTrip(alice); // their initial presence, while active
  await goInactive(alice);
  const [held0, coalesced0, flushed0] = [await counted(t, 'held'), await counted(t, 'coalesced'), await counted(t, 'flushed')];

  await status(bob, 'b1');
  await status(carol, 'c1');
  await status(dave, 'd1');
  await status(bob, 'b2');
  await chatState(carol, 'alice@localhost/phone', 'composing', 'cs1');
  await status(carol, 'c2');
  await status(dave, 'd2');
  await chatState(bob, 'alice@localhost', 'paused', 'cs2'); // to the bare JID: delivered to (held for) the phone
  await status(bob, 'b3');
  // The senders' round trips end after the server handed each stanza to alice's session.
  assert.equal(await delta('held', held0), 9); // seven presence updates, two chat states
  assert.equal(await delta('coalesced', coalesced0), 4, 'b1, b2, c1 and d1 were replaced by newer presence');
  assert.equal(alice.buffer, '', 'nothing was written to the inactive client');

  bob.send("<message to='alice@localhost/phone' type='chat' id='u1'><body>wake up</body></message>");
  const got = await upTo(alice, 'u1');
  assert.deepEqual(got.map(label), [
    'chatstate:carol@localhost/c:composing',
    'presence:carol@localhost/c:c2',
    'presence:dave@localhost/d:d2',
    'chatstate:bob@localhost/b:paused',
    'presence:bob@localhost/b:b3',
    'body:bob@localhost/b:wake up',
  ]);
  assertStanza(got[0]!, { name: 'message', attrs: { from: 'carol@localhost/c', to: 'alice@localhost/phone', id: 'cs1' }, children: [{ name: 'composing', ns: CHATSTATES }] });
  assert.equal(await delta('flushed', flushed0), 5);

  // Still inactive: the next chat state waits; an IQ is never held: it comes at once, after what was held.
  await chatState(bob, 'alice@localhost/phone', 'composing', 'cs3');
  assert.equal(await delta('held', held0), 10);
  bob.send("<iq type='get' to='alice@localhost/phone' id='v1'><query xmlns='jabber:iq:version'/></iq>");
  assert.deepEqual((await upTo(alice, 'v1')).map(label), ['chatstate:bob@localhost/b:composing', 'iq:bob@localhost/b:v1']);
  alice.send("<iq type='result' to='bob@localhost/b' id='v1'><query xmlns='jabber:iq:version'><name>test</name><version>1</version></query></iq>");
  await bob.expect(/<iq[^>]*id=["']v1["']/);

  // Subscription requests are for the user now, not later.
  const erin = await session(t.c2sPort, 'erin', 'e', { priority: null });
  await chatState(carol, 'alice@localhost/phone', 'paused', 'cs4');
  erin.send("<presence to='alice@localhost' type='subscribe'/>");
  const m = await alice.expect(/^[\s\S]*?<presence\b[^>]*type=["']subscribe["'][^>]*?(?:\/>|>[\s\S]*?<\/presence>)/);
  assert.deepEqual(stanzas(m[0]).map(label), ['chatstate:carol@localhost/c:paused', 'presence:erin@localhost:subscribe']);
  alice.send("<presence to='erin@localhost' type='unsubscribed'/>"); // declined: nothing left pending for later logins
  await roundTrip(alice);
  for (const c of [alice, bob, carol, dave, erin]) c.close();
});

test('<active/> flushes what was held through the filters below the hold (added later too), and stanzas flow at once again', async () => {
  const alice = await session(t.c2sPort, 'alice', 'tablet');
  const bob = await session(t.c2sPort, 'bob', 'b');
  await roundTrip(alice);
  await goInactive(alice);
  alice.send(`<inactive xmlns='${NS_CSI}'/>`); // repeated: no change, no error
  const flushed0 = await counted(t, 'flushed');
  await chatState(bob, 'alice@localhost/tablet', 'composing', 'a1');
  await status(bob, 'away');

  // A filter next to the wire (where stream management counts what was sent), registered after the hold
  // took the stanzas: it sees them only when they are really written.
  const s = t.server.core.sessions.get(Jid.parse('alice@localhost/tablet'));
  assert.ok(s);
  const wire: string[] = [];
  const unrecord = s.addOutboundFilter((el, next) => {
    wire.push(label(el));
    next(el);
  }, 10);
  assert.deepEqual(wire, []);
  assert.equal(alice.buffer, '');

  alice.send(`<active xmlns='${NS_CSI}'/>`);
  const m = await alice.expect(/^[\s\S]*?<status>away<\/status>[\s\S]*?<\/presence>/);
  const expected = ['chatstate:bob@localhost/b:composing', 'presence:bob@localhost/b:away'];
  assert.deepEqual(stanzas(m[0]).map(label), expected);
  assert.deepEqual(wire, expected);
  assert.equal(await delta('flushed', flushed0), 2);

  const held0 = await counted(t, 'held');
  await chatState(bob, 'alice@localhost/tablet', 'paused', 'a2');
  assertStanza((await alice.expect(/<message[\s\S]*?<\/message>/))[0], { name: 'message', attrs: { id: 'a2' }, children: [{ name: 'paused', ns: CHATSTATES }] });
  assert.equal(await delta('held', held0), 0, 'an active client gets stanzas at once');
  alice.send(`<active xmlns='${NS_CSI}'/>`); // repeated: no change, no error
  assert.equal(await roundTrip(alice), '');
  unrecord();
  for (const c of [alice, bob]) c.close();
});

test('queue_size bounds the hold (one more lets everything out, in order); urgent_payloads adds urgent namespaces', async () => {
  await assert.rejects(t.server.modules.reload('csi', { queue_size: 0 }), /modules\.csi\.queue_size: /);
  await assert.rejects(t.server.modules.reload('csi', { urgent_payloads: 'urn:example:alert' }), /modules\.csi\.urgent_payloads: must be a list of strings/);
  await t.server.modules.reload('csi', { queue_size: 3, urgent_payloads: ['urn:example:alert'] });
  try {
    const alice = await session(t.c2sPort, 'alice', 'watch');
    const bob = await session(t.c2sPort, 'bob', 'b');
    await roundTrip(alice);
    await goInactive(alice);
    const held0 = await counted(t, 'held');
    for (const id of ['q1', 'q2', 'q3']) await chatState(bob, 'alice@localhost/watch', 'composing', id);
    assert.equal(await delta('held', held0), 3);
    assert.equal(alice.buffer, '', 'three fit');
    await chatState(bob, 'alice@localhost/watch', 'paused', 'q4');
    assert.deepEqual((await upTo(alice, 'q4')).map((e) => e.attrs.id), ['q1', 'q2', 'q3', 'q4']);

    await chatState(bob, 'alice@localhost/watch', 'active', 'q5');
    assert.equal(alice.buffer, '');
    bob.send("<message to='alice@localhost/watch' id='x1'><alert xmlns='urn:example:alert'/></message>");
    assert.deepEqual((await upTo(alice, 'x1')).map((e) => e.attrs.id), ['q5', 'x1']);
    for (const c of [alice, bob]) c.close();
  } finally {
    await t.server.modules.reload('csi', {});
  }
});

test('a session that ends while inactive loses no message: held ones take the offline path; held presence and carbon copies are dropped', async () => {
  const offline = t.server.core.services.get<OfflineApi>('localhost', 'offline');
  assert.ok(offline);
  const aliceJid = Jid.parse('alice@localhost');
  assert.equal(await offline.count(aliceJid), 0);
  const alice = await session(t.c2sPort, 'alice', 'gone', { carbons: true });
  const desk = await session(t.c2sPort, 'alice', 'desk', { priority: -1 });
  const bob = await session(t.c2sPort, 'bob', 'b');
  await roundTrip(alice);
  await goInactive(alice);
  const [offline0, dropped0] = [await counted(t, 'offline'), await counted(t, 'dropped')];
  await status(bob, 'later');
  bob.send("<message to='alice@localhost/gone' type='chat' id='r1'><received xmlns='urn:xmpp:receipts' id='m0'/></message>");
  await chatState(bob, 'alice@localhost/gone', 'composing', 'r2');
  await chatState(bob, 'alice@localhost/desk', 'composing', 'r0'); // the phone holds a <received/> carbon copy of it
  assert.equal(alice.buffer, '');

  alice.close(); // the connection drops under the inactive client
  await until(async () => (await offline.count(aliceJid)) === 1, 'the held receipt is stored offline');
  await until(async () => (await delta('dropped', dropped0)) === 2, 'the held presence and carbon copy are dropped');
  assert.equal(await delta('offline', offline0), 2, 'both messages were handed to the offline path (which keeps no standalone chat state)');
  desk.close();

  const { c: back } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'back');
  const messages = (await upTo(back, 'r1')).filter((e) => e.name === 'message');
  assert.equal(messages.length, 1);
  assertStanza(messages[0]!, {
    name: 'message', attrs: { from: 'bob@localhost/b', id: 'r1' },
    has: [{ name: 'received', ns: 'urn:xmpp:receipts', attrs: { id: 'm0' } }, { name: 'delay', ns: 'urn:xmpp:delay', text: 'Offline Storage' }],
  });
  assert.doesNotMatch(await roundTrip(back), /<message/, 'the chat state is not kept');
  assert.equal(await offline.count(aliceJid), 0);
  back.close();

  // The client closes its stream itself (no stream management, no <active/> first): the same.
  const polite = await session(t.c2sPort, 'alice', 'polite', { priority: -1 }); // a full-JID message reaches it even so
  await goInactive(polite);
  bob.send("<message to='alice@localhost/polite' type='chat' id='r3'><displayed xmlns='urn:xmpp:chat-markers:0' id='m0'/></message>");
  await roundTrip(bob);
  polite.send('</stream:stream>');
  await polite.waitClosed();
  await until(async () => (await offline.count(aliceJid)) === 1, 'the held marker is stored offline');
  const { c: last } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'last');
  assert.deepEqual((await upTo(last, 'r3')).filter((e) => e.name === 'message').map((e) => e.attrs.id), ['r3']);
  for (const c of [last, bob]) c.close();
});

test('CSI takes only its own nonzas: another namespace, or an unknown CSI element, still ends the stream with unsupported-stanza-type', async () => {
  for (const nonza of ["<enable xmlns='urn:example:other'/>", `<flush xmlns='${NS_CSI}'/>`]) {
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'odd');
    await roundTrip(c);
    c.send(nonza);
    const m = await c.expect(/<stream:error>([\s\S]*?)<\/stream:error>/);
    assertStanza(`<e>${m[1]}</e>`, { name: 'e', has: [{ name: 'unsupported-stanza-type', ns: 'urn:ietf:params:xml:ns:xmpp-streams' }] });
    await c.waitClosed();
  }
});

test('unloading the module while a client is inactive writes what was held; then CSI is gone', async () => {
  const alice = await session(t.c2sPort, 'alice', 'unload');
  const bob = await session(t.c2sPort, 'bob', 'b');
  await roundTrip(alice);
  await goInactive(alice);
  await chatState(bob, 'alice@localhost/unload', 'composing', 'w1');
  await status(bob, 'bye');
  assert.equal(alice.buffer, '');
  await t.server.modules.unload('csi');
  try {
    assert.deepEqual(stanzas(await roundTrip(alice)).map(label), ['chatstate:bob@localhost/b:composing', 'presence:bob@localhost/b:bye']);
    await chatState(bob, 'alice@localhost/unload', 'paused', 'w2');
    assert.deepEqual(stanzas(await roundTrip(alice)).map(label), ['chatstate:bob@localhost/b:paused'], 'nothing is held any more');
    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    assert.match((await alice.expect(/<stream:error>[\s\S]*?<\/stream:error>/))[0], /<unsupported-stanza-type /);
  } finally {
    await t.server.modules.load('csi', {});
  }
  // Loaded again, CSI works.
  const again = await session(t.c2sPort, 'alice', 'again', { priority: null });
  await goInactive(again);
  const held0 = await counted(t, 'held');
  await chatState(bob, 'alice@localhost/again', 'composing', 'w3');
  assert.equal(await delta('held', held0), 1);
  assert.equal(again.buffer, '');
  for (const x of [again, bob]) x.close();
});
