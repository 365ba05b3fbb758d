// The upload module's options on both hosts: base_url (a proxy's public URL) in the slots, access (an
// access rule), allowed_types (slot and PUT), no HTTP listener (service-unavailable), invalid options named
// by their YAML path; and an account's removal, after which its files are no longer served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../test/support/harness.js';
import { startTestServer } from '../../test/support/harness.js';
import { HOSTS } from '../../test/support/each-host.js';
import { Jid } from '../../src/sdk.js';
import { assertStanza, iqResult, stanzaError } from '../../test/support/stanza-match.js';
import { NS_UPLOAD, iq, login, put, requestSlot, slotUrls, startUploadServer } from './test-support.js';

const PUBLIC = 'https://files.example.org/xmpp';
let t: TestServer;
let local: string;

before(async () => {
  t = await startUploadServer({ base_url: `${PUBLIC}/`, allowed_types: ['image/*'], access: 'upload' }, {
    extra: {
      acl: { uploaders: { user: HOSTS.map((h) => `alice@${h}`) } },
      access_rules: { upload: [{ allow: 'uploaders' }, { deny: 'all' }] },
    },
  });
  local = `http://127.0.0.1:${t.server.port('http')}`;
  for (const host of HOSTS) for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

/** The URL as the proxy in front of the listener passes it on (base_url maps to the listener's root). */
const viaProxy = (url: string) => url.replace(PUBLIC, local);

for (const host of HOSTS) {
  const service = `upload.${host}`;

  test(`on ${host}: slots name base_url; the access rule decides who uploads; allowed_types in slots and PUTs`, async () => {
    const a = await login(t, 'alice', host);
    const urls = slotUrls(await requestSlot(a, service, 'cat.gif', 3, 'image/gif'));
    assert.ok(urls.get.startsWith(`${PUBLIC}/upload/${host}/`), urls.get);
    assert.ok(urls.put.startsWith(`${PUBLIC}/upload/${host}/`), urls.put);
    assert.equal((await put(viaProxy(urls.put), Buffer.from('GIF'), 'image/gif')).status, 201);
    assert.equal((await fetch(viaProxy(urls.get))).headers.get('content-type'), 'image/gif');

    assertStanza(await requestSlot(a, service, 'notes.txt', 3, 'text/plain'), stanzaError('not-acceptable', 'iq', 'modify'));
    // a slot without a content-type: the PUT's type must still be allowed, and is the one served
    const untyped = slotUrls(await requestSlot(a, service, 'pic', 4));
    assert.equal((await put(viaProxy(untyped.put), Buffer.from('text'), 'text/plain')).status, 415);
    assert.equal((await put(viaProxy(untyped.put), Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png')).status, 201);
    assert.equal((await fetch(viaProxy(untyped.get))).headers.get('content-type'), 'image/png');
    a.close();

    const b = await login(t, 'bob', host);
    assertStanza(await requestSlot(b, service, 'cat.gif', 3, 'image/gif'), stanzaError('not-allowed', 'iq', 'cancel'));
    b.close();
  });

  test(`on ${host}: removing an account takes its upload rows; its files are no longer served`, async () => {
    // alice (allowed by the access rule) uploads once more, then her account is removed
    const a = await login(t, 'alice', host, 'leaving');
    const urls = slotUrls(await requestSlot(a, service, 'bye.png', 3, 'image/png'));
    assert.equal((await put(viaProxy(urls.put), Buffer.from('bye'), 'image/png')).status, 201);
    assert.equal((await fetch(viaProxy(urls.get))).status, 200);
    a.close();
    await t.server.core.accounts.remove(Jid.of('alice', host));
    assert.equal((await fetch(viaProxy(urls.get))).status, 404);
    const store = t.server.core.store;
    assert.equal(await store.table('upload_usage').get(`${host}/alice@${host}`), undefined);
    assert.equal((await store.table('upload_owned').range({ prefix: `${host}/alice@${host}/` })).length, 0);
    assert.equal((await store.table('upload_files').range({ prefix: `${host}/` })).length, 0);
  });
}

test('without an http/https listener (and no base_url) a slot request gets service-unavailable', async () => {
  const s = await startTestServer({ modules: { disco: {}, upload: {} } });
  try {
    for (const host of HOSTS) {
      await s.addUser('alice', 'pw-alice', host);
      const a = await login(s, 'alice', host);
      assertStanza(await requestSlot(a, `upload.${host}`, 'x.png', 3, 'image/png'), stanzaError('service-unavailable', 'iq', 'cancel'));
      // the service is still discoverable
      assertStanza(await iq(a, "<query xmlns='http://jabber.org/protocol/disco#info'/>", `upload.${host}`),
        iqResult({ name: 'query', has: [{ name: 'feature', attrs: { var: NS_UPLOAD } }] }));
      a.close();
    }
  } finally {
    await s.stop();
  }
});

test('invalid options are refused at start with their YAML path', async () => {
  await assert.rejects(startUploadServer({ base_url: 'ftp://files.example.org' }), /modules\.upload\.base_url/);
  await assert.rejects(startUploadServer({ allowed_types: ['image/png', 'images'] }), /modules\.upload\.allowed_types\[1\]/);
  await assert.rejects(startUploadServer({ host: '@HOST@' }), /modules\.upload\.host/);
  await assert.rejects(startUploadServer({ max_file_size: 0 }), /modules\.upload\.max_file_size/);
});
