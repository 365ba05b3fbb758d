// XEP-0191 Blocking Command over real sockets: alice blocks; bob, dave (another host) and eve get blocked;
// carol is never blocked and her traffic is checked to flow throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { escapeRe, forEachHost, HOSTS } from '../../test/support/each-host.js';
import { Jid } from '../../src/sdk.js';
import {
  BL, assertBlockedError, assertError, block, blocklist, iq, iqId, login as loginAt, messageFrom, msgId, presenceFrom,
  pushOf, sync, take, unblock,
} from './test-helpers.js';

const MODULES = { disco: {}, ping: {}, version: {}, time: {}, blocking: {} };
const overrides = { modules: MODULES };
let dir: string;
let t: TestServer;
const open: RawClient[] = [];

async function loginTop(user: string, resource: string, opts: { domain?: string; presence?: boolean } = {}): Promise<RawClient> {
  const c = await loginAt(t.c2sPort, user, resource, opts);
  open.push(c);
  return c;
}

/** `from` sends a chat message to `to`; returns what `receiver` got. */
async function chat(from: RawClient, to: string, receiver: RawClient, body: string): Promise<string> {
  from.send(`<message to='${to}' type='chat'><body>${body}</body></message>`);
  return take(receiver, new RegExp(`<message[^>]*>(?:(?!</message>)[\\s\\S])*<body>${body}</body>[\\s\\S]*?</message>`));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-blocking-'));
  t = await startTestServer(overrides, { dir });
  // dave lives on the other host of each run
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'eve', 'frank']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  for (const c of open) c.close();
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

