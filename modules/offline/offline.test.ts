// XEP-0160 offline messages over real sockets: storage with XEP-0203 delay stamps, delivery on
// non-negative presence, restart survival, quota, what is not stored, account removal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/core/jid.js';
import type { OfflineApi } from './api.js';

const BASE_MODULES = { disco: {}, ping: {}, version: {}, time: {} };
const WITH_OFFLINE = { modules: { ...BASE_MODULES, offline: {} } };
const MESSAGE = /<message[\s>][\s\S]*?<\/message>|<message[^>]*\/>/;
const ERROR = /<message[^>]*type=["']error["'][\s\S]*?<\/message>/;

let t: TestServer;
before(async () => {
  t = await startTestServer(WITH_OFFLINE);
  for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

function offline(server: TestServer = t): OfflineApi {
  const api = server.server.core.services.get<OfflineApi>('localhost', 'offline');
  assert.ok(api, 'the offline module provides its service');
  return api;
}
const count = (user: string, server: TestServer = t) => offline(server).count(Jid.of(user, 'localhost'));

let seq = 0;
/** Round-trip a ping: everything the server sent this client before the answer is returned. */
async function sync(c: RawClient): Promise<string> {
  const id = `sync${++seq}`;
  c.send(`<iq to='localhost' type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const m = await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*>`));
  return m[1]!;
}

/** Log in; `priority` null = no presence at all, otherwise initial presence with that priority. */
async function login(user: string, resource: string, priority: number | null = 0, server: TestServer = t): Promise<RawClient> {
  const { c } = await RawClient.login(server.c2sPort, user, `pw-${user}`, resource, { presence: false });
  if (priority !== null) c.send(`<presence><priority>${priority}</priority></presence>`);
  return c;
}

test('disco#info of the server advertises msgoffline (XEP-0160 §4)', async () => {
  const a = await login('alice', 'disco', null);
  a.send("<iq to='localhost' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match((await a.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/))[0], /<feature var=["']msgoffline["']\/>/);
  a.close();
});

test('alice sends bob (offline) three chat messages; bob logs in and receives them in order with delay stamps, once', async () => {
  const a = await login('alice', 'laptop');
  for (let i = 1; i <= 3; i++) a.send(`<message to='bob@localhost' type='chat' id='o${i}'><body>offline ${i} &amp; more</body></message>`);
  assert.doesNotMatch(await sync(a), /type=["']error["']/, 'stored, not bounced');
  assert.equal(await count('bob'), 3);

  const before = Date.now();
  const b = await login('bob', 'phone');
  for (let i = 1; i <= 3; i++) {
    const m = (await b.expect(MESSAGE))[0];
    assert.match(m, new RegExp(`id=["']o${i}["']`), `message ${i} arrives in order`);
    assert.match(m, /from=["']alice@localhost\/laptop["']/);
    assert.match(m, new RegExp(`<body>offline ${i} &amp; more</body>`));
    const delay = /<delay [^>]*>/.exec(m)?.[0];
    assert.ok(delay, 'a XEP-0203 delay element is added');
    assert.match(delay, /xmlns=["']urn:xmpp:delay["']/);
    assert.match(delay, /from=["']localhost["']/);
    const stamp = /stamp=["'](\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)["']/.exec(delay)?.[1];
    assert.ok(stamp, `a UTC XEP-0082 stamp: ${delay}`);
    assert.ok(Date.parse(stamp) <= before, 'stamped when stored, not when delivered');
  }
  assert.doesNotMatch(await sync(b), /<message/, 'nothing else');
  b.close();

  const again = await login('bob', 'phone2');
  assert.doesNotMatch(await sync(again), /<message/, 'delivered messages are gone');
  assert.equal(await count('bob'), 0);
  again.close();
  a.close();
});

test('a message to a bob full JID that is not online is stored too (RFC 6121 §8.5.3.2.1 → bare rules)', async () => {
  const a = await login('alice', 'full');
  a.send("<message to='bob@localhost/gone' id='fj1'><body>to a resource</body></message>");
  assert.doesNotMatch(await sync(a), /type=["']error["']/);
  const b = await login('bob', 'other');
  assert.match((await b.expect(MESSAGE))[0], /id=["']fj1["'][\s\S]*<delay /);
  b.close();
  a.close();
});

test('stored messages survive a server restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-offline-restart-'));
  try {
    const s1 = await startTestServer(WITH_OFFLINE, { dir });
    await s1.addUser('alice', 'pw-alice');
    await s1.addUser('bob', 'pw-bob');
    const a = await login('alice', 'r', 0, s1);
    a.send("<message to='bob@localhost' type='chat' id='r1'><body>before restart 1</body></message>");
    a.send("<message to='bob@localhost' id='r2'><body>before restart 2</body></message>");
    assert.doesNotMatch(await sync(a), /type=["']error["']/);
    a.close();
    await s1.stop();

    const s2 = await startTestServer(WITH_OFFLINE, { dir });
    try {
      assert.equal(await count('bob', s2), 2);
      const b = await login('bob', 'r', 0, s2);
      assert.match((await b.expect(MESSAGE))[0], /id=["']r1["'][\s\S]*before restart 1/);
      assert.match((await b.expect(MESSAGE))[0], /id=["']r2["'][\s\S]*before restart 2/);
      assert.doesNotMatch(await sync(b), /<message/);
      b.close();
    } finally {
      await s2.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('max_messages: with a quota of 2 the third message comes back to alice as resource-constraint', async () => {
  await t.server.modules.reload('offline', { max_messages: 2 });
  try {
    const a = await login('alice', 'quota');
    for (let i = 1; i <= 3; i++) a.send(`<message to='carol@localhost' type='chat' id='q${i}'><body>q ${i}</body></message>`);
    const e = (await a.expect(ERROR))[0];
    assert.match(e, /id=["']q3["']/);
    assert.match(e, /from=["']carol@localhost["']/);
    assert.match(e, /<error type=["']wait["']><resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.doesNotMatch(await sync(a), /type=["']error["']/, 'only the third one');
    assert.equal(await count('carol'), 2);
    const c = await login('carol', 'x');
    assert.match((await c.expect(MESSAGE))[0], /id=["']q1["']/);
    assert.match((await c.expect(MESSAGE))[0], /id=["']q2["']/);
    assert.doesNotMatch(await sync(c), /<message/);
    c.close();
    a.close();
  } finally {
    await t.server.modules.reload('offline', {});
  }
});

test('headline messages are not stored (silently dropped, RFC 6121 §8.5.2.2.1)', async () => {
  const a = await login('alice', 'headline');
  a.send("<message to='dave@localhost' type='headline' id='h1'><body>news</body></message>");
  assert.doesNotMatch(await sync(a), /<message/);
  assert.equal(await count('dave'), 0);
  const d = await login('dave', 'x');
  assert.doesNotMatch(await sync(d), /<message/);
  d.close();
  a.close();
});

test('a standalone chat state is not stored and not bounced; <no-store/> is bounced; <store/> forces storage', async () => {
  const a = await login('alice', 'states');
  a.send("<message to='erin@localhost' type='chat' id='cs1'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t1</thread></message>");
  assert.doesNotMatch(await sync(a), /<message/, 'a typing notification is dropped without an error');
  assert.equal(await count('erin'), 0);

  a.send("<message to='erin@localhost' type='chat' id='ns1'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>");
  const e = (await a.expect(ERROR))[0];
  assert.match(e, /id=["']ns1["'][\s\S]*<service-unavailable /);
  assert.equal(await count('erin'), 0);

  a.send("<message to='erin@localhost' type='chat' id='st1'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>");
  a.send("<message to='erin@localhost' type='chat' id='cs2'><active xmlns='http://jabber.org/protocol/chatstates'/><body>with a body</body></message>");
  assert.doesNotMatch(await sync(a), /<message/);
  assert.equal(await count('erin'), 2);
  const r = await login('erin', 'x');
  assert.match((await r.expect(MESSAGE))[0], /id=["']st1["']/);
  assert.match((await r.expect(MESSAGE))[0], /id=["']cs2["']/);
  assert.doesNotMatch(await sync(r), /<message/);
  r.close();
  a.close();
});

test('a negative-priority session does not trigger delivery; a later session with priority 0 does', async () => {
  const a = await login('alice', 'neg');
  const n = await login('frank', 'neg', -1);
  assert.doesNotMatch(await sync(n), /<message/);
  a.send("<message to='frank@localhost' type='chat' id='n1'><body>for frank</body></message>");
  assert.doesNotMatch(await sync(a), /<message/, 'stored: no non-negative resource');
  assert.equal(await count('frank'), 1);
  assert.doesNotMatch(await sync(n), /<message/, 'the negative-priority session gets nothing');

  const p = await login('frank', 'zero', 0);
  assert.match((await p.expect(MESSAGE))[0], /id=["']n1["'][\s\S]*<delay /);
  assert.doesNotMatch(await sync(n), /<message/, 'still nothing for the negative one');
  // the delete follows the write to the socket: wait for it rather than race it
  for (let i = 0; i < 50 && (await count('frank')) !== 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await count('frank'), 0);
  p.close();
  n.close();
  a.close();
});

test('a session that raises its priority from negative to non-negative receives the stored messages', async () => {
  const a = await login('alice', 'raise');
  const g = await login('gina', 'g', -5);
  await sync(g);
  a.send("<message to='gina@localhost' type='chat' id='g1'><body>later</body></message>");
  await sync(a);
  assert.equal(await count('gina'), 1);
  g.send('<presence><priority>-1</priority></presence>');
  assert.doesNotMatch(await sync(g), /<message/, 'still negative: nothing');
  g.send('<presence><priority>3</priority></presence>');
  assert.match((await g.expect(MESSAGE))[0], /id=["']g1["']/);
  g.close();
  a.close();
});

test('a message to a non-existent user gets service-unavailable and is not stored', async () => {
  const a = await login('alice', 'nobody');
  a.send("<message to='nobody@localhost' type='chat' id='x1'><body>anyone?</body></message>");
  const e = (await a.expect(ERROR))[0];
  assert.match(e, /id=["']x1["'][\s\S]*<service-unavailable /);
  assert.equal(await count('nobody'), 0);
  a.close();
});

test('removing an account deletes its stored messages', async () => {
  const a = await login('alice', 'remove');
  a.send("<message to='hank@localhost' type='chat' id='rm1'><body>x</body></message>");
  a.send("<message to='hank@localhost' type='chat' id='rm2'><body>y</body></message>");
  await sync(a);
  assert.equal(await count('hank'), 2);
  await t.server.core.accounts.remove(Jid.of('hank', 'localhost'));
  assert.equal(await count('hank'), 0);
  assert.equal((await t.server.core.store.table('offline_messages').range()).filter((r) => r.key.startsWith('localhost/hank\u0000')).length, 0);
  a.close();
});

test('the stored-messages counter counts what was stored', async () => {
  const metrics = await t.server.core.metrics.registry.getSingleMetricAsString('xmppd_offline_messages_total');
  assert.match(metrics, /xmppd_offline_messages_total\{host="localhost",event="stored"\} \d+/);
  assert.match(metrics, /event="delivered"/);
});
