// XEP-0198 over real sockets: the feature after authentication, enable, acknowledgements both ways,
// <r/> after ack_after unacknowledged stanzas, a TCP connection cut mid-conversation and resumed (nothing
// lost, nothing twice, same JID and presence, no unavailable seen by a contact), a session not resumed in
// time (its unacknowledged messages at the next login, once, archived once), and failed resumptions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';
import { assertNothing, login, makeBoth, sync } from '../roster/test-support.js';
import { query } from '../mam/test-support.js';
import { setCarbons } from '../carbons/test-support.js';
import { SM, Tally, bodies, cut, enable, resume, sessionOf, storedOffline } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({
    modules: {
      disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, mam: {}, carbons: {},
      stream_management: { ack_after: 3, max_resume_timeout: 60, location: 'xmpp.localhost:5222' },
    },
  });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`);
  const a = await login(t, 'alice', 'setup');
  const b = await login(t, 'bob', 'setup');
  await makeBoth(a, b, 'alice@localhost', 'bob@localhost');
  for (const x of [a, b]) x.c.close();
});
after(() => t.stop());

const msg = (to: string, body: string) => `<message to='${to}' type='chat'><body>${body}</body></message>`;
const failedShape = (condition: string) => ({ name: 'failed', ns: SM, children: [{ name: condition, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] });

test('<sm/> is offered after authentication; enable without resumption; acks both ways; a wrong h ends the stream', async () => {
  const c = await RawClient.connect(t.c2sPort);
  c.openStream();
  await c.features();
  await c.starttls();
  c.openStream();
  // Before authentication only as a SASL2 inline feature (XEP-0388 §2.1: resumption inside <authenticate/>).
  const preAuth = (await c.features()).replace(/<authentication\b[\s\S]*?<\/authentication>/, '');
  assert.doesNotMatch(preAuth, /urn:xmpp:sm:3/, 'not as a stream feature before authentication');
  await c.authScram('SCRAM-SHA-256', 'carol', 'pw-carol');
  c.openStream();
  assert.match(await c.features(), /<sm xmlns=["']urn:xmpp:sm:3["']\/>/);
  await c.bind('one');
  const enabled = await enable(c, '');
  assertStanza(enabled, { name: 'enabled', ns: SM, attrs: { id: null, resume: null } });
  assertStanza(await enable(c, ''), failedShape('unexpected-request'), { ns: SM });
  // The server counts what the client sends: two pings, then <r/>.
  await sync(c);
  await sync(c);
  c.send(`<r xmlns='${SM}'/>`);
  assertStanza((await c.expect(/<a [^>]*\/>/))[0], { name: 'a', ns: SM, attrs: { h: '2' } });
  // The client acknowledges the two results it got; one more than that is refused (§4).
  c.send(`<a xmlns='${SM}' h='2'/>`);
  await sync(c);
  c.send(`<a xmlns='${SM}' h='9'/>`);
  assert.match(await c.waitClosed(), /<undefined-condition xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
});

test('the server asks for an acknowledgement (<r/>) once ack_after stanzas wait for one, and not before', async () => {
  const a = await login(t, 'dave', 'phone', { presence: false, roster: false });
  await enable(a.c, '');
  const b = await login(t, 'bob', 'r-test', { presence: false, roster: false });
  b.c.send(msg('dave@localhost/phone', 'one'));
  b.c.send(msg('dave@localhost/phone', 'two'));
  await sync(b.c);
  b.c.send(msg('dave@localhost/phone', 'three'));
  const m = await a.c.expect(/<r xmlns=["']urn:xmpp:sm:3["']\/>/);
  assert.deepEqual(bodies(m.input.slice(0, m.index)), ['one', 'two', 'three'], '<r/> follows the third unacknowledged stanza');
  a.c.send(`<a xmlns='${SM}' h='3'/>`);
  b.c.send(msg('dave@localhost/phone', 'four'));
  await sync(b.c);
  // One stanza waits now (the message), then the ping result: two, below ack_after.
  assert.doesNotMatch(await sync(a.c), /<r /, 'acknowledged: no new request yet');
  a.c.close();
  b.c.close();
});

test('a connection cut mid-conversation is resumed: unacknowledged stanzas again, once; same JID and presence; the contact sees no unavailable', async () => {
  const bob = await login(t, 'bob', 'pc');
  const laptop = await login(t, 'alice', 'laptop');
  assertStanza(await setCarbons(laptop.c, true), { name: 'iq', attrs: { type: 'result' } });
  const phone = await login(t, 'alice', 'phone', { presence: "<presence><priority>5</priority></presence>" });
  const tally = new Tally(phone.c);
  const enabled = await enable(phone.c);
  assertStanza(enabled, { name: 'enabled', ns: SM, attrs: { resume: 'true', id: /.+/, max: '60', location: 'xmpp.localhost:5222' } });
  const previd = enabled.attrs.id as string;
  await sync(bob.c);
  await sync(laptop.c);

  bob.c.send(msg('alice@localhost/phone', 'm1'));
  bob.c.send(msg('alice@localhost/phone', 'm2'));
  await phone.c.expect(/m2<\/body>/);
  phone.c.send(`<a xmlns='${SM}' h='${tally.h}'/>`);
  await sync(phone.c);
  const acked = tally.h; // m1, m2 and the ping result, all acknowledged but the last
  phone.c.send(msg('bob@localhost', 'from the phone'));
  await bob.c.expect(/from the phone/);
  bob.c.send(msg('alice@localhost/phone', 'm3'));
  bob.c.send(msg('alice@localhost/phone', 'm4'));
  await phone.c.expect(/m4<\/body>/);

  await cut(t, phone.c, 'alice@localhost/phone');
  const kept = sessionOf(t, 'alice@localhost/phone');
  assert.equal(kept?.detached, true, 'the session waits to be resumed');
  assert.ok(kept.presence, 'and keeps its presence');
  bob.c.send(msg('alice@localhost/phone', 'm5'));
  bob.c.send(msg('alice@localhost', 'm6 to the bare JID'));
  await assertNothing(bob.c, /type=["']unavailable["']/, 'no unavailable presence while the session is kept');

  const r = await resume(t.c2sPort, 'alice', previd, acked - 1);
  assert.match(r.features, /urn:xmpp:sm:3/);
  // The server handled two stanzas of the phone since <enable/>: the ping after its <a/> and its message.
  assertStanza(r.answer, { name: 'resumed', ns: SM, attrs: { previd, h: '2' } });
  const got = await sync(r.c);
  // Everything from the ping result the client did not acknowledge: the result again, m3, m4, m5, m6, once each.
  assert.deepEqual(bodies(got), ['m3', 'm4', 'm5', 'm6 to the bare JID']);
  assert.match(got, /^<iq\b/, 'the unacknowledged ping result comes first');
  // Same full JID, still available; bob saw no unavailable presence, and the laptop got each carbon once.
  const ping = await r.c.iq('p1', "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  assertStanza(ping, { name: 'iq', attrs: { to: 'alice@localhost/phone', type: 'result' } });
  assert.equal(sessionOf(t, 'alice@localhost/phone'), kept, 'the same session, taken over');
  assert.equal(kept.detached, false);
  await assertNothing(bob.c, /type=["']unavailable["']/, 'no unavailable presence after resumption');
  const carbons = bodies(await sync(laptop.c));
  for (const b of ['m1', 'm2', 'm3', 'm4', 'm5']) assert.equal(carbons.filter((x) => x === b).length, 1, `one carbon of ${b}, none for the re-sent ones`);
  // The archive holds each message once.
  const archived = (await query(r.c, `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>bob@localhost</value></field></x>`)).results.map((x) => bodies(x.xml)[0]);
  for (const b of ['m3', 'm4', 'm5']) assert.equal(archived.filter((x) => x === b).length, 1, `${b} archived once`);
  r.c.send('</stream:stream>'); // a clean close: the session ends now instead of waiting to be resumed
  await until(() => sessionOf(t, 'alice@localhost/phone') === undefined, 'the phone session ended');
  for (const c of [bob.c, laptop.c, r.c]) c.close();
});

test('a session not resumed in time: bob sees it go unavailable, its unacknowledged messages arrive at the next login once, archived once', async () => {
  const bob = await login(t, 'bob', 'watch');
  const phone = await login(t, 'alice', 'short');
  const enabled = await enable(phone.c, " resume='true' max='1'");
  assertStanza(enabled, { name: 'enabled', attrs: { max: '1' } });
  await sync(bob.c);
  bob.c.send(msg('alice@localhost/short', 'lost-1'));
  bob.c.send(msg('alice@localhost/short', 'lost-2'));
  await phone.c.expect(/lost-2<\/body>/);
  await cut(t, phone.c, 'alice@localhost/short');
  await bob.c.expect(/<presence[^>]*from=["']alice@localhost\/short["'][^>]*type=["']unavailable["']|<presence[^>]*type=["']unavailable["'][^>]*from=["']alice@localhost\/short["']/, 5000);
  assert.equal(sessionOf(t, 'alice@localhost/short'), undefined);
  await storedOffline(t, 'alice@localhost', 2);
  // The id is gone with the session.
  const late = await resume(t.c2sPort, 'alice', enabled.attrs.id as string, 0);
  assertStanza(late.answer, failedShape('item-not-found'), { ns: SM });
  late.c.close();

  const back = await login(t, 'alice', 'again', { presence: false });
  back.c.send('<presence/>');
  const got = await sync(back.c);
  assert.deepEqual(bodies(got).filter((b) => b.startsWith('lost-')), ['lost-1', 'lost-2'], 'each once, in order');
  assert.match(got, /<delay xmlns=["']urn:xmpp:delay["'][^>]*>Offline Storage</);
  assert.deepEqual(bodies(await sync(back.c)), [], 'nothing more');
  const archived = (await query(back.c)).results.map((x) => bodies(x.xml)[0]);
  assert.equal(archived.filter((x) => x === 'lost-1').length, 1, 'archived once, not again when stored offline');
  bob.c.close();
  back.c.close();
});

test('resume with an unknown id, or with another account\'s id, fails with item-not-found; the stream can still bind', async () => {
  const phone = await login(t, 'carol', 'mine', { presence: false, roster: false });
  const id = (await enable(phone.c)).attrs.id as string;
  const wrong = await resume(t.c2sPort, 'carol', 'no-such-id', 0);
  assertStanza(wrong.answer, failedShape('item-not-found'), { ns: SM });
  assert.match(await wrong.c.bind('fresh'), /^carol@localhost\/fresh$/);
  const thief = await resume(t.c2sPort, 'dave', id, 0);
  assertStanza(thief.answer, failedShape('item-not-found'), { ns: SM });
  assert.equal(sessionOf(t, 'carol@localhost/mine')?.detached, false, 'the session is untouched');
  for (const c of [phone.c, wrong.c, thief.c]) c.close();
});

test('a clean </stream:stream> ends the session at once (not resumable)', async () => {
  const bob = await login(t, 'bob', 'clean-watch');
  const phone = await login(t, 'alice', 'clean');
  await enable(phone.c);
  phone.c.send('</stream:stream>');
  await until(() => sessionOf(t, 'alice@localhost/clean') === undefined, 'session gone');
  await bob.c.expect(/from=["']alice@localhost\/clean["'][^>]*type=["']unavailable["']|type=["']unavailable["'][^>]*from=["']alice@localhost\/clean["']/);
  bob.c.close();
  phone.c.close();
});

test('resuming while the old connection still looks open: the old stream ends with <conflict/>, the session moves (twice)', async () => {
  const first = await login(t, 'carol', 'moving', { presence: false, roster: false });
  const id = (await enable(first.c)).attrs.id as string;
  const { c: bob } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'mover-watch', { presence: false });
  bob.send(msg('carol@localhost/moving', 'unacked'));
  await first.c.expect(/unacked<\/body>/);
  const kept = sessionOf(t, 'carol@localhost/moving');
  const tooHigh = await resume(t.c2sPort, 'carol', id, 99);
  assertStanza(tooHigh.answer, { name: 'failed', ns: SM, attrs: { h: '0' }, children: [{ name: 'undefined-condition', ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] });
  tooHigh.c.close();
  const second = await resume(t.c2sPort, 'carol', id, 0);
  assertStanza(second.answer, { name: 'resumed', ns: SM, attrs: { previd: id, h: '0' } });
  assert.match(await first.c.waitClosed(), /<conflict xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  assert.deepEqual(bodies(await sync(second.c)), ['unacked'], 'the unacknowledged message again, on the new stream');
  // h=1: 'unacked' was handled, the ping result of the second stream was not (it comes again).
  const third = await resume(t.c2sPort, 'carol', id, 1);
  assertStanza(third.answer, { name: 'resumed', ns: SM, attrs: { previd: id, h: '1' } }); // the server handled the ping
  assert.match(await second.c.waitClosed(), /<conflict xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
  bob.send(msg('carol@localhost/moving', 'on the third'));
  const got = (await third.c.expect(/on the third<\/body>/)).input;
  assert.match(got, /^<iq\b[^>]*type=["']result["']/, 'the unacknowledged ping result first');
  assert.deepEqual(bodies(got), ['on the third']);
  assert.deepEqual(bodies(await sync(third.c)), []);
  assert.equal(sessionOf(t, 'carol@localhost/moving'), kept);
  third.c.send('</stream:stream>');
  await until(() => sessionOf(t, 'carol@localhost/moving') === undefined, 'ended by the clean close');
  bob.close();
});
