// XEP-0363 HTTP File Upload over real sockets and a real HTTP listener, on every host: the service in the
// host's disco#items and its disco#info (store/file, the feature, max-file-size), slot → PUT → GET round
// trips with their content types, ranges, refused slots (too large, quota, other servers' users), refused
// PUTs (type, length, tampered or reused URLs) and CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { assertStanza, iqResult, stanzaError } from '../../test/support/stanza-match.js';
import { NS_UPLOAD, iq, login, put, requestSlot, slotUrls, startUploadServer, upload } from './test-support.js';

let t: TestServer;

before(async () => {
  t = await startUploadServer({ max_file_size: 1000, quota: 2500 });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const otherHost = (host: string) => HOSTS.find((h) => h !== host)!;

forEachHost((host) => {
  const service = `upload.${host}`;

  test('the host lists the service; its disco#info has store/file, the feature and max-file-size (XEP-0128)', async () => {
    const a = await login(t, 'alice', host, 'disco');
    assertStanza(await iq(a, "<query xmlns='http://jabber.org/protocol/disco#items'/>", host),
      iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: service } }] }));
    assertStanza(await iq(a, "<query xmlns='http://jabber.org/protocol/disco#info'/>", service), iqResult({
      name: 'query', has: [
        { name: 'identity', attrs: { category: 'store', type: 'file' } },
        { name: 'feature', attrs: { var: NS_UPLOAD } },
        { name: 'x', ns: 'jabber:x:data', has: [
          { name: 'field', attrs: { var: 'FORM_TYPE' }, children: [{ name: 'value', text: NS_UPLOAD }] },
          { name: 'field', attrs: { var: 'max-file-size' }, children: [{ name: 'value', text: '1000' }] },
        ] },
      ],
    }));
    a.close();
  });

  test('alice uploads a picture and a text file; anyone fetches them back with their types (text as an attachment)', async () => {
    const a = await login(t, 'alice', host);
    const png = randomBytes(700);
    const up = await upload(a, service, 'holiday photo é.png', png, 'image/png');
    assert.equal(up.status, 201);
    assert.ok(up.get.startsWith(`http://127.0.0.1:${t.server.port('http')}/upload/${host}/`), up.get);
    assert.ok(up.get.endsWith('/holiday%20photo%20%C3%A9.png'), up.get);
    const res = await fetch(up.get);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('content-length'), '700');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('content-disposition'), null, 'images are shown inline');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
    // validators: a cached copy is still good
    const etag = res.headers.get('etag')!;
    assert.ok(etag && res.headers.get('last-modified'));
    assert.equal((await fetch(up.get, { headers: { 'if-none-match': etag } })).status, 304);
    // HEAD: the headers without the body
    const head = await fetch(up.get, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '700');

    const text = await upload(a, service, '../../etc/passwd', Buffer.from('<script>alert(1)</script>'), 'text/html');
    assert.equal(text.status, 201);
    assert.ok(text.get.endsWith('/__.._etc_passwd'), `no path separators or leading dots: ${text.get}`);
    const got = await fetch(text.get);
    assert.equal(got.headers.get('content-type'), 'text/html');
    assert.match(got.headers.get('content-disposition') ?? '', /^attachment; filename="__\.\._etc_passwd"/);
    assert.equal(await got.text(), '<script>alert(1)</script>');
    // another name on the same file id is not it
    assert.equal((await fetch(text.get.replace(/[^/]+$/, 'other.html'))).status, 404);
    a.close();
  });

  test('range requests: a part (206), the last bytes, and an unsatisfiable range (416)', async () => {
    const b = await login(t, 'bob', host, 'range');
    const body = Buffer.from('0123456789abcdefghij');
    const up = await upload(b, service, 'digits.txt', body, 'text/plain');
    assert.equal(up.status, 201);
    const part = await fetch(up.get, { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 2-5/20');
    assert.equal(await part.text(), '2345');
    const tail = await fetch(up.get, { headers: { range: 'bytes=-3' } });
    assert.equal(tail.status, 206);
    assert.equal(await tail.text(), 'hij');
    const open = await fetch(up.get, { headers: { range: 'bytes=15-' } });
    assert.equal(await open.text(), 'fghij');
    const beyond = await fetch(up.get, { headers: { range: 'bytes=20-' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), 'bytes */20');
    await beyond.arrayBuffer();
    b.close();
  });

  test('a file larger than max-file-size: not-acceptable carrying <file-too-large><max-file-size>', async () => {
    const a = await login(t, 'alice', host, 'big');
    const answer = await requestSlot(a, service, 'big.bin', 1001, 'application/octet-stream');
    assertStanza(answer, stanzaError('not-acceptable', 'iq', 'modify'));
    assertStanza(answer, { name: 'iq', has: [{ name: 'error', has: [
      { name: 'file-too-large', ns: NS_UPLOAD, children: [{ name: 'max-file-size', text: '1000' }] },
    ] }] });
    a.close();
  });

  test('PUT refused: another Content-Type (415), another length (400), a reused slot (409); nothing is served', async () => {
    const a = await login(t, 'alice', host, 'put');
    const urls = slotUrls(await requestSlot(a, service, 'a.jpg', 10, 'image/jpeg'));
    const wrongType = await put(urls.put, Buffer.alloc(10), 'text/html');
    assert.equal(wrongType.status, 415);
    assert.equal((await fetch(urls.get)).status, 404);
    const short = await put(urls.put, Buffer.alloc(9), 'image/jpeg');
    assert.equal(short.status, 400);
    assert.equal((await put(urls.put, Buffer.alloc(10), 'image/jpeg')).status, 201);
    assert.equal((await put(urls.put, Buffer.alloc(10), 'image/jpeg')).status, 409);
    a.close();
  });

  test('tampered PUT URLs are refused with 403: the signature, the size, the file id', async () => {
    const a = await login(t, 'alice', host, 'tamper');
    const urls = slotUrls(await requestSlot(a, service, 'x.png', 10, 'image/png'));
    const putPng = (url: string, size = 10) => put(url, Buffer.alloc(size), 'image/png');
    const u = new URL(urls.put);
    const sig = u.searchParams.get('sig')!;
    u.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    assert.equal((await putPng(u.toString())).status, 403);
    const bigger = new URL(urls.put);
    bigger.searchParams.set('size', '20');
    assert.equal((await putPng(bigger.toString(), 20)).status, 403);
    const otherId = urls.put.replace(/\/upload\/([^/]+)\/([0-9a-f])/, (_m, h: string, c: string) => `/upload/${h}/${c === '0' ? '1' : '0'}`);
    assert.equal((await putPng(otherId)).status, 403);
    assert.equal((await putPng(urls.put)).status, 201, 'the genuine URL still works');
    a.close();
  });

  test('quota: once a user keeps quota bytes, a further slot is refused with resource-constraint', async () => {
    const c = await login(t, 'carol', host, 'quota');
    for (const n of [1, 2]) assert.equal((await upload(c, service, `f${n}.bin`, Buffer.alloc(1000), 'application/octet-stream')).status, 201);
    assertStanza(await requestSlot(c, service, 'f3.bin', 600, 'application/octet-stream'), stanzaError('resource-constraint', 'iq', 'wait'));
    assertStanza(await requestSlot(c, service, 'f3.bin', 500, 'application/octet-stream'), iqResult({ name: 'slot', ns: NS_UPLOAD }));
    // two slots granted while there was room: the second upload finds the quota full
    const s1 = slotUrls(await requestSlot(c, service, 's1.bin', 400, 'application/octet-stream'));
    const s2 = slotUrls(await requestSlot(c, service, 's2.bin', 400, 'application/octet-stream'));
    assert.equal((await put(s1.put, Buffer.alloc(400), 'application/octet-stream')).status, 201);
    assert.equal((await put(s2.put, Buffer.alloc(400), 'application/octet-stream')).status, 413);
    assert.equal((await fetch(s2.get)).status, 404);
    c.close();
  });

  test('only accounts of the host get slots: a user of the other host is refused with not-allowed', async () => {
    const o = await login(t, 'bob', otherHost(host), 'foreign');
    assertStanza(await requestSlot(o, service, 'x.txt', 5, 'text/plain'), stanzaError('not-allowed', 'iq', 'cancel'));
    assertStanza(await requestSlot(o, service, 'x.txt', 'five' as unknown as number, 'text/plain'), stanzaError('bad-request'));
    o.close();
  });

  test('CORS: the preflight of a web client allows PUT and GET with Content-Type from any origin', async () => {
    const res = await fetch(`http://127.0.0.1:${t.server.port('http')}/upload/${host}/anything/x.png`, {
      method: 'OPTIONS',
      headers: { origin: 'https://web.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bPUT\b/);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /content-type/i);
  });
});

test('uploads and bytes are counted in /metrics per host', async () => {
  const text = await (await fetch(`http://127.0.0.1:${t.server.port('http')}/metrics`)).text();
  for (const host of HOSTS) {
    const files = Number(new RegExp(`^xmppd_upload_files_total\\{host="${host.replace(/\./g, '\\.')}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const bytes = Number(new RegExp(`^xmppd_upload_bytes_total\\{host="${host.replace(/\./g, '\\.')}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    // alice 700 + 25 + 10 + 10, bob 20, carol 1000 + 1000 + 400: refused uploads are not counted
    assert.equal(files, 8, `files on ${host}`);
    assert.equal(bytes, 3165, `bytes on ${host}`);
  }
});
