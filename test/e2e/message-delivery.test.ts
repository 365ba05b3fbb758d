// End to end: the RFC 6121 §8.5 delivery rules of the router for every message type, to bare and full
// JIDs, by what the recipient has online; IQs to absent resources and unknown accounts (§8.5.1, §8.5.3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { assertStanza, type StanzaShape } from '../support/stanza-match.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** An error reply to alice's stanza `id` carrying `condition` (RFC 6120 §8.3). */
const errorTo = (kind: string, id: string, condition: string, from?: string): StanzaShape => ({
  name: kind, attrs: { type: 'error', id, to: 'alice@localhost/sender', ...(from ? { from } : {}) },
  has: [{ name: 'error', has: [{ name: condition, ns: STANZAS }] }],
});

const TYPES = ['chat', 'normal', null, 'headline', 'groupchat', 'error'] as const;
type MsgType = (typeof TYPES)[number];

let t: TestServer;
let alice: RawClient;
before(async () => {
  // the core modules only: no offline storage unless a test loads it, no presence module rewriting presence
  t = await startTestServer({ modules: { disco: {}, ping: {}, version: {}, time: {} } });
  for (const u of ['alice', 'carol', 'dave', 'erin', 'frank', 'grace', 'ivan', 'judy']) await t.addUser(u, `pw-${u}`);
  alice = await login('alice', 'sender', 0);
});
after(async () => {
  alice.close();
  await t.stop();
});

/** Log in; `priority` null = bound but never available (no presence), else initial presence with it. */
async function login(user: string, resource: string, priority: number | null): Promise<RawClient> {
  const { c } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { presence: false });
  if (priority !== null) c.send(`<presence><priority>${priority}</priority></presence>`);
  await sync(c); // the presence has been processed once the ping comes back (RFC 6120 §10.1 order)
  return c;
}

let seq = 0;
/** Round-trip a ping: everything the server sent this client before the answer is returned. */
async function sync(c: RawClient): Promise<string> {
  const id = `sync${++seq}`;
  c.send(`<iq to='localhost' type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  return (await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*>`)))[1]!;
}

function message(to: string, type: MsgType, id: string): string {
  const attr = type === null ? '' : ` type='${type}'`;
  const err = type === 'error' ? "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>" : '';
  return `<message to='${to}'${attr} id='${id}'><body>${id}</body>${err}</message>`;
}

interface Expect {
  /** The recipient sessions that must get the message; every other one in `all` must not. */
  to: RawClient[];
  all: RawClient[];
  /** The error condition alice must get back, or none. */
  error?: 'service-unavailable';
  /** The 'from' of that error. */
  errorFrom?: string;
}

/** alice sends one message; check who received it and what alice got back. Resolves to its id. */
async function send(to: string, type: MsgType, want: Expect): Promise<string> {
  const id = `m${++seq}`;
  const what = `${type ?? 'no type'} to ${to}`;
  alice.send(message(to, type, id));
  const back = await sync(alice); // the message is routed (delivered, stored or bounced) before the ping
  const idRe = new RegExp(`id=["']${id}["']`);
  if (want.error) {
    const e = new RegExp(`<message[^>]*id=["']${id}["'][^>]*>[\\s\\S]*?</message>`).exec(back)?.[0];
    assert.ok(e, `${what}: alice gets an error back; got ${back}`);
    assertStanza(e, errorTo('message', id, want.error, want.errorFrom));
  } else {
    assert.doesNotMatch(back, idRe, `${what}: nothing comes back to alice`);
  }
  for (const [i, c] of want.all.entries()) {
    const got = await sync(c);
    if (want.to.includes(c)) {
      const m = new RegExp(`<message[^>]*id=["']${id}["'][^>]*>[\\s\\S]*?</message>`).exec(got)?.[0];
      assert.ok(m, `${what}: recipient session #${i} receives it; got ${got}`);
      assertStanza(m, { name: 'message', attrs: { from: 'alice@localhost/sender', id }, has: [{ name: 'body', text: id }] });
      assert.equal(got.match(new RegExp(`<message[^>]*id=["']${id}["']`, 'g'))!.length, 1, `${what}: once`);
    } else {
      assert.doesNotMatch(got, idRe, `${what}: recipient session #${i} does not receive it`);
    }
  }
  return id;
}

