// vcard over real sockets: XEP-0054 get/set (own, another user's, the server's), its errors and size
// limit, persistence across a restart, account removal, and the XEP-0153 photo hash in presence; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { escapeRe, forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, iqResult, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';

const CONFIG = { modules: { disco: {}, vcard: {} } };
const NS_VCARD = 'vcard-temp';
const NS_UPDATE = 'vcard-temp:x:update';
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-vcard-'));
  t = await startTestServer(CONFIG, { dir });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const iq = (c: RawClient, id: string, stanza: string) => c.iq(id, stanza);

const IMAGE_1 = Buffer.from('\x89PNG\r\n\x1a\n first avatar image bytes', 'latin1');
const IMAGE_2 = Buffer.from('\x89PNG\r\n\x1a\n second, different avatar', 'latin1');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
/** base64 wrapped at 16 characters: XEP-0153 §4.6 says whitespace in BINVAL is ignored. */
const wrapped = (b: Buffer) => b.toString('base64').replace(/(.{16})/g, '$1\n');
const photoCard = (img: Buffer, fn = 'Alice') =>
  `<vCard xmlns='vcard-temp'><FN>${fn}</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${wrapped(img)}</BINVAL></PHOTO></vCard>`;

/** An IQ result carrying an empty vCard (no vCard stored). */
const EMPTY_VCARD = iqResult({ name: 'vCard', ns: NS_VCARD, children: [] });
/** An IQ result carrying a vCard with these children (in order, no others when `exact`). */
const vcardResult = (fields: StanzaShape[], exact = false): StanzaShape => iqResult({ name: 'vCard', ns: NS_VCARD, ...(exact ? { children: fields } : { has: fields }) });
/** A presence with exactly one XEP-0153 update element whose <photo/> holds `hash` ('' for "no image"). */
function assertPhoto(presence: string, hash: string): void {
  const el = assertStanza(presence, { name: 'presence', has: [{ name: 'x', ns: NS_UPDATE, children: [{ name: 'photo', text: hash }] }] });
  assert.equal(el.getChildren('x', NS_UPDATE).length, 1, 'one update element');
}

