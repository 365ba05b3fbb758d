// XEP-0280 Message Carbons over real sockets: enable/disable, received copies (full and bare JID) and sent
// copies across three enabled resources and one that is not, the <private/> and <no-copy/> hints, which
// messages are eligible, and no duplicates with the offline store or the archive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { assertStanza, type StanzaShape } from '../../test/support/stanza-match.js';
import { query } from '../mam/test-support.js';
import type { Element } from '../../src/sdk.js';
import { messagesBefore, roundTrip, session, setCarbons } from './test-support.js';

const NS = 'urn:xmpp:carbons:2';
const FWD = 'urn:xmpp:forward:0';

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, blocking: {}, mam: {}, carbons: {} } });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

/** A carbon copy: from the account's bare JID to one resource, the original inside <forwarded/>. */
function carbon(kind: 'sent' | 'received', owner: string, to: string, original: StanzaShape): StanzaShape {
  return {
    name: 'message', ns: 'jabber:client', attrs: { from: owner, to, type: original.attrs?.type ?? 'chat' },
    children: [{ name: kind, ns: NS, children: [{ name: 'forwarded', ns: FWD, children: [original] }] }],
  };
}
const body = (text: string): StanzaShape => ({ name: 'body', ns: 'jabber:client', text });
const bodyOf = (m: Element) => m.getChild('body')?.getText() ?? null;
const settle = async (...cs: RawClient[]) => { for (const c of cs) await roundTrip(c); };

