// The two bookmark shapes (XEP-0402 items, XEP-0048 storage) through one model: a conversion either way and
// back is a fixed point (what keeps the module's echo of its own publishes from looping), every field kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseXml } from '../../src/sdk.js';
import { bookmarkKey, fromLegacy, fromNative, listKey, toLegacyConference, toNative, toStorage, type Bookmark } from './convert.js';

test('a legacy list becomes one XEP-0402 conference per room: name, autojoin, nick, password and unknown children as extensions', () => {
  const storage = parseXml(`<storage xmlns='storage:bookmarks'>
    <conference jid='Council@Conference.Underhill.example' name='Council of Oberon' autojoin='1'><nick>Puck</nick><password>s3cr3t</password><minimize xmlns='urn:example:ext'/></conference>
    <conference jid='orchard@conference.example' autojoin='false'/>
    <conference jid='council@conference.underhill.example' name='duplicate: the first entry wins'/>
    <conference jid='not a jid@@' name='skipped'/>
    <conference jid='room@muc.example/nick' name='a full JID is no room: skipped'/>
    <url name='Site' url='https://example.org/'/>
  </storage>`);
  const list = fromLegacy([storage]);
  assert.deepEqual(list.conferences.map((b) => b.jid), ['council@conference.underhill.example', 'orchard@conference.example']);
  assert.deepEqual(list.others.map(String), ['<url name="Site" url="https://example.org/" xmlns="storage:bookmarks"/>']);
  const council = toNative(list.conferences[0]!);
  assert.equal(council.toString(),
    '<conference xmlns="urn:xmpp:bookmarks:1" name="Council of Oberon" autojoin="true"><nick>Puck</nick><password>s3cr3t</password>' +
    '<extensions><minimize xmlns="urn:example:ext"/></extensions></conference>');
  assert.equal(toNative(list.conferences[1]!).toString(), '<conference xmlns="urn:xmpp:bookmarks:1"/>');
});

test('XEP-0402 items become legacy conferences with the item id as jid; other payloads are not bookmarks', () => {
  const b = fromNative('theplay@conference.example', parseXml("<conference xmlns='urn:xmpp:bookmarks:1' name='The Play' autojoin='true'><nick>JC</nick><extensions><state xmlns='urn:example:x' v='1'/></extensions></conference>"))!;
  assert.equal(toLegacyConference(b).toString(),
    '<conference jid="theplay@conference.example" name="The Play" autojoin="true"><nick>JC</nick><state xmlns="urn:example:x" v="1"/></conference>');
  assert.equal(fromNative('x@y', parseXml("<conference xmlns='storage:bookmarks'/>")), null);
  assert.equal(fromNative('x@y', parseXml("<other xmlns='urn:xmpp:bookmarks:1'/>")), null);
  assert.equal(fromNative('room@muc/res', parseXml("<conference xmlns='urn:xmpp:bookmarks:1'/>")), null);
});

const text = fc.string({ maxLength: 8 });
const bookmark: fc.Arbitrary<Bookmark> = fc.record({
  jid: fc.tuple(fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.constantFrom('muc.example', 'conference.example.test')).map(([l, d]) => `${l}@${d}`),
  name: fc.option(text, { nil: undefined }),
  autojoin: fc.boolean(),
  nick: fc.option(text, { nil: undefined }),
  password: fc.option(text, { nil: undefined }),
  extensions: fc.array(fc.tuple(fc.constantFrom('a', 'b'), text).map(([n, v]) => parseXml(`<${n} xmlns='urn:example:${n}' v='${v.replace(/[<&'"]/g, '')}'/>`)), { maxLength: 2 }),
}, { requiredKeys: ['jid', 'autojoin', 'extensions'] });

test('round trips are fixed points: item -> legacy -> item, and list -> storage XML -> list', () => {
  fc.assert(fc.property(fc.uniqueArray(bookmark, { selector: (b) => b.jid, maxLength: 5 }), (bookmarks) => {
    for (const b of bookmarks) {
      const viaNative = fromNative(b.jid, parseXml(toNative(b).toString()))!;
      assert.equal(bookmarkKey(viaNative), bookmarkKey(b));
      const viaLegacy = fromLegacy([parseXml(toStorage({ conferences: [b], others: [] }).toString())]).conferences[0]!;
      assert.equal(bookmarkKey(viaLegacy), bookmarkKey(b));
    }
    const list = { conferences: bookmarks, others: [parseXml("<url xmlns='storage:bookmarks' url='https://example.org/'/>")] };
    const again = fromLegacy([parseXml(toStorage(list).toString())]);
    assert.equal(listKey(again), listKey(list));
    // The order of rooms carries no meaning: a reordered list is the same list.
    assert.equal(listKey({ ...list, conferences: [...bookmarks].reverse() }), listKey(list));
  }));
});

test('a changed field is a different bookmark (changes are never mistaken for echoes)', () => {
  const base: Bookmark = { jid: 'r@muc.example', name: 'R', autojoin: false, nick: 'n', extensions: [] };
  for (const changed of [{ name: 'S' }, { autojoin: true }, { nick: undefined }, { password: '' }, { extensions: [parseXml("<x xmlns='urn:example:x'/>")] }]) {
    assert.notEqual(bookmarkKey({ ...base, ...changed }), bookmarkKey(base), JSON.stringify(changed));
  }
});
