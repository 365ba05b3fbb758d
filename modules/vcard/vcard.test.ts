// vcard over real sockets: XEP-0054 get/set (own, another user's, the server's), its errors and size
// limit, persistence across a restart, account removal, and the XEP-0153 photo hash in presence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/core/jid.js';

const CONFIG = { modules: { disco: {}, vcard: {} } };
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-vcard-'));
  t = await startTestServer(CONFIG, { dir });
  for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource);

const iq = (c: RawClient, id: string, stanza: string) => c.iq(id, stanza);

/** A presence from `from` as bob's client receives it. */
async function presenceFrom(c: RawClient, from: string): Promise<string> {
  return (await c.expect(new RegExp(`<presence[^>]*from=["']${from}["'][^>]*(?:/>|>[\\s\\S]*?</presence>)`)))[0];
}

const IMAGE_1 = Buffer.from('\x89PNG\r\n\x1a\n first avatar image bytes', 'latin1');
const IMAGE_2 = Buffer.from('\x89PNG\r\n\x1a\n second, different avatar', 'latin1');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
/** base64 wrapped at 16 characters: XEP-0153 §4.6 says whitespace in BINVAL is ignored. */
const wrapped = (b: Buffer) => b.toString('base64').replace(/(.{16})/g, '$1\n');
const photoCard = (img: Buffer, fn = 'Alice') =>
  `<vCard xmlns='vcard-temp'><FN>${fn}</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${wrapped(img)}</BINVAL></PHOTO></vCard>`;

test('vcard-temp is advertised on the server and on the account', async () => {
  const a = await login('alice', 'disco');
  const s = await iq(a.c, 'd1', "<iq to='localhost' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match(s, /<feature var=["']vcard-temp["']\/>/);
  const acc = await iq(a.c, 'd2', "<iq type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match(acc, /<feature var=["']vcard-temp["']\/>/);
  a.c.close();
});