test('disco advertises carbons; enable and disable answer (repeated ones too); get, unknown payloads and other accounts are refused', async () => {
  const c = await session(t.c2sPort, 'carol', 'one');
  const info = await c.iq('d1', "<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match(info, /<feature var=["']urn:xmpp:carbons:2["']\/>/);
  for (const on of [true, true, false, false]) assertStanza(await setCarbons(c, on), { name: 'iq', attrs: { type: 'result' } });
  // Some clients address the server instead of their account: same effect.
  assertStanza(await c.iq('h1', `<iq type='set' id='h1' to='localhost'><enable xmlns='${NS}'/></iq>`), { name: 'iq', attrs: { type: 'result' } });
  const err = (cond: string): StanzaShape => ({ name: 'iq', attrs: { type: 'error' }, has: [{ name: 'error', has: [{ name: cond, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }] });
  assertStanza(await c.iq('g1', `<iq type='get' id='g1'><enable xmlns='${NS}'/></iq>`), err('bad-request'));
  assertStanza(await c.iq('u1', `<iq type='set' id='u1'><toggle xmlns='${NS}'/></iq>`), err('bad-request'));
  assertStanza(await c.iq('o1', `<iq type='set' id='o1' to='dave@localhost'><enable xmlns='${NS}'/></iq>`), err('not-allowed'));
  c.close();
});

test('three enabled resources and one disabled: received copies (full and bare JID), sent copies, never to a resource that got the original', async () => {
  const one = await session(t.c2sPort, 'alice', 'one', { priority: 5, carbons: true });
  const two = await session(t.c2sPort, 'alice', 'two', { priority: 5, carbons: true });
  const three = await session(t.c2sPort, 'alice', 'three', { priority: 0, carbons: true });
  const four = await session(t.c2sPort, 'alice', 'four', { priority: 0, carbons: true });
  assertStanza(await setCarbons(four, false), { name: 'iq', attrs: { type: 'result' } }); // disabled again: gets none
  const bob = await session(t.c2sPort, 'bob', 'x');
  const all = [one, two, three, four];
  await settle(...all);
  await Promise.all(all.map(messagesBefore)); // drop presence echoes

  // bob -> alice/three: three gets the original, one and two a <received/> copy, four nothing.
  bob.send("<message to='alice@localhost/three' type='chat' id='full1'><body>to three</body></message>");
  await settle(bob);
  let got = await Promise.all(all.map(messagesBefore));
  const original: StanzaShape = { name: 'message', attrs: { from: 'bob@localhost/x', to: 'alice@localhost/three', type: 'chat', id: 'full1' }, has: [body('to three')] };
  assert.equal(got[2]!.length, 1);
  assertStanza(got[2]![0]!, original);
  for (const [i, res] of [[0, 'one'], [1, 'two']] as const) {
    assert.equal(got[i]!.length, 1, `${res} gets one copy`);
    assertStanza(got[i]![0]!, carbon('received', 'alice@localhost', `alice@localhost/${res}`, original));
  }
  assert.deepEqual(got[3], [], 'the disabled resource gets nothing');

  // bob -> alice (bare): RFC 6121 delivers to one and two (priority 5); only three gets a copy.
  bob.send("<message to='alice@localhost' type='chat' id='bare1'><body>to the account</body></message>");
  await settle(bob);
  got = await Promise.all(all.map(messagesBefore));
  assert.deepEqual(got.map((ms) => ms.map((m) => m.getChild('received', NS) ? 'received' : bodyOf(m))), [['to the account'], ['to the account'], ['received'], []]);
  assertStanza(got[2]![0]!, carbon('received', 'alice@localhost', 'alice@localhost/three',
    { name: 'message', attrs: { from: 'bob@localhost/x', to: 'alice@localhost', id: 'bare1' }, has: [body('to the account')] }));

  // alice/one -> bob: two and three get a <sent/> copy; one (the sender) and four nothing.
  one.send("<message to='bob@localhost/x' type='chat' id='out1'><body>from one</body></message>");
  await settle(one);
  got = await Promise.all(all.map(messagesBefore));
  const sent: StanzaShape = { name: 'message', attrs: { from: 'alice@localhost/one', to: 'bob@localhost/x', type: 'chat', id: 'out1' }, has: [body('from one')] };
  assert.deepEqual(got[0], []);
  assert.deepEqual(got[3], []);
  // The copy carries alice's archive id (XEP-0313: in the forwarded message of a carbon); bob's does not.
  const aliceArchive = await query(one);
  const sentId = aliceArchive.results.find((r) => /id=["']out1["']/.test(r.xml))!.id;
  const stamped = { ...sent, has: [...sent.has!, { name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: 'alice@localhost', id: sentId } }] };
  for (const [i, res] of [[1, 'two'], [2, 'three']] as const) {
    assert.equal(got[i]!.length, 1);
    assertStanza(got[i]![0]!, carbon('sent', 'alice@localhost', `alice@localhost/${res}`, stamped));
  }
  assertStanza((await messagesBefore(bob))[0]!, { ...sent, without: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: 'alice@localhost' } }] });

  // §8: the copies go out whether or not the sending client enabled carbons itself.
  four.send("<message to='bob@localhost/x' type='chat' id='out2'><body>from four</body></message>");
  await settle(four);
  got = await Promise.all(all.map(messagesBefore));
  assert.deepEqual(got.map((ms) => ms.map((m) => m.getChild('sent', NS)?.getChild('forwarded', FWD)?.getChild('message')?.attrs.id ?? bodyOf(m))), [['out2'], ['out2'], ['out2'], []]);
  await messagesBefore(bob);

  // Eligibility (§6): normal with a body, and a body-less receipt, are copied; headline and a body-less
  // normal message without IM payload are not.
  bob.send("<message to='alice@localhost/three' id='n1'><body>normal</body></message>");
  bob.send("<message to='alice@localhost/three' id='r1'><received xmlns='urn:xmpp:receipts' id='out1'/></message>");
  bob.send("<message to='alice@localhost/three' type='headline' id='h1'><body>news</body></message>");
  bob.send("<message to='alice@localhost/three' id='e1'><x xmlns='jabber:x:oob'><url>http://example.test/</url></x></message>");
  await settle(bob);
  got = await Promise.all(all.map(messagesBefore));
  assert.equal(got[2]!.length, 4, 'three gets all four originals');
  for (const i of [0, 1]) {
    const ids = got[i]!.map((m) => m.getChild('received', NS)?.getChild('forwarded', FWD)?.getChild('message')?.attrs.id);
    assert.deepEqual(ids, ['n1', 'r1']);
  }
  assert.deepEqual(got[3], []);

  // A message to another resource of the same account: the recipient gets the original, the other enabled
  // resources one <received/> copy each, the sender none (and no <sent/> copy on top).
  one.send("<message to='alice@localhost/two' type='chat' id='self1'><body>note to two</body></message>");
  await settle(one);
  got = await Promise.all(all.map(messagesBefore));
  assert.deepEqual(got.map((ms) => ms.map((m) => (m.getChild('received', NS) ? 'received' : m.getChild('sent', NS) ? 'sent' : bodyOf(m)))), [[], ['note to two'], ['received'], []]);

  // The archive holds each message once per account: copies are not archived again.
  const archived = await query(one);
  const ids = archived.results.map((r) => /<message[^>]*\sid=["']([^"']+)["'][^>]*>\s*<body/.exec(r.xml)?.[1] ?? /<forwarded[\s\S]*?<message[^>]*\sid=["']([^"']+)["']/.exec(r.xml)?.[1]);
  for (const id of ['full1', 'bare1', 'out1', 'n1']) assert.equal(ids.filter((x) => x === id).length, 1, `${id} archived once for alice: ${ids.join(',')}`);
  for (const c of [...all, bob]) c.close();
});