forEachHost((host) => {
  const H = escapeRe(host);
  const otherHost = host === 'localhost' ? 'example.test' : 'localhost';
  const O = escapeRe(otherHost);
  const login = (user: string, resource: string, opts: { domain?: string; presence?: boolean } = {}) => loginTop(user, resource, { domain: host, ...opts });
  test('the server advertises urn:xmpp:blocking; a fresh account has an empty block list', async () => {
    const a = await login('alice', 'disco');
    const d = await iq(a, 'get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", `${host}`);
    assert.match(d, /<feature var=["']urn:xmpp:blocking["']\/>/);
    assert.match(await iq(a, 'get', `<blocklist ${BL}/>`), /<blocklist xmlns=["']urn:xmpp:blocking["']\/>/);
    a.close();
  });

  test('alice blocks bob: pushes reach her resources that asked for the list; bob and alice cannot reach each other; carol is unaffected', async () => {
    const desk = await login('alice', 'desk');
    const tablet = await login('alice', 'tablet');
    const phone = await login('alice', 'phone'); // never requests the block list
    const bob = await login('bob', 'home');
    const carol = await login('carol', 'work');
    assert.deepEqual(await blocklist(desk), []);
    assert.deepEqual(await blocklist(tablet), []);

    await block(desk, `bob@${host}`);
    // §3.3: the push goes to every resource that requested the block list (the requester included).
    for (const [c, res] of [[desk, 'desk'], [tablet, 'tablet']] as const) {
      const push = await take(c, pushOf('block'));
      assert.match(push, new RegExp(`to=["']alice@${host}/${res}["']`));
      assert.match(push, new RegExp(String.raw`<item jid=["']bob@${H}["']\/>`));
    }
    await sync(phone);
    assert.doesNotMatch(phone.buffer, /urn:xmpp:blocking/, 'a resource that never asked for the list gets no push');
    assert.deepEqual(await blocklist(phone), [`bob@${host}`]);

    // Inbound (§3.3): a message gets service-unavailable from the address bob used ...
    bob.send(`<message to='alice@${host}' type='chat' id='bm1'><body>hi alice</body></message>`);
    const e1 = await take(bob, msgId('bm1'));
    assertError(e1, 'service-unavailable');
    assert.match(e1, new RegExp(String.raw`from=["']alice@${H}["']`));
    assert.doesNotMatch(e1, /urn:xmpp:blocking:errors/, 'bob is not told he is blocked');
    // ... an IQ get to a full JID gets service-unavailable ...
    bob.send(`<iq to='alice@${host}/desk' type='get' id='bq1'><query xmlns='jabber:iq:version'/></iq>`);
    assertError(await take(bob, iqId('bq1')), 'service-unavailable');
    // ... presence is dropped without an answer (a later IQ proves bob's presence was routed).
    bob.send(`<presence to='alice@${host}/desk'/>`);
    bob.send(`<iq to='alice@${host}' type='get' id='bq2'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assertError(await take(bob, iqId('bq2')), 'service-unavailable');
    assert.doesNotMatch(bob.buffer, /<presence/, 'no error for presence');
    // an IQ result from bob is dropped silently too
    bob.send(`<iq to='alice@${host}/desk' type='result' id='bq3'/>`);
    await sync(bob);
    for (const c of [desk, tablet, phone]) {
      await sync(c);
      assert.doesNotMatch(c.buffer, new RegExp(String.raw`from=["']bob@${H}`), 'alice got nothing from bob');
    }

    // Outbound (§3.3): not-acceptable with <blocked/>, for messages, IQs and directed presence.
    desk.send(`<message to='bob@${host}' type='chat' id='am1'><body>hello?</body></message>`);
    const e2 = await take(desk, msgId('am1'));
    assertBlockedError(e2);
    assert.match(e2, new RegExp(String.raw`from=["']bob@${H}["']`));
    assert.match(e2, /<body>hello\?<\/body>/);
    desk.send(`<iq to='bob@${host}/home' type='get' id='aq1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assertBlockedError(await take(desk, iqId('aq1')));
    desk.send(`<presence to='bob@${host}/home' id='ap1'/>`);
    assertBlockedError(await take(desk, stanzaWithId('presence', 'ap1')));
    await sync(bob);
    assert.doesNotMatch(bob.buffer, new RegExp(String.raw`from=["']alice@${H}`), 'bob got nothing from alice');

    // carol reaches both and both reach carol; alice's own resources reach each other.
    assert.match(await chat(carol, `alice@${host}/desk`, desk, 'from carol'), new RegExp(String.raw`from=["']carol@${H}\/work["']`));
    assert.match(await chat(desk, `carol@${host}`, carol, 'to carol'), new RegExp(String.raw`from=["']alice@${H}\/desk["']`));
    assert.match(await chat(bob, `carol@${host}/work`, carol, 'bob to carol'), new RegExp(String.raw`from=["']bob@${H}\/home["']`));
    assert.match(await chat(carol, `bob@${host}`, bob, 'carol to bob'), new RegExp(String.raw`from=["']carol@${H}\/work["']`));
    assert.match(await chat(phone, `alice@${host}/desk`, desk, 'note to self'), new RegExp(String.raw`from=["']alice@${H}\/phone["']`));

    await unblock(desk);
    assert.match(await chat(bob, `alice@${host}/desk`, desk, 'hello again'), new RegExp(String.raw`from=["']bob@${H}\/home["']`));
    for (const c of [desk, tablet, phone, bob, carol]) c.close();
  });

  function stanzaWithId(name: string, id: string): RegExp {
    return new RegExp(`<${name}(?=[^>]*\\sid=["']${id}["'])[^>]*?(?:/>|>[\\s\\S]*?</${name}>)`);
  }

  test('JID matching (§6): a domain item blocks every JID at it; full JID and domain/resource items only that resource', async () => {
    const alice = await login('alice', 'match');
    const dave = await login('dave', 'x', { domain: otherHost });
    const dave2 = await login('dave', 'y', { domain: otherHost });
    const bob1 = await login('bob', 'one');
    const bob2 = await login('bob', 'two');
    const carol = await login('carol', 'match');

    await block(alice, otherHost);
    dave.send(`<message to='alice@${host}' type='chat' id='dm1'><body>x</body></message>`);
    assertError(await take(dave, msgId('dm1')), 'service-unavailable');
    alice.send(`<message to='dave@${otherHost}' type='chat' id='am2'><body>x</body></message>`);
    assertBlockedError(await take(alice, msgId('am2')));
    // the domain itself matches as well
    assertBlockedError(await iq(alice, 'get', "<ping xmlns='urn:xmpp:ping'/>", otherHost));
    assert.match(await chat(bob1, `alice@${host}/match`, alice, 'bob is fine'), new RegExp(String.raw`from=["']bob@${H}\/one["']`));
    await unblock(alice, otherHost);
    assert.match(await chat(dave, `alice@${host}/match`, alice, 'dave is back'), new RegExp(String.raw`from=["']dave@${O}\/x["']`));

    // domain/resource: only dave/x, not dave/y
    await block(alice, `${otherHost}/x`);
    dave.send(`<message to='alice@${host}' type='chat' id='dm2'><body>x</body></message>`);
    assertError(await take(dave, msgId('dm2')), 'service-unavailable');
    assert.match(await chat(dave2, `alice@${host}/match`, alice, 'dave y'), new RegExp(String.raw`from=["']dave@${O}\/y["']`));

    // full JID: only bob/one; a message to bob's bare JID is not covered by a full-JID item
    await block(alice, `bob@${host}/one`);
    bob1.send(`<message to='alice@${host}' type='chat' id='b1m'><body>x</body></message>`);
    assertError(await take(bob1, msgId('b1m')), 'service-unavailable');
    assert.match(await chat(bob2, `alice@${host}/match`, alice, 'bob two'), new RegExp(String.raw`from=["']bob@${H}\/two["']`));
    alice.send(`<message to='bob@${host}/one' type='chat' id='am3'><body>x</body></message>`);
    assertBlockedError(await take(alice, msgId('am3')));
    assert.match(await chat(alice, `bob@${host}/two`, bob2, 'to bob two'), new RegExp(String.raw`from=["']alice@${H}\/match["']`));
    assert.deepEqual(await blocklist(alice), [`bob@${host}/one`, `${otherHost}/x`]);

    // the user's own JID never blocks her resources, and her own server stays reachable
    await unblock(alice);
    const other = await login('dave', 'z', { domain: otherHost });
    await block(dave, otherHost, `dave@${otherHost}`);
    assert.match(await iq(dave, 'get', "<ping xmlns='urn:xmpp:ping'/>", otherHost), /type=["']result["']/);
    assert.match(await chat(other, `dave@${otherHost}/x`, dave, 'own resource'), new RegExp(String.raw`from=["']dave@${O}\/z["']`));
    assert.match(await chat(carol, `alice@${host}/match`, alice, 'carol still'), new RegExp(String.raw`from=["']carol@${H}\/match["']`));
    await unblock(dave);
    for (const c of [alice, dave, dave2, bob1, bob2, carol, other]) c.close();
  });

  test('unblocking one JID (§3.4) and all JIDs (§3.5): pushes carry the items, delivery resumes', async () => {
    const alice = await login('alice', 'unblock');
    const bob = await login('bob', 'unblock');
    const eve = await login('eve', 'unblock');
    assert.deepEqual(await blocklist(alice), []);
    await block(alice, `bob@${host}`, `EVE@${host}`);
    const push = await take(alice, pushOf('block'));
    assert.match(push, new RegExp(String.raw`<item jid=["']bob@${H}["']\/><item jid=["']eve@${H}["']\/>`), 'one push with every item, canonical');
    assert.deepEqual(await blocklist(alice), [`bob@${host}`, `eve@${host}`]);

    await unblock(alice, `bob@${host}`);
    const p1 = await take(alice, pushOf('unblock'));
    assert.match(p1, new RegExp(String.raw`<item jid=["']bob@${H}["']\/>`));
    assert.doesNotMatch(p1, new RegExp(String.raw`eve@${H}`));
    assert.match(await chat(bob, `alice@${host}`, alice, 'unblocked bob'), new RegExp(String.raw`from=["']bob@${H}\/unblock["']`));
    eve.send(`<message to='alice@${host}' type='chat' id='em1'><body>x</body></message>`);
    assertError(await take(eve, msgId('em1')), 'service-unavailable');
    assert.deepEqual(await blocklist(alice), [`eve@${host}`]);

    await unblock(alice);
    assert.match(await take(alice, pushOf('unblock')), /<unblock xmlns=["']urn:xmpp:blocking["']\/>/, 'unblock-all push is empty');
    assert.match(await chat(eve, `alice@${host}`, alice, 'unblocked eve'), new RegExp(String.raw`from=["']eve@${H}\/unblock["']`));
    assert.deepEqual(await blocklist(alice), []);
    // unblocking a JID that is not blocked is fine
    await unblock(alice, `nobody@${host}`);
    for (const c of [alice, bob, eve]) c.close();
  });

  test('bad requests: empty <block/> (bad-request), invalid JIDs (jid-malformed), wrong IQ type, someone else’s list', async () => {
    const alice = await login('alice', 'errors');
    const bob = await login('bob', 'errors');
    assertError(await iq(alice, 'set', `<block ${BL}/>`), 'bad-request');
    assertError(await iq(alice, 'set', `<block ${BL}><item/></block>`), 'bad-request');
    assertError(await iq(alice, 'set', `<block ${BL}><item jid='bob@${host}'/><item jid='bad@@jid'/></block>`), 'jid-malformed');
    assertError(await iq(alice, 'set', `<block ${BL}><item jid=''/></block>`), 'jid-malformed');
    assertError(await iq(alice, 'set', `<unblock ${BL}><item jid='a@b@c'/></unblock>`), 'jid-malformed');
    assertError(await iq(alice, 'get', `<block ${BL}><item jid='bob@${host}'/></block>`), 'bad-request');
    assertError(await iq(alice, 'set', `<blocklist ${BL}/>`), 'bad-request');
    assert.deepEqual(await blocklist(alice), [], 'a refused request changed nothing');
    assertError(await iq(bob, 'get', `<blocklist ${BL}/>`, `alice@${host}`), 'forbidden');
    assertError(await iq(bob, 'set', `<block ${BL}><item jid='carol@${host}'/></block>`, `alice@${host}`), 'forbidden');
    assert.match(await chat(bob, `alice@${host}`, alice, 'still friends'), new RegExp(String.raw`from=["']bob@${H}\/errors["']`));
    alice.close();
    bob.close();
  });

  test('options: bounce_messages false drops blocked messages silently; max_items caps the list (policy-violation)', async () => {
    await t.server.modules.reload('blocking', { bounce_messages: false, max_items: 2 });
    try {
      const alice = await login('alice', 'opts');
      const bob = await login('bob', 'opts');
      await block(alice, `bob@${host}`);
      bob.send(`<message to='alice@${host}' type='chat' id='sm1'><body>x</body></message>`);
      bob.send(`<iq to='alice@${host}/opts' type='get' id='sq1'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assertError(await take(bob, iqId('sq1')), 'service-unavailable');
      assert.doesNotMatch(bob.buffer, /<message/, 'no error for the message');
      await sync(alice);
      assert.doesNotMatch(alice.buffer, /<message/);
      assertError(await iq(alice, 'set', `<block ${BL}><item jid='eve@${host}'/><item jid='x@elsewhere.example'/></block>`), 'policy-violation');
      await block(alice, `eve@${host}`, `bob@${host}`); // bob is already there: two in all
      assert.deepEqual(await blocklist(alice), [`bob@${host}`, `eve@${host}`]);
      await unblock(alice);
      alice.close();
      bob.close();
    } finally {
      await t.server.modules.reload('blocking', {});
    }
  });

  test('deleting an account deletes its block list (removeUser) in the same transaction', async () => {
    let frank = await login('frank', 'a');
    await block(frank, `bob@${host}`, `eve@${host}`);
    frank.close();
    await frank.waitClosed();
    const table = t.server.core.store.table('blocking_items');
    assert.equal(await table.count({ prefix: `${host}/frank\u0000` }), 2);
    await t.server.core.accounts.remove(Jid.of('frank', `${host}`));
    assert.equal(await table.count({ prefix: `${host}/frank\u0000` }), 0);
    await t.addUser('frank', 'pw-frank', host);
    frank = await login('frank', 'b');
    assert.deepEqual(await blocklist(frank), []);
    const bob = await login('bob', 'frank');
    assert.match(await chat(bob, `frank@${host}`, frank, 'hi new frank'), new RegExp(String.raw`from=["']bob@${H}\/frank["']`));
    frank.close();
    bob.close();
  });

  test('the block list survives a restart and applies to an account with no session', async () => {
    const alice = await login('alice', 'before');
    await block(alice, `bob@${host}`);
    alice.close();
    await t.stop();
    t = await startTestServer(overrides, { dir });

    // Nobody of alice's is online: an IQ to her bare JID is answered by the server — unless blocked.
    const bob = await login('bob', 'after');
    const carol = await login('carol', 'after');
    assertError(await iq(bob, 'get', "<ping xmlns='urn:xmpp:ping'/>", `alice@${host}`), 'service-unavailable');
    assert.match(await iq(carol, 'get', "<ping xmlns='urn:xmpp:ping'/>", `alice@${host}`), /type=["']result["']/);

    const again = await login('alice', 'after');
    assert.deepEqual(await blocklist(again), [`bob@${host}`]);
    bob.send(`<message to='alice@${host}/after' type='chat' id='rm1'><body>x</body></message>`);
    assertError(await take(bob, msgId('rm1')), 'service-unavailable');
    assert.match(await chat(carol, `alice@${host}/after`, again, 'carol after restart'), new RegExp(String.raw`from=["']carol@${H}\/after["']`));
    await sync(again);
    assert.doesNotMatch(again.buffer, new RegExp(messageFrom(`bob@${host}/after`).source));
    assert.doesNotMatch(again.buffer, new RegExp(presenceFrom(`bob@${host}/after`).source));
    for (const c of [again, bob, carol]) c.close();
  });
});