test('alice sets her vCard and reads it back; bob reads it too; before that alice gets an empty vCard and bob service-unavailable', async () => {
  const a = await login('alice', 'laptop');
  const b = await login('bob', 'phone');
  const empty = await iq(a.c, 'g0', "<iq type='get' id='g0'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(empty, /type=["']result["']/);
  assert.match(empty, /<vCard xmlns=["']vcard-temp["']\/>/);
  const none = await iq(b.c, 'g1', "<iq to='alice@localhost' type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(none, /type=["']error["'][\s\S]*<service-unavailable /, 'XEP-0054 §3.3: no vCard looks like no user');

  const set = await iq(a.c, 's1', "<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>ali &amp; ce</NICKNAME><EMAIL><INTERNET/><USERID>alice@example.com</USERID></EMAIL></vCard></iq>");
  assert.match(set, /type=["']result["']/);

  const own = await iq(a.c, 'g2', "<iq type='get' id='g2'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(own, /<vCard xmlns=["']vcard-temp["']><FN>Alice Liddell<\/FN><NICKNAME>ali &amp; ce<\/NICKNAME><EMAIL><INTERNET\/><USERID>alice@example.com<\/USERID><\/EMAIL><\/vCard>/);
  const ownTo = await iq(a.c, 'g3', "<iq to='alice@localhost' type='get' id='g3'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(ownTo, /<FN>Alice Liddell<\/FN>/);

  const bobs = await iq(b.c, 'g4', "<iq to='alice@localhost' type='get' id='g4'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(bobs, /type=["']result["']/);
  assert.match(bobs, /from=["']alice@localhost["']/);
  assert.match(bobs, /<FN>Alice Liddell<\/FN><NICKNAME>ali &amp; ce<\/NICKNAME>/);
  a.c.close();
  b.c.close();
});

test('bob may not set alice’s vCard (forbidden) and hers is unchanged; a non-vCard payload is a bad request', async () => {
  const b = await login('bob', 'evil');
  const r = await iq(b.c, 'f1', "<iq to='alice@localhost' type='set' id='f1'><vCard xmlns='vcard-temp'><FN>Hacked</FN></vCard></iq>");
  assert.match(r, /type=["']error["'][\s\S]*<forbidden xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
  const check = await iq(b.c, 'f2', "<iq to='alice@localhost' type='get' id='f2'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(check, /<FN>Alice Liddell<\/FN>/);
  assert.doesNotMatch(check, /Hacked/);
  const bad = await iq(b.c, 'f3', "<iq type='set' id='f3'><vcard xmlns='vcard-temp'/></iq>");
  assert.match(bad, /<bad-request /);
  const nobody = await iq(b.c, 'f4', "<iq to='nobody@localhost' type='get' id='f4'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(nobody, /<service-unavailable /);
  b.c.close();
});

test('the server has a read-only vCard of its own', async () => {
  const a = await login('alice', 'srv');
  const g = await iq(a.c, 'v1', "<iq to='localhost' type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(g, /type=["']result["'][\s\S]*<vCard xmlns=["']vcard-temp["']><FN>localhost<\/FN>/);
  const s = await iq(a.c, 'v2', "<iq to='localhost' type='set' id='v2'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>");
  assert.match(s, /<not-allowed /);
  a.c.close();
});

test('max_size: a vCard over 64 KiB is refused with policy-violation; a smaller max_size applies after reload', async () => {
  const c = await login('carol', 'big');
  const big = `<vCard xmlns='vcard-temp'><FN>Carol</FN><DESC>${'x'.repeat(70_000)}</DESC></vCard>`;
  const r = await iq(c.c, 'm1', `<iq type='set' id='m1'>${big}</iq>`);
  assert.match(r, /type=["']error["'][\s\S]*<policy-violation /);
  const still = await iq(c.c, 'm2', "<iq type='get' id='m2'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(still, /<vCard xmlns=["']vcard-temp["']\/>/, 'nothing was stored');
  const medium = `<vCard xmlns='vcard-temp'><FN>Carol</FN><DESC>${'y'.repeat(1000)}</DESC></vCard>`;
  assert.match(await iq(c.c, 'm3', `<iq type='set' id='m3'>${medium}</iq>`), /type=["']result["']/);
  await t.server.modules.reload('vcard', { max_size: 512 });
  try {
    assert.match(await iq(c.c, 'm4', `<iq type='set' id='m4'>${medium}</iq>`), /<policy-violation /);
  } finally {
    await t.server.modules.reload('vcard', {});
  }
  // clearing with an empty vCard leaves carol without one
  assert.match(await iq(c.c, 'm5', "<iq type='set' id='m5'><vCard xmlns='vcard-temp'/></iq>"), /type=["']result["']/);
  assert.match(await iq(c.c, 'm6', "<iq type='get' id='m6'><vCard xmlns='vcard-temp'/></iq>"), /<vCard xmlns=["']vcard-temp["']\/>/);
  c.c.close();
});

test('XEP-0153: alice’s presence carries the SHA-1 of her decoded photo; a new photo changes the hash; no photo gives <photo/>', async () => {
  const b = await login('bob', 'watch');
  const c = await login('carol', 'nophoto');
  // carol has no vCard: her directed presence says "no image" (empty photo)
  c.c.send("<presence to='bob@localhost/watch'/>");
  const pc = await presenceFrom(b.c, 'carol@localhost/nophoto');
  assert.match(pc, /<x xmlns=["']vcard-temp:x:update["']><photo\/><\/x>/);

  const a = await login('alice', 'avatar');
  assert.match(await iq(a.c, 'p1', `<iq type='set' id='p1'>${photoCard(IMAGE_1)}</iq>`), /type=["']result["']/);
  a.c.send("<presence to='bob@localhost/watch'><status>here</status></presence>");
  const p1 = await presenceFrom(b.c, 'alice@localhost/avatar');
  assert.match(p1, /<status>here<\/status>/);
  assert.match(p1, new RegExp(`<x xmlns=["']vcard-temp:x:update["']><photo>${sha1(IMAGE_1)}</photo></x>`));
  assert.equal((p1.match(/vcard-temp:x:update/g) ?? []).length, 1);
  // the broadcast presence the session keeps (what the presence module broadcasts and answers probes with) has it too
  a.c.send('<presence><show>away</show></presence>');
  a.c.send("<presence to='bob@localhost/watch'/>"); // a marker: once bob sees it, the broadcast was processed
  await presenceFrom(b.c, 'alice@localhost/avatar');
  const stored = t.server.core.sessions.resources(Jid.parse('alice@localhost')).find((s) => s.jid.resource === 'avatar')!.presence!;
  assert.equal(stored.getChild('x', 'vcard-temp:x:update')?.getChildText('photo'), sha1(IMAGE_1));

  // a new photo: the next presence has the new hash
  assert.match(await iq(a.c, 'p2', `<iq type='set' id='p2'>${photoCard(IMAGE_2)}</iq>`), /type=["']result["']/);
  a.c.send("<presence to='bob@localhost/watch'/>");
  assert.match(await presenceFrom(b.c, 'alice@localhost/avatar'), new RegExp(`<photo>${sha1(IMAGE_2)}</photo>`));

  // the client's own claim: an empty <photo/> and a hash are left alone; an <x/> without photo is filled in
  a.c.send("<presence to='bob@localhost/watch'><x xmlns='vcard-temp:x:update'><photo/></x></presence>");
  assert.match(await presenceFrom(b.c, 'alice@localhost/avatar'), /<x xmlns=["']vcard-temp:x:update["']><photo\/><\/x>/);
  a.c.send("<presence to='bob@localhost/watch'><x xmlns='vcard-temp:x:update'><photo>0123456789abcdef0123456789abcdef01234567</photo></x></presence>");
  assert.match(await presenceFrom(b.c, 'alice@localhost/avatar'), /<photo>0123456789abcdef0123456789abcdef01234567<\/photo>/);
  a.c.send("<presence to='bob@localhost/watch'><x xmlns='vcard-temp:x:update'/></presence>");
  const filled = await presenceFrom(b.c, 'alice@localhost/avatar');
  assert.match(filled, new RegExp(`<x xmlns=["']vcard-temp:x:update["']><photo>${sha1(IMAGE_2)}</photo></x>`));
  assert.equal((filled.match(/vcard-temp:x:update/g) ?? []).length, 1);

  // unavailable presence is not touched
  a.c.send("<presence to='bob@localhost/watch' type='unavailable'/>");
  assert.doesNotMatch(await presenceFrom(b.c, 'alice@localhost/avatar'), /vcard-temp:x:update/);

  // a vCard without a photo: empty <photo/>
  assert.match(await iq(a.c, 'p3', "<iq type='set' id='p3'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN></vCard></iq>"), /type=["']result["']/);
  a.c.send("<presence to='bob@localhost/watch'/>");
  assert.match(await presenceFrom(b.c, 'alice@localhost/avatar'), /<x xmlns=["']vcard-temp:x:update["']><photo\/><\/x>/);
  // and back to a photo, for the restart test
  assert.match(await iq(a.c, 'p4', `<iq type='set' id='p4'>${photoCard(IMAGE_1)}</iq>`), /type=["']result["']/);
  a.c.close();
  b.c.close();
  c.c.close();
});

test('vCards and photo hashes survive a server restart on the same data directory', async () => {
  await t.stop();
  t = await startTestServer(CONFIG, { dir });
  const b = await login('bob', 'after');
  const g = await iq(b.c, 'r1', "<iq to='alice@localhost' type='get' id='r1'><vCard xmlns='vcard-temp'/></iq>");
  assert.match(g, /<FN>Alice<\/FN><PHOTO><TYPE>image\/png<\/TYPE><BINVAL>/);
  const a = await login('alice', 'back');
  a.c.send("<presence to='bob@localhost/after'/>");
  assert.match(await presenceFrom(b.c, 'alice@localhost/back'), new RegExp(`<photo>${sha1(IMAGE_1)}</photo>`));
  a.c.close();
  b.c.close();
});

test('removing the account deletes its vCard', async () => {
  await t.server.core.accounts.remove(Jid.parse('alice@localhost'));
  assert.equal(await t.server.core.store.table('vcard_cards').get('localhost/alice'), undefined);
  await t.addUser('alice', 'pw-alice');
  const a = await login('alice', 'new');
  assert.match(await iq(a.c, 'x1', "<iq type='get' id='x1'><vCard xmlns='vcard-temp'/></iq>"), /<vCard xmlns=["']vcard-temp["']\/>/);
  a.c.close();
});

test('with roster and presence: alice’s broadcast presence reaches bob (subscribed) and her other resource with the hash', async (tt) => {
  const t2 = await startTestServer({ modules: { disco: {}, roster: {}, presence: {}, vcard: {} } });
  try {
    if (!t2.server.core.services.get('localhost', 'roster')) return tt.skip('the roster module does not provide its service yet');
    for (const u of ['alice', 'bob']) await t2.addUser(u, `pw-${u}`);
    const login2 = (user: string, resource: string) => RawClient.login(t2.c2sPort, user, `pw-${user}`, resource);
    const a = await login2('alice', 'one');
    const a2 = await login2('alice', 'two');
    const b = await login2('bob', 'fan');
    const presence = (type: string, from: string) =>
      new RegExp(`<presence(?=[^>]*type=["']${type}["'])(?=[^>]*from=["']${from}(?:/[^"']*)?["'])[^>]*>`);
    b.c.send("<presence to='alice@localhost' type='subscribe'/>");
    await a.c.expect(presence('subscribe', 'bob@localhost'));
    a.c.send("<presence to='bob@localhost' type='subscribed'/>");
    await b.c.expect(presence('subscribed', 'alice@localhost'));

    assert.match(await iq(a.c, 'b1', `<iq type='set' id='b1'>${photoCard(IMAGE_2)}</iq>`), /type=["']result["']/);
    a.c.send('<presence><status>new avatar</status></presence>');
    const withStatus = /<presence[^>]*from=["']alice@localhost\/one["'][^>]*>(?:(?!<\/presence>)[\s\S])*<status>new avatar<\/status>[\s\S]*?<\/presence>/;
    const hash = new RegExp(`<x xmlns=["']vcard-temp:x:update["']><photo>${sha1(IMAGE_2)}</photo></x>`);
    assert.match((await b.c.expect(withStatus))[0], hash);
    assert.match((await a2.c.expect(withStatus))[0], hash);
    a.c.close();
    a2.c.close();
    b.c.close();
  } finally {
    await t2.stop();
  }
});