test('<private/> and <no-copy/>: no copies on either side; the recipient gets the message without <private/>; a blocked message is not copied', async () => {
  const d1 = await session(t.c2sPort, 'dave', 'd1', { carbons: true });
  const d2 = await session(t.c2sPort, 'dave', 'd2', { carbons: true });
  const e1 = await session(t.c2sPort, 'erin', 'e1', { carbons: true });
  const e2 = await session(t.c2sPort, 'erin', 'e2', { carbons: true });
  const all = [d1, d2, e1, e2];
  await settle(...all);
  await Promise.all(all.map(messagesBefore));

  d1.send(`<message to='erin@localhost/e1' type='chat' id='p1'><body>secret</body><private xmlns='${NS}'/></message>`);
  d1.send("<message to='erin@localhost/e1' type='chat' id='p2'><body>hinted</body><no-copy xmlns='urn:xmpp:hints'/></message>");
  e2.send(`<message to='dave@localhost/d2' type='chat' id='p3'><body>back</body><private xmlns='${NS}'/></message>`);
  await settle(d1, e2);
  const [gd1, gd2, ge1, ge2] = await Promise.all(all.map(messagesBefore));
  assert.deepEqual(gd1, [], 'no <received/> copy of p3 for dave\'s other resource');
  assert.deepEqual(ge2, [], 'no <sent/> copy of p3, no <received/> copies of p1/p2');
  assert.equal(ge1!.length, 2);
  assertStanza(ge1![0]!, { name: 'message', attrs: { id: 'p1' }, has: [body('secret')], without: [{ name: 'private', ns: NS }] });
  assertStanza(ge1![1]!, { name: 'message', attrs: { id: 'p2' }, has: [body('hinted'), { name: 'no-copy', ns: 'urn:xmpp:hints' }] });
  assert.equal(gd2!.length, 1);
  assertStanza(gd2![0]!, { name: 'message', attrs: { id: 'p3' }, has: [body('back')], without: [{ name: 'private', ns: NS }] });

  // A message the router refuses (dave blocked erin, XEP-0191) is answered with an error and not copied.
  assertStanza(await d1.iq('blk', "<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='erin@localhost'/></block></iq>"), { name: 'iq', attrs: { type: 'result' } });
  d1.send("<message to='erin@localhost/e1' type='chat' id='blocked1'><body>never sent</body></message>");
  await d1.expect(/<message(?=[^>]*type=["']error["'])(?=[^>]*id=["']blocked1["'])[^>]*>/); // dave gets the error
  await settle(e1);
  const [bd2, be1] = await Promise.all([d2, e1].map(messagesBefore));
  assert.deepEqual(bd2, [], 'no <sent/> copy of a blocked message');
  assert.deepEqual(be1, []);
  for (const c of all) c.close();
});

test('a message stored offline makes no carbon: the enabled session without presence gets it once, from the offline store', async () => {
  const quiet = await session(t.c2sPort, 'carol', 'quiet', { priority: null, carbons: true }); // no presence: not a delivery target
  const bob = await session(t.c2sPort, 'bob', 'y');
  bob.send("<message to='carol@localhost' type='chat' id='off1'><body>while away</body></message>");
  await settle(bob);
  assert.deepEqual(await messagesBefore(quiet), [], 'no copy of a message that went to the offline store');
  quiet.send('<presence/>'); // available now: the offline store delivers
  const got = (await messagesBefore(quiet)).filter((m) => bodyOf(m) === 'while away' || m.getChild('received', NS));
  assert.equal(got.length, 1, 'exactly once');
  assertStanza(got[0]!, { name: 'message', attrs: { id: 'off1' }, has: [body('while away'), { name: 'delay', ns: 'urn:xmpp:delay' }] });
  quiet.close(); bob.close();
});

test('a closed session leaves the enabled set (gauge) and the copies are counted per host and direction', async () => {
  const metric = async (name: string) => t.server.core.metrics.registry.getSingleMetricAsString(name);
  const enabled = async () => Number(/xmppd_carbons_enabled_sessions\{host="localhost"\} (\d+)/.exec(await metric('xmppd_carbons_enabled_sessions'))![1]);
  await until(async () => (await enabled()) === 0, 'the earlier tests\' sessions are gone');
  const c = await session(t.c2sPort, 'carol', 'gauge', { carbons: true });
  assert.equal(await enabled(), 1);
  c.close();
  await until(async () => (await enabled()) === 0, 'the closed session leaves the gauge');
  const copies = await metric('xmppd_carbons_copies_total');
  assert.match(copies, /xmppd_carbons_copies_total\{host="localhost",direction="received"\} [1-9]/);
  assert.match(copies, /xmppd_carbons_copies_total\{host="localhost",direction="sent"\} [1-9]/);
});