forEachHost((host) => {
  const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  /** A presence from `from` as bob's client receives it. */
  async function presenceFrom(c: RawClient, from: string): Promise<string> {
    return (await c.expect(new RegExp(`<presence[^>]*from=["']${escapeRe(from)}["'][^>]*(?:/>|>[\\s\\S]*?</presence>)`)))[0];
  }

  test('vcard-temp is advertised on the server and on the account', async () => {
    const a = await login('alice', 'disco');
    assertStanza(await iq(a.c, 'd1', `<iq to='${host}' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), discoFeature(NS_VCARD));
    assertStanza(await iq(a.c, 'd2', "<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), discoFeature(NS_VCARD));
    a.c.close();
  });

  test('alice sets her vCard and reads it back; bob reads it too; before that alice gets an empty vCard and bob service-unavailable', async () => {
    const a = await login('alice', 'laptop');
    const b = await login('bob', 'phone');
    assertStanza(await iq(a.c, 'g0', "<iq type='get' id='g0'><vCard xmlns='vcard-temp'/></iq>"), EMPTY_VCARD);
    const none = await iq(b.c, 'g1', `<iq to='alice@${host}' type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>`);
    assertStanza(none, stanzaError('service-unavailable')); // XEP-0054 §3.3: no vCard looks like no user

    const set = await iq(a.c, 's1', "<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>ali &amp; ce</NICKNAME><EMAIL><INTERNET/><USERID>alice@example.com</USERID></EMAIL></vCard></iq>");
    assertStanza(set, iqResult());

    const card: StanzaShape[] = [
      { name: 'FN', text: 'Alice Liddell' },
      { name: 'NICKNAME', text: 'ali & ce' },
      { name: 'EMAIL', children: [{ name: 'INTERNET', children: [] }, { name: 'USERID', text: 'alice@example.com' }] },
    ];
    assertStanza(await iq(a.c, 'g2', "<iq type='get' id='g2'><vCard xmlns='vcard-temp'/></iq>"), vcardResult(card, true));
    assertStanza(await iq(a.c, 'g3', `<iq to='alice@${host}' type='get' id='g3'><vCard xmlns='vcard-temp'/></iq>`), vcardResult([card[0]!]));

    const bobs = await iq(b.c, 'g4', `<iq to='alice@${host}' type='get' id='g4'><vCard xmlns='vcard-temp'/></iq>`);
    assertStanza(bobs, { ...vcardResult(card, true), attrs: { type: 'result', from: `alice@${host}` } });
    a.c.close();
    b.c.close();
  });

  test('bob may not set alice’s vCard (forbidden) and hers is unchanged; a non-vCard payload is a bad request', async () => {
    const b = await login('bob', 'evil');
    const r = await iq(b.c, 'f1', `<iq to='alice@${host}' type='set' id='f1'><vCard xmlns='vcard-temp'><FN>Hacked</FN></vCard></iq>`);
    assertStanza(r, stanzaError('forbidden'));
    const check = await iq(b.c, 'f2', `<iq to='alice@${host}' type='get' id='f2'><vCard xmlns='vcard-temp'/></iq>`);
    assertStanza(check, vcardResult([{ name: 'FN', text: 'Alice Liddell' }]));
    assertStanza(await iq(b.c, 'f3', "<iq type='set' id='f3'><vcard xmlns='vcard-temp'/></iq>"), stanzaError('bad-request'));
    assertStanza(await iq(b.c, 'f4', `<iq to='nobody@${host}' type='get' id='f4'><vCard xmlns='vcard-temp'/></iq>`), stanzaError('service-unavailable'));
    b.c.close();
  });

  test('the server has a read-only vCard of its own, named after this host', async () => {
    const a = await login('alice', 'srv');
    const g = await iq(a.c, 'v1', `<iq to='${host}' type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>`);
    assertStanza(g, { ...vcardResult([{ name: 'FN', text: host }]), attrs: { type: 'result', from: host } });
    const s = await iq(a.c, 'v2', `<iq to='${host}' type='set' id='v2'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>`);
    assertStanza(s, stanzaError('not-allowed'));
    a.c.close();
  });

  test('max_size: a vCard over 64 KiB is refused with policy-violation; a smaller max_size applies after reload', async () => {
    const c = await login('carol', 'big');
    const big = `<vCard xmlns='vcard-temp'><FN>Carol</FN><DESC>${'x'.repeat(70_000)}</DESC></vCard>`;
    assertStanza(await iq(c.c, 'm1', `<iq type='set' id='m1'>${big}</iq>`), stanzaError('policy-violation'));
    assertStanza(await iq(c.c, 'm2', "<iq type='get' id='m2'><vCard xmlns='vcard-temp'/></iq>"), EMPTY_VCARD); // nothing was stored
    const medium = `<vCard xmlns='vcard-temp'><FN>Carol</FN><DESC>${'y'.repeat(1000)}</DESC></vCard>`;
    assertStanza(await iq(c.c, 'm3', `<iq type='set' id='m3'>${medium}</iq>`), iqResult());
    await t.server.modules.reload('vcard', { max_size: 512 });
    try {
      assertStanza(await iq(c.c, 'm4', `<iq type='set' id='m4'>${medium}</iq>`), stanzaError('policy-violation'));
    } finally {
      await t.server.modules.reload('vcard', {});
    }
    // clearing with an empty vCard leaves carol without one
    assertStanza(await iq(c.c, 'm5', "<iq type='set' id='m5'><vCard xmlns='vcard-temp'/></iq>"), iqResult());
    assertStanza(await iq(c.c, 'm6', "<iq type='get' id='m6'><vCard xmlns='vcard-temp'/></iq>"), EMPTY_VCARD);
    c.c.close();
  });

  test('XEP-0153: alice’s presence carries the SHA-1 of her decoded photo; a new photo changes the hash; no photo gives <photo/>', async () => {
    const b = await login('bob', 'watch');
    const c = await login('carol', 'nophoto');
    const toBob = `bob@${host}/watch`;
    const fromAlice = `alice@${host}/avatar`;
    // carol has no vCard: her directed presence says "no image" (empty photo)
    c.c.send(`<presence to='${toBob}'/>`);
    assertPhoto(await presenceFrom(b.c, `carol@${host}/nophoto`), '');

    const a = await login('alice', 'avatar');
    assertStanza(await iq(a.c, 'p1', `<iq type='set' id='p1'>${photoCard(IMAGE_1)}</iq>`), iqResult());
    a.c.send(`<presence to='${toBob}'><status>here</status></presence>`);
    const p1 = await presenceFrom(b.c, fromAlice);
    assertStanza(p1, { name: 'presence', has: [{ name: 'status', text: 'here' }] });
    assertPhoto(p1, sha1(IMAGE_1));
    // the broadcast presence the session keeps (what the presence module broadcasts and answers probes with) has it too
    a.c.send('<presence><show>away</show></presence>');
    a.c.send(`<presence to='${toBob}'/>`); // a marker: once bob sees it, the broadcast was processed
    await presenceFrom(b.c, fromAlice);
    const stored = t.server.core.sessions.resources(Jid.of('alice', host)).find((s) => s.jid.resource === 'avatar')!.presence!;
    assert.equal(stored.getChild('x', NS_UPDATE)?.getChildText('photo'), sha1(IMAGE_1));

    // a new photo: the next presence has the new hash
    assertStanza(await iq(a.c, 'p2', `<iq type='set' id='p2'>${photoCard(IMAGE_2)}</iq>`), iqResult());
    a.c.send(`<presence to='${toBob}'/>`);
    assertPhoto(await presenceFrom(b.c, fromAlice), sha1(IMAGE_2));

    // the client's own claim: an empty <photo/> and a hash are left alone; an <x/> without photo is filled in
    a.c.send(`<presence to='${toBob}'><x xmlns='vcard-temp:x:update'><photo/></x></presence>`);
    assertPhoto(await presenceFrom(b.c, fromAlice), '');
    a.c.send(`<presence to='${toBob}'><x xmlns='vcard-temp:x:update'><photo>0123456789abcdef0123456789abcdef01234567</photo></x></presence>`);
    assertPhoto(await presenceFrom(b.c, fromAlice), '0123456789abcdef0123456789abcdef01234567');
    a.c.send(`<presence to='${toBob}'><x xmlns='vcard-temp:x:update'/></presence>`);
    assertPhoto(await presenceFrom(b.c, fromAlice), sha1(IMAGE_2));

    // unavailable presence is not touched
    a.c.send(`<presence to='${toBob}' type='unavailable'/>`);
    assertStanza(await presenceFrom(b.c, fromAlice), { name: 'presence', attrs: { type: 'unavailable' }, without: [{ name: 'x', ns: NS_UPDATE }] });

    // a vCard without a photo: empty <photo/>
    assertStanza(await iq(a.c, 'p3', "<iq type='set' id='p3'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN></vCard></iq>"), iqResult());
    a.c.send(`<presence to='${toBob}'/>`);
    assertPhoto(await presenceFrom(b.c, fromAlice), '');
    // and back to a photo, for the restart test
    assertStanza(await iq(a.c, 'p4', `<iq type='set' id='p4'>${photoCard(IMAGE_1)}</iq>`), iqResult());
    a.c.close();
    b.c.close();
    c.c.close();
  });

  test('vCards and photo hashes survive a server restart on the same data directory', async () => {
    await t.stop();
    t = await startTestServer(CONFIG, { dir });
    const b = await login('bob', 'after');
    const g = await iq(b.c, 'r1', `<iq to='alice@${host}' type='get' id='r1'><vCard xmlns='vcard-temp'/></iq>`);
    assertStanza(g, vcardResult([{ name: 'FN', text: 'Alice' }, { name: 'PHOTO', has: [{ name: 'TYPE', text: 'image/png' }, { name: 'BINVAL' }] }], true));
    const a = await login('alice', 'back');
    a.c.send(`<presence to='bob@${host}/after'/>`);
    assertPhoto(await presenceFrom(b.c, `alice@${host}/back`), sha1(IMAGE_1));
    a.c.close();
    b.c.close();
  });

  test('removing the account deletes its vCard', async () => {
    await t.server.core.accounts.remove(Jid.of('alice', host));
    assert.equal(await t.server.core.store.table('vcard_cards').get(`${host}/alice`), undefined);
    await t.addUser('alice', 'pw-alice', host);
    const a = await login('alice', 'new');
    assertStanza(await iq(a.c, 'x1', "<iq type='get' id='x1'><vCard xmlns='vcard-temp'/></iq>"), EMPTY_VCARD);
    a.c.close();
  });

  test('with roster and presence: alice’s broadcast presence reaches bob (subscribed) and her other resource with the hash', async () => {
    const t2 = await startTestServer({ modules: { disco: {}, roster: {}, presence: {}, vcard: {} } });
    try {
      assert.ok(t2.server.core.services.get(host, 'roster'), 'the roster module provides its service');
      for (const u of ['alice', 'bob']) await t2.addUser(u, `pw-${u}`, host);
      const login2 = (user: string, resource: string) => RawClient.login(t2.c2sPort, user, `pw-${user}`, resource, { host });
      const a = await login2('alice', 'one');
      const a2 = await login2('alice', 'two');
      const b = await login2('bob', 'fan');
      const presence = (type: string, from: string) =>
        new RegExp(`<presence(?=[^>]*type=["']${type}["'])(?=[^>]*from=["']${escapeRe(from)}(?:/[^"']*)?["'])[^>]*>`);
      b.c.send(`<presence to='alice@${host}' type='subscribe'/>`);
      await a.c.expect(presence('subscribe', `bob@${host}`));
      a.c.send(`<presence to='bob@${host}' type='subscribed'/>`);
      await b.c.expect(presence('subscribed', `alice@${host}`));

      assertStanza(await iq(a.c, 'b1', `<iq type='set' id='b1'>${photoCard(IMAGE_2)}</iq>`), iqResult());
      a.c.send('<presence><status>new avatar</status></presence>');
      const withStatus = new RegExp(`<presence[^>]*from=["']alice@${escapeRe(host)}/one["'][^>]*>(?:(?!</presence>)[\\s\\S])*<status>new avatar</status>[\\s\\S]*?</presence>`);
      assertPhoto((await b.c.expect(withStatus))[0], sha1(IMAGE_2));
      assertPhoto((await a2.c.expect(withStatus))[0], sha1(IMAGE_2));
      a.c.close();
      a2.c.close();
      b.c.close();
    } finally {
      await t2.stop();
    }
  });
});
