// XEP-0398 over real sockets with the pep module: a PEP avatar (XEP-0084) shows in the vCard and the presence
// hash, a vCard photo shows as PEP avatar data and metadata, removal both ways, no echo, and the
// pep_conversion option; on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { escapeRe, forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { assertStanza, discoFeature, iqResult, parseStanza } from '../../test/support/stanza-match.js';
import { pepItems, pepPublish } from '../../test/support/pep-requests.js';
import { Jid } from '../../src/core/jid.js';
import { befriend, capsLogin, expectEvent } from '../pubsub/test-support.js';

// caps: verified XEP-0115 caps, so a contact can ask for avatar notifications (+notify).
const CONFIG = { modules: { disco: {}, ping: {}, roster: {}, presence: {}, pep: {}, caps: {}, vcard: {} } };
const NS_DATA = 'urn:xmpp:avatar:data';
const NS_METADATA = 'urn:xmpp:avatar:metadata';
const NS_UPDATE = 'vcard-temp:x:update';

let t: TestServer;
before(async () => {
  t = await startTestServer(CONFIG);
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'fay']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (b: Buffer) => (b.reduce((c, x) => CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A real PNG (8-bit grey) of width x height, filled with `shade`. */
function png(width: number, height: number, shade: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: height }, () => Buffer.from([0, ...Array<number>(width).fill(shade)])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

let n = 0;
const id = () => `v${++n}`;
const vcardGet = (c: RawClient, to: string) => { const i = id(); return c.iq(i, `<iq type='get' id='${i}' to='${to}'><vCard xmlns='vcard-temp'/></iq>`); };
const vcardSet = async (c: RawClient, card: string) => { const i = id(); assertStanza(await c.iq(i, `<iq type='set' id='${i}'>${card}</iq>`), iqResult()); };
/** The vCard's PHOTO as { type, hash of the decoded BINVAL }, or null. */
async function photoOf(c: RawClient, to: string): Promise<{ type: string; hash: string } | null> {
  const photo = parseStanza(await vcardGet(c, to)).getChild('vCard')?.getChild('PHOTO');
  if (!photo) return null;
  return { type: photo.getChildText('TYPE') ?? '', hash: sha1(Buffer.from(photo.getChildText('BINVAL') ?? '', 'base64')) };
}
/** What a client publishes for an XEP-0084 avatar: data, then metadata naming it. */
async function publishAvatar(c: RawClient, image: Buffer, width: number, height: number): Promise<string> {
  const hash = sha1(image);
  await pepPublish(c, NS_DATA, hash, `<data xmlns='${NS_DATA}'>${image.toString('base64')}</data>`);
  await pepPublish(c, NS_METADATA, hash, `<metadata xmlns='${NS_METADATA}'><info id='${hash}' bytes='${image.length}' type='image/png' width='${width}' height='${height}'/></metadata>`);
  return hash;
}

forEachHost((host) => {
  const login = (user: string, resource: string) => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('the account advertises urn:xmpp:pep-vcard-conversion:0', async () => {
    const a = await login('alice', 'disco');
    assertStanza(await a.c.iq('d1', `<iq type='get' id='d1' to='alice@${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), discoFeature('urn:xmpp:pep-vcard-conversion:0'));
    a.c.close();
  });

  test('alice publishes a PEP avatar: bob sees it as her vCard PHOTO and in her presence hash; her other vCard fields stay', async () => {
    const a = await login('alice', 'pep');
    const b = await login('bob', 'legacy');
    await vcardSet(a.c, "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>");
    const seen: string[] = [];
    const off = t.server.core.hooks.on('pep_item_published', ({ owner, node, itemId }) => {
      if (owner.equals(Jid.of('alice', host))) seen.push(`${node} ${itemId}`);
    }, 50, 'test', host);
    try {
      const image = png(3, 2, 0x40);
      const hash = await publishAvatar(a.c, image, 3, 2);
      const photo = await until(() => photoOf(b.c, `alice@${host}`), "alice's vCard has a PHOTO");
      assert.deepEqual(photo, { type: 'image/png', hash });
      assertStanza(await vcardGet(b.c, `alice@${host}`), iqResult({ name: 'vCard', ns: 'vcard-temp', has: [{ name: 'FN', text: 'Alice' }, { name: 'PHOTO' }] }));
      // no echo: the vCard written from PEP publishes nothing back (only alice's own two publishes)
      assert.deepEqual(seen, [`${NS_DATA} ${hash}`, `${NS_METADATA} ${hash}`]);

      // XEP-0153 / XEP-0398 §4: her next available presence carries the hash
      a.c.send(`<presence to='bob@${host}/legacy'/>`);
      const presence = (await b.c.expect(new RegExp(`<presence[^>]*from=["']${escapeRe(`alice@${host}/pep`)}["'][^>]*>[\\s\\S]*?</presence>`)))[0];
      assertStanza(presence, { name: 'presence', has: [{ name: 'x', ns: NS_UPDATE, children: [{ name: 'photo', text: hash }] }] });

      // an empty <metadata/> disables the avatar (XEP-0084 §4.5): the PHOTO goes, FN stays
      await pepPublish(a.c, NS_METADATA, null, `<metadata xmlns='${NS_METADATA}'/>`);
      await until(async () => (await photoOf(b.c, `alice@${host}`)) === null, "alice's PHOTO is removed");
      assertStanza(await vcardGet(b.c, `alice@${host}`), iqResult({ name: 'vCard', ns: 'vcard-temp', children: [{ name: 'FN', text: 'Alice' }] }));
    } finally {
      off();
    }
    a.c.close();
    b.c.close();
  });

  test('carol sets a vCard with a photo: it is her PEP avatar (data, and metadata with id, bytes, type, width, height); removing it disables the avatar', async () => {
    const c = await login('carol', 'legacy-client');
    const seen: string[] = [];
    const off = t.server.core.hooks.on('pep_item_published', ({ owner, node, itemId }) => {
      if (owner.equals(Jid.of('carol', host))) seen.push(`${node} ${itemId}`);
    }, 50, 'test', host);
    try {
      const image = png(5, 4, 0x99);
      const hash = sha1(image);
      const card = `<vCard xmlns='vcard-temp'><FN>Carol</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${image.toString('base64').replace(/(.{20})/g, '$1\n')}</BINVAL></PHOTO></vCard>`;
      await vcardSet(c.c, card);
      const [data] = await pepItems(c.c, NS_DATA);
      assert.equal(data?.id, hash);
      assert.equal(Buffer.from(data!.payload.getText(), 'base64').compare(image), 0);
      const [meta] = await pepItems(c.c, NS_METADATA);
      assert.equal(meta?.id, hash);
      assertStanza(meta!.payload, { name: 'metadata', children: [{ name: 'info', attrs: { id: hash, bytes: String(image.length), type: 'image/png', width: '5', height: '4', url: null } }] }, { ns: NS_METADATA });

      // the same vCard again publishes nothing; the conversion's own notice echoed nothing either
      await vcardSet(c.c, card);
      assert.deepEqual(seen, [`${NS_DATA} ${hash}`, `${NS_METADATA} ${hash}`]);
      assert.deepEqual(await photoOf(c.c, `carol@${host}`), { type: 'image/png', hash });

      // the photo removed from the vCard: the metadata becomes empty (XEP-0084 §4.5)
      await vcardSet(c.c, "<vCard xmlns='vcard-temp'><FN>Carol</FN></vCard>");
      const [after] = await pepItems(c.c, NS_METADATA);
      assertStanza(after!.payload, { name: 'metadata', children: [] }, { ns: NS_METADATA });
      assert.equal(await photoOf(c.c, `carol@${host}`), null);
    } finally {
      off();
    }
    c.c.close();
  });

  test('a vCard photo reaches contacts as an XEP-0084 metadata notification (XEP-0398 §3.2)', async () => {
    await befriend(t, host, 'erin', 'fay');
    const fay = await capsLogin(t, 'fay', host, 'modern', [NS_METADATA]);
    const erin = await login('erin', 'legacy');
    const image = png(4, 4, 0x10);
    await vcardSet(erin.c, `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${image.toString('base64')}</BINVAL></PHOTO></vCard>`);
    const event = await expectEvent(fay.c, NS_METADATA);
    assertStanza(event, { name: 'message', attrs: { from: `erin@${host}` }, has: [{ name: 'event', has: [{ name: 'items', attrs: { node: NS_METADATA }, children: [
      { name: 'item', attrs: { id: sha1(image) }, children: [{ name: 'metadata', ns: NS_METADATA, children: [{ name: 'info', attrs: { id: sha1(image), type: 'image/png', width: '4', height: '4' } }] }] },
    ] }] }] });
    fay.c.close();
    erin.c.close();
  });

  test('pep_conversion: false advertises nothing and leaves PEP alone on a vCard set', async () => {
    await t.server.modules.reload('vcard', { pep_conversion: false });
    try {
      const d = await login('dave', 'off');
      const info = await d.c.iq('d2', `<iq type='get' id='d2' to='dave@${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      assert.ok(!info.includes('urn:xmpp:pep-vcard-conversion:0'), info);
      const image = png(2, 2, 1);
      await vcardSet(d.c, `<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${image.toString('base64')}</BINVAL></PHOTO></vCard>`);
      assert.deepEqual(await pepItems(d.c, NS_METADATA), []);
      d.c.close();
    } finally {
      await t.server.modules.reload('vcard', {});
    }
  });
});
