// last over real sockets: XEP-0012 server uptime (§5), an account's last activity for itself (§3: 0 while
// available, else seconds since the last available session ended, with its status), who may ask (§3, §4,
// §8: the account and its presence subscribers; forbidden otherwise), persistence and account removal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, stanzaError } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import type { RosterApi } from '../roster/api.js';

const CONFIG = { modules: { disco: {}, ping: {}, last: {} } };
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-last-'));
  t = await startTestServer(CONFIG, { dir });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

forEachHost((host) => {
  const login = (srv: TestServer, user: string, resource: string, presence = true) =>
    RawClient.login(srv.c2sPort, user, `pw-${user}`, resource, { presence, host });

  const iq = (c: RawClient, id: string, stanza: string) => c.iq(id, stanza);

  const lastOf = (c: RawClient, id: string, to?: string) =>
    iq(c, id, `<iq${to ? ` to='${to}'` : ''} type='get' id='${id}'><query xmlns='jabber:iq:last'/></iq>`);

  /** seconds and text of a last-activity result. */
  function parse(r: string): { seconds: number; text: string } {
    const el = assertStanza(r, { name: 'iq', attrs: { type: 'result' }, children: [{ name: 'query', ns: 'jabber:iq:last', attrs: { seconds: /^\d+$/ }, children: [] }] });
    const q = el.getChild('query')!;
    return { seconds: Number(q.attrs.seconds), text: q.getText() };
  }

  /** Make the server have processed everything this client sent before (per-session order, RFC 6120 §10.1). */
  async function sync(c: RawClient, id: string): Promise<void> {
    await iq(c, id, `<iq to='${host}' type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  }

  /** Wait until the stored row satisfies `ok` (a disconnect is processed after the socket closes). */
  async function rowWhen(srv: TestServer, user: string, ok: (v: { at: number; status: string } | undefined) => boolean) {
    const table = srv.server.core.store.table<{ at: number; status: string }>('last_activity');
    for (let i = 0; i < 200; i++) {
      const v = (await table.get(`${host}/${user}`))?.value;
      if (ok(v)) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`the last_activity row of ${user} never matched`);
  }

  test('jabber:iq:last is advertised on the server and the account', async () => {
    const a = await login(t, 'alice', 'disco');
    assertStanza(await iq(a.c, 'd1', `<iq to='${host}' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), discoFeature('jabber:iq:last'));
    assertStanza(await iq(a.c, 'd2', "<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), discoFeature('jabber:iq:last'));
    a.c.close();
  });

  test('the server answers with its uptime (no text); a set is a bad request', async () => {
    const a = await login(t, 'alice', 'uptime');
    const r = await lastOf(a.c, 'u1', `${host}`);
    assertStanza(r, { name: 'iq', attrs: { type: 'result', from: host } });
    const { seconds, text } = parse(r);
    assert.ok(Number.isInteger(seconds) && seconds >= 0);
    assert.equal(text, '');
    assertStanza(await iq(a.c, 'u2', `<iq to='${host}' type='set' id='u2'><query xmlns='jabber:iq:last'/></iq>`), stanzaError('bad-request'));
    assertStanza(await iq(a.c, 'u3', "<iq type='set' id='u3'><query xmlns='jabber:iq:last'/></iq>"), stanzaError('bad-request'));
    a.c.close();
  });

  test('dave asks about himself: 0 while available; item-not-found before any logout; then seconds and status since his last unavailable', async () => {
    // a session without presence does not make dave "online"
    const quiet = await login(t, 'dave', 'quiet', false);
    assertStanza(await lastOf(quiet.c, 'a1'), stanzaError('item-not-found'));

    const a = await login(t, 'dave', 'laptop');
    await sync(a.c, 'a2');
    assert.deepEqual(parse(await lastOf(quiet.c, 'a3')), { seconds: 0, text: '' });
    assert.deepEqual(parse(await lastOf(a.c, 'a4', `dave@${host}`)), { seconds: 0, text: '' });

    // two available resources: one leaving does not make dave offline
    const p = await login(t, 'dave', 'phone');
    p.c.send("<presence type='unavailable'><status>phone off</status></presence>");
    await sync(p.c, 'a5');
    assert.deepEqual(parse(await lastOf(quiet.c, 'a6')), { seconds: 0, text: '' });
    assert.equal((await rowWhen(t, 'dave', () => true))?.status, undefined, 'nothing recorded while another resource is available');

    // the last available resource leaves with a status
    a.c.send("<presence type='unavailable'><status>Heading Home</status></presence>");
    await sync(a.c, 'a7');
    const r = parse(await lastOf(quiet.c, 'a8'));
    assert.equal(r.text, 'Heading Home');
    assert.ok(r.seconds >= 0);
    // the seconds are counted from the stored logout time: pretend it was an hour ago
    await t.server.core.store.transact([{ type: 'put', table: 'last_activity', key: `${host}/dave`, value: { at: Date.now() - 3_600_000, status: 'Heading Home' } }]);
    const hour = parse(await lastOf(quiet.c, 'a9'));
    assert.ok(hour.seconds >= 3600 && hour.seconds < 3700, `about an hour: ${hour.seconds}`);
    assert.equal(hour.text, 'Heading Home');
    quiet.c.close();
    p.c.close();
    a.c.close();
  });

  test('a dropped connection counts as going offline, without status text', async () => {
    const b = await login(t, 'bob', 'drop');
    await sync(b.c, 'b1');
    b.c.close();
    await rowWhen(t, 'bob', (v) => v !== undefined && v.status === '');
    const q = await login(t, 'bob', 'ask', false);
    const r = parse(await lastOf(q.c, 'b2'));
    assert.equal(r.text, '');
    q.c.close();
  });

  test('without the roster module only alice herself may ask: bob gets forbidden, for her bare and her full JID', async () => {
    const a = await login(t, 'alice', 'home');
    const b = await login(t, 'bob', 'nosy');
    const r = await lastOf(b.c, 'f1', `alice@${host}`);
    assertStanza(r, { ...stanzaError('forbidden'), without: [{ name: 'query', attrs: { seconds: /./ } }] });
    // XEP-0012 §4: the full JID query is refused by the server, not delivered to alice's client
    const full = await lastOf(b.c, 'f2', `alice@${host}/home`);
    assertStanza(full, { ...stanzaError('forbidden'), attrs: { type: 'error', from: `alice@${host}/home` } });
    // the same for a resource that does not exist: no difference to learn from
    assertStanza(await lastOf(b.c, 'f3', `alice@${host}/nowhere`), stanzaError('forbidden'));
    // alice's own resources reach each other: her query goes to her client
    const a2 = await login(t, 'alice', 'other');
    a2.c.send(`<iq to='alice@${host}/home' type='get' id='f4'><query xmlns='jabber:iq:last'/></iq>`);
    const delivered = (await a.c.expect(/<iq[^>]*id=["'](f2|f3|f4)["'][^>]*>/))[0];
    assert.match(delivered, /id=["']f4["']/, 'bob’s queries never reached alice’s client');
    // an unknown account is service-unavailable, as for any IQ (RFC 6121 §8.5.1)
    assertStanza(await lastOf(b.c, 'f5', `nobody@${host}`), stanzaError('service-unavailable'));
    a.c.close();
    a2.c.close();
    b.c.close();
  });

  test('the last logout survives a restart; removing the account deletes it', async () => {
    await t.stop();
    t = await startTestServer(CONFIG, { dir });
    const q = await login(t, 'dave', 'after', false);
    assert.equal(parse(await lastOf(q.c, 'r1')).text, 'Heading Home');
    q.c.close();
    await t.server.core.accounts.remove(Jid.parse(`dave@${host}`));
    assert.equal(await t.server.core.store.table('last_activity').get(`${host}/dave`), undefined);
  });

  test('with roster and presence: a subscribed contact sees alice’s last activity, others are still forbidden', async () => {
    const t2 = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, last: {} } });
    try {
      const roster = t2.server.core.services.get<RosterApi>(`${host}`, 'roster');
      assert.ok(roster, 'the roster module provides its service');
      for (const u of ['alice', 'bob', 'carol']) await t2.addUser(u, `pw-${u}`, host);
      const a = await login(t2, 'alice', 'home');
      const b = await login(t2, 'bob', 'fan');
      const c = await login(t2, 'carol', 'stranger');
      /** A presence of this type from this bare JID (or one of its resources), attributes in any order. */
      const presence = (type: string, from: string) =>
        new RegExp(`<presence(?=[^>]*type=["']${type}["'])(?=[^>]*from=["']${from}(?:/[^"']*)?["'])[^>]*>`);
      // RFC 6121 §3.1: bob asks to see alice's presence, alice approves
      b.c.send(`<presence to='alice@${host}' type='subscribe'/>`);
      await a.c.expect(presence('subscribe', `bob@${host}`));
      a.c.send(`<presence to='bob@${host}' type='subscribed'/>`);
      await b.c.expect(presence('subscribed', `alice@${host}`));
      await sync(a.c, 's0');
      assert.ok(await roster.isSubscribedTo(Jid.parse(`alice@${host}`), Jid.parse(`bob@${host}`)), 'bob is subscribed to alice');

      assert.deepEqual(parse(await lastOf(b.c, 's1', `alice@${host}`)), { seconds: 0, text: '' });
      assertStanza(await lastOf(c.c, 's2', `alice@${host}`), stanzaError('forbidden'));
      // alice's full JID: delivered to her client for bob, refused for carol
      b.c.send(`<iq to='alice@${host}/home' type='get' id='s3'><query xmlns='jabber:iq:last'/></iq>`);
      assertStanza((await a.c.expect(/<iq[^>]*id=["']s3["'][^>]*>[\s\S]*?<\/iq>/))[0], { name: 'iq', attrs: { type: 'get', from: `bob@${host}/fan` } });
      assertStanza(await lastOf(c.c, 's4', `alice@${host}/home`), stanzaError('forbidden'));

      a.c.send("<presence type='unavailable'><status>gone fishing</status></presence>");
      await sync(a.c, 's5');
      const r = parse(await lastOf(b.c, 's6', `alice@${host}`));
      assert.equal(r.text, 'gone fishing');
      assertStanza(await lastOf(c.c, 's7', `alice@${host}`), stanzaError('forbidden'));
      a.c.close();
      b.c.close();
      c.c.close();
    } finally {
      await t2.stop();
    }
  });
});