test('two available resources with different priorities (and a negative one): §8.5.2.1.1 by type', async () => {
  const high = await login('carol', 'high', 5);
  const low = await login('carol', 'low', 1);
  const neg = await login('carol', 'neg', -1);
  const all = [high, low, neg];
  // to the bare JID
  await send('carol@localhost', 'chat', { to: [high], all });
  await send('carol@localhost', 'normal', { to: [high], all });
  await send('carol@localhost', null, { to: [high], all });
  await send('carol@localhost', 'headline', { to: [high, low], all }); // every non-negative resource
  await send('carol@localhost', 'groupchat', { to: [], all, error: 'service-unavailable', errorFrom: 'carol@localhost' });
  await send('carol@localhost', 'error', { to: [], all }); // silently ignored
  // to a full JID: that resource gets every type, whatever its priority (§8.5.3.1)
  for (const type of TYPES) await send('carol@localhost/low', type, { to: [low], all });
  for (const type of TYPES) await send('carol@localhost/neg', type, { to: [neg], all });
  for (const c of all) c.close();
});

test('resources with the same highest priority all get chat and normal messages to the bare JID', async () => {
  const a = await login('dave', 'a', 2);
  const b = await login('dave', 'b', 2);
  const zero = await login('dave', 'zero', 0);
  const all = [a, b, zero];
  await send('dave@localhost', 'chat', { to: [a, b], all });
  await send('dave@localhost', 'normal', { to: [a, b], all });
  await send('dave@localhost', 'headline', { to: [a, b, zero], all });
  for (const c of all) c.close();
});

test('only a negative-priority resource: nothing to the bare JID (no offline storage: service-unavailable); its full JID gets everything', async () => {
  const neg = await login('erin', 'neg', -1);
  const all = [neg];
  await send('erin@localhost', 'chat', { to: [], all, error: 'service-unavailable', errorFrom: 'erin@localhost' });
  await send('erin@localhost', 'normal', { to: [], all, error: 'service-unavailable' });
  await send('erin@localhost', 'headline', { to: [], all });
  await send('erin@localhost', 'groupchat', { to: [], all, error: 'service-unavailable' });
  await send('erin@localhost', 'error', { to: [], all });
  for (const type of TYPES) await send('erin@localhost/neg', type, { to: [neg], all });
  neg.close();
});

test('a connected resource that never sent presence is not available: bare JID as if offline, full JID delivered', async () => {
  const quiet = await login('ivan', 'quiet', null);
  const all = [quiet];
  await send('ivan@localhost', 'chat', { to: [], all, error: 'service-unavailable' });
  await send('ivan@localhost', 'headline', { to: [], all });
  await send('ivan@localhost/quiet', 'chat', { to: [quiet], all });
  quiet.close();
});

test('a full JID whose resource is gone: chat/normal follow the bare rules, groupchat bounces, headline/error are dropped (§8.5.3.2.1)', async () => {
  const here = await login('frank', 'here', 0);
  const all = [here];
  await send('frank@localhost/gone', 'chat', { to: [here], all });
  await send('frank@localhost/gone', 'normal', { to: [here], all });
  await send('frank@localhost/gone', null, { to: [here], all });
  await send('frank@localhost/gone', 'groupchat', { to: [], all, error: 'service-unavailable', errorFrom: 'frank@localhost/gone' });
  await send('frank@localhost/gone', 'headline', { to: [], all });
  await send('frank@localhost/gone', 'error', { to: [], all });
  here.close();
});

test('no resources at all, no offline module: chat/normal/groupchat bounce with service-unavailable; headline/error are dropped', async () => {
  await send('grace@localhost', 'chat', { to: [], all: [], error: 'service-unavailable', errorFrom: 'grace@localhost' });
  await send('grace@localhost', 'normal', { to: [], all: [], error: 'service-unavailable' });
  await send('grace@localhost', null, { to: [], all: [], error: 'service-unavailable' });
  await send('grace@localhost', 'groupchat', { to: [], all: [], error: 'service-unavailable' });
  await send('grace@localhost', 'headline', { to: [], all: [] });
  await send('grace@localhost', 'error', { to: [], all: [] });
  // the same through a full JID that is not online
  await send('grace@localhost/x', 'chat', { to: [], all: [], error: 'service-unavailable' });
  await send('grace@localhost/x', 'groupchat', { to: [], all: [], error: 'service-unavailable' });
  await send('grace@localhost/x', 'headline', { to: [], all: [] });
});

