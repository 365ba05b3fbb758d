// XEP-0160 offline messages over real sockets: storage with XEP-0203 delay stamps, delivery on
// non-negative presence, restart survival, quota, what is not stored, account removal; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertNoStanza, assertStanza, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import type { OfflineApi } from './api.js';

const BASE_MODULES = { disco: {}, ping: {}, version: {}, time: {} };
const WITH_OFFLINE = { modules: { ...BASE_MODULES, offline: {} } };
const MESSAGE = /<message[\s>][\s\S]*?<\/message>|<message[^>]*\/>/;
const ERROR = /<message[^>]*type=["']error["'][\s\S]*?<\/message>/;
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
const ANY_MESSAGE: StanzaShape = { name: 'message' };
const ANY_ERROR: StanzaShape = { name: 'message', attrs: { type: 'error' } };
/** A message error with a defined condition (RFC 6120 §8.3). */
const messageError = (id: string, condition: string, type?: string): StanzaShape => ({
  name: 'message', attrs: { type: 'error', id },
  has: [{ name: 'error', ...(type ? { attrs: { type } } : {}), has: [{ name: condition, ns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }] }],
});

let t: TestServer;
before(async () => {
  t = await startTestServer(WITH_OFFLINE);
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

function offline(host: string, server: TestServer = t): OfflineApi {
  const api = server.server.core.services.get<OfflineApi>(host, 'offline');
  assert.ok(api, 'the offline module provides its service');
  return api;
}

let seq = 0;
/** Round-trip a ping: everything the server sent this client before the answer is returned. */
async function sync(c: RawClient): Promise<string> {
  const id = `sync${++seq}`;
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const m = await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`));
  return m[1]!;
}

forEachHost((host) => {
  const count = (user: string, server: TestServer = t) => offline(host, server).count(Jid.of(user, host));

  /** Log in on this host; `priority` null = no presence at all, otherwise initial presence with that priority. */
  async function login(user: string, resource: string, priority: number | null = 0, server: TestServer = t): Promise<RawClient> {
    const { c } = await RawClient.login(server.c2sPort, user, `pw-${user}`, resource, { presence: false, host });
    if (priority !== null) c.send(`<presence><priority>${priority}</priority></presence>`);
    return c;
  }

  test('disco#info of the server advertises msgoffline (XEP-0160 §4)', async () => {
    const a = await login('alice', 'disco', null);
    a.send(`<iq to='${host}' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assertStanza((await a.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/))[0], {
      name: 'iq', attrs: { type: 'result', from: host },
      children: [{ name: 'query', ns: 'http://jabber.org/protocol/disco#info', has: [{ name: 'feature', attrs: { var: 'msgoffline' } }] }],
    });
    a.close();
  });

  test('alice sends bob (offline) three chat messages; bob logs in and receives them in order with delay stamps, once', async () => {
    const a = await login('alice', 'laptop');
    for (let i = 1; i <= 3; i++) a.send(`<message to='bob@${host}' type='chat' id='o${i}'><body>offline ${i} &amp; more</body></message>`);
    assertNoStanza(await sync(a), ANY_ERROR, 'stored, not bounced');
    assert.equal(await count('bob'), 3);

    const before = Date.now();
    const b = await login('bob', 'phone');
    for (let i = 1; i <= 3; i++) {
      // in order, with a XEP-0203 delay stamped by this host in UTC (XEP-0082)
      const m = assertStanza((await b.expect(MESSAGE))[0], {
        name: 'message', attrs: { id: `o${i}`, from: `alice@${host}/laptop`, to: `bob@${host}` },
        has: [{ name: 'body', text: `offline ${i} & more` }, { name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: host, stamp: STAMP } }],
      });
      const stamp = m.getChild('delay', 'urn:xmpp:delay')!.attrs.stamp as string;
      assert.ok(Date.parse(stamp) <= before, 'stamped when stored, not when delivered');
    }
    assertNoStanza(await sync(b), ANY_MESSAGE, 'nothing else');
    b.close();

    const again = await login('bob', 'phone2');
    assertNoStanza(await sync(again), ANY_MESSAGE, 'delivered messages are gone');
    assert.equal(await count('bob'), 0);
    again.close();
    a.close();
  });

  test('a message to a bob full JID that is not online is stored too (RFC 6121 §8.5.3.2.1 → bare rules)', async () => {
    const a = await login('alice', 'full');
    a.send(`<message to='bob@${host}/gone' id='fj1'><body>to a resource</body></message>`);
    assertNoStanza(await sync(a), ANY_ERROR);
    const b = await login('bob', 'other');
    assertStanza((await b.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'fj1' }, has: [{ name: 'delay', ns: 'urn:xmpp:delay', attrs: { from: host } }] });
    b.close();
    a.close();
  });

  test('stored messages survive a server restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xmppd-offline-restart-'));
    try {
      const s1 = await startTestServer(WITH_OFFLINE, { dir });
      await s1.addUser('alice', 'pw-alice', host);
      await s1.addUser('bob', 'pw-bob', host);
      const a = await login('alice', 'r', 0, s1);
      a.send(`<message to='bob@${host}' type='chat' id='r1'><body>before restart 1</body></message>`);
      a.send(`<message to='bob@${host}' id='r2'><body>before restart 2</body></message>`);
      assertNoStanza(await sync(a), ANY_ERROR);
      a.close();
      await s1.stop();

      const s2 = await startTestServer(WITH_OFFLINE, { dir });
      try {
        assert.equal(await count('bob', s2), 2);
        const b = await login('bob', 'r', 0, s2);
        assertStanza((await b.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'r1' }, has: [{ name: 'body', text: 'before restart 1' }] });
        assertStanza((await b.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'r2' }, has: [{ name: 'body', text: 'before restart 2' }] });
        assertNoStanza(await sync(b), ANY_MESSAGE);
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
      for (let i = 1; i <= 3; i++) a.send(`<message to='carol@${host}' type='chat' id='q${i}'><body>q ${i}</body></message>`);
      const e = messageError('q3', 'resource-constraint', 'wait');
      assertStanza((await a.expect(ERROR))[0], { ...e, attrs: { ...e.attrs, from: `carol@${host}` } });
      assertNoStanza(await sync(a), ANY_ERROR, 'only the third one');
      assert.equal(await count('carol'), 2);
      const c = await login('carol', 'x');
      assertStanza((await c.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'q1' } });
      assertStanza((await c.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'q2' } });
      assertNoStanza(await sync(c), ANY_MESSAGE);
      c.close();
      a.close();
    } finally {
      await t.server.modules.reload('offline', {});
    }
  });

  test('headline messages are not stored (silently dropped, RFC 6121 §8.5.2.2.1)', async () => {
    const a = await login('alice', 'headline');
    a.send(`<message to='dave@${host}' type='headline' id='h1'><body>news</body></message>`);
    assertNoStanza(await sync(a), ANY_MESSAGE);
    assert.equal(await count('dave'), 0);
    const d = await login('dave', 'x');
    assertNoStanza(await sync(d), ANY_MESSAGE);
    d.close();
    a.close();
  });

  test('a standalone chat state is not stored and not bounced; <no-store/> is bounced; <store/> forces storage', async () => {
    const a = await login('alice', 'states');
    a.send(`<message to='erin@${host}' type='chat' id='cs1'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t1</thread></message>`);
    assertNoStanza(await sync(a), ANY_MESSAGE, 'a typing notification is dropped without an error');
    assert.equal(await count('erin'), 0);

    a.send(`<message to='erin@${host}' type='chat' id='ns1'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>`);
    assertStanza((await a.expect(ERROR))[0], messageError('ns1', 'service-unavailable'));
    assert.equal(await count('erin'), 0);

    a.send(`<message to='erin@${host}' type='chat' id='st1'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>`);
    a.send(`<message to='erin@${host}' type='chat' id='cs2'><active xmlns='http://jabber.org/protocol/chatstates'/><body>with a body</body></message>`);
    assertNoStanza(await sync(a), ANY_MESSAGE);
    assert.equal(await count('erin'), 2);
    const r = await login('erin', 'x');
    assertStanza((await r.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'st1' } });
    assertStanza((await r.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'cs2' } });
    assertNoStanza(await sync(r), ANY_MESSAGE);
    r.close();
    a.close();
  });

  test('a negative-priority session does not trigger delivery; a later session with priority 0 does', async () => {
    const a = await login('alice', 'neg');
    const n = await login('frank', 'neg', -1);
    assertNoStanza(await sync(n), ANY_MESSAGE);
    a.send(`<message to='frank@${host}' type='chat' id='n1'><body>for frank</body></message>`);
    assertNoStanza(await sync(a), ANY_MESSAGE, 'stored: no non-negative resource');
    assert.equal(await count('frank'), 1);
    assertNoStanza(await sync(n), ANY_MESSAGE, 'the negative-priority session gets nothing');

    const p = await login('frank', 'zero', 0);
    assertStanza((await p.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'n1' }, has: [{ name: 'delay', ns: 'urn:xmpp:delay' }] });
    assertNoStanza(await sync(n), ANY_MESSAGE, 'still nothing for the negative one');
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
    a.send(`<message to='gina@${host}' type='chat' id='g1'><body>later</body></message>`);
    await sync(a);
    assert.equal(await count('gina'), 1);
    g.send('<presence><priority>-1</priority></presence>');
    assertNoStanza(await sync(g), ANY_MESSAGE, 'still negative: nothing');
    g.send('<presence><priority>3</priority></presence>');
    assertStanza((await g.expect(MESSAGE))[0], { name: 'message', attrs: { id: 'g1' } });
    g.close();
    a.close();
  });

  test('a message to a non-existent user gets service-unavailable and is not stored', async () => {
    const a = await login('alice', 'nobody');
    a.send(`<message to='nobody@${host}' type='chat' id='x1'><body>anyone?</body></message>`);
    assertStanza((await a.expect(ERROR))[0], messageError('x1', 'service-unavailable'));
    assert.equal(await count('nobody'), 0);
    a.close();
  });

  test('removing an account deletes its stored messages', async () => {
    const a = await login('alice', 'remove');
    a.send(`<message to='hank@${host}' type='chat' id='rm1'><body>x</body></message>`);
    a.send(`<message to='hank@${host}' type='chat' id='rm2'><body>y</body></message>`);
    await sync(a);
    assert.equal(await count('hank'), 2);
    await t.server.core.accounts.remove(Jid.of('hank', host));
    assert.equal(await count('hank'), 0);
    assert.equal((await t.server.core.store.table('offline_messages').range()).filter((r) => r.key.startsWith(`${host}/hank\u0000`)).length, 0);
    a.close();
  });

  test('the stored-messages counter counts what was stored, under this host', async () => {
    const metric = await t.server.core.metrics.registry.getSingleMetric('xmppd_offline_messages_total')!.get();
    const value = (event: string) => metric.values.find((v) => v.labels.host === host && v.labels.event === event)?.value ?? 0;
    // Counted since the last reload (the quota test's): erin 2, frank 1, gina 1 and hank 2 stored; hank's removed.
    assert.equal(value('stored'), 6);
    assert.equal(value('delivered'), 4);
  });
});