test('no resources, offline module loaded: chat/normal are stored and delivered at the next login; headline/groupchat/error are not', async () => {
  await t.server.modules.load('offline', {});
  try {
    const stored = [
      await send('judy@localhost', 'chat', { to: [], all: [] }),
      await send('judy@localhost', 'normal', { to: [], all: [] }),
      await send('judy@localhost/gone', 'chat', { to: [], all: [] }),
    ];
    await send('judy@localhost', 'headline', { to: [], all: [] });
    await send('judy@localhost', 'groupchat', { to: [], all: [], error: 'service-unavailable' });
    await send('judy@localhost', 'error', { to: [], all: [] });
    // a negative-priority resource only: stored, not delivered to it
    const neg = await login('erin', 'neg2', -1);
    await send('erin@localhost', 'chat', { to: [], all: [neg] });
    neg.close();

    const { c: judy } = await RawClient.login(t.c2sPort, 'judy', 'pw-judy', 'back');
    const got = await sync(judy); // initial presence delivers them before the ping is answered
    const ids = [...got.matchAll(/<message[^>]*id=["'](m\d+)["']/g)].map((m) => m[1]);
    assert.deepEqual(ids, stored, `judy gets the chat and normal messages in order: ${got}`);
    for (const [m] of got.matchAll(/<message[\s\S]*?<\/message>/g)) {
      assertStanza(m, { name: 'message', has: [{ name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: 'localhost', stamp: /^\d{4}-\d\d-\d\dT/ } }] });
    }
    judy.close();
  } finally {
    await t.server.modules.unload('offline');
  }
});

test('an unknown account: every type but error bounces with service-unavailable (§8.5.1); error is dropped', async () => {
  for (const type of ['chat', 'normal', null, 'headline', 'groupchat'] as const) {
    await send('nobody@localhost', type, { to: [], all: [], error: 'service-unavailable', errorFrom: 'nobody@localhost' });
  }
  await send('nobody@localhost', 'error', { to: [], all: [] });
  await send('nobody@localhost/res', 'chat', { to: [], all: [], error: 'service-unavailable' });
});

test('IQs: to a full JID that is not online and to an unknown account’s bare JID → service-unavailable; to an online full JID → delivered', async () => {
  alice.send("<iq to='frank@localhost/gone' type='get' id='iq1'><query xmlns='jabber:iq:version'/></iq>");
  const e1 = (await alice.expect(/<iq[^>]*id=["']iq1["'][\s\S]*?<\/iq>/))[0];
  assertStanza(e1, errorTo('iq', 'iq1', 'service-unavailable', 'frank@localhost/gone'));

  alice.send("<iq to='nobody@localhost' type='get' id='iq2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  const e2 = (await alice.expect(/<iq[^>]*id=["']iq2["'][\s\S]*?<\/iq>/))[0];
  assertStanza(e2, errorTo('iq', 'iq2', 'service-unavailable', 'nobody@localhost'));

  const here = await login('frank', 'iq', null); // an IQ goes to a bound resource even without presence
  alice.send("<iq to='frank@localhost/iq' type='get' id='iq3'><query xmlns='jabber:iq:version'/></iq>");
  const req = (await here.expect(/<iq[^>]*id=["']iq3["'][\s\S]*?<\/iq>/))[0];
  assertStanza(req, { name: 'iq', attrs: { type: 'get', id: 'iq3', from: 'alice@localhost/sender' }, children: [{ name: 'query', ns: 'jabber:iq:version' }] });
  here.send("<iq to='alice@localhost/sender' type='result' id='iq3'><query xmlns='jabber:iq:version'><name>x</name><version>1</version></query></iq>");
  assertStanza((await alice.expect(/<iq[^>]*id=["']iq3["'][\s\S]*?<\/iq>/))[0], {
    name: 'iq', attrs: { type: 'result', id: 'iq3', from: 'frank@localhost/iq' },
    children: [{ name: 'query', ns: 'jabber:iq:version', children: [{ name: 'name', text: 'x' }, { name: 'version', text: '1' }] }],
  });
  here.close();
});

test('the bounce for a chat message to a gone full JID comes from that full JID (RFC 6120 §8.3.1)', async () => {
  await send('grace@localhost/x', 'chat', { to: [], all: [], error: 'service-unavailable', errorFrom: 'grace@localhost/x' });
});
