// XEP-0363 files over time, on both hosts: PUT URLs expire (403), files expire after expire_after (deleted
// from disk with their rows, the quota given back), and files, their URLs and the quota survive a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { TestServer } from '../../test/support/harness.js';
import { HOSTS } from '../../test/support/each-host.js';
import { until } from '../../test/support/until.js';
import { assertStanza, iqResult, stanzaError } from '../../test/support/stanza-match.js';
import { NS_UPLOAD, login, put, requestSlot, slotUrls, startUploadServer, upload } from './test-support.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

const filesOnDisk = async (t: TestServer, host: string): Promise<string[]> => readdir(join(t.dir, 'upload', host)).catch(() => []);

test('an expired PUT URL is refused with 403; files expire with their rows and give their bytes back to the quota', async () => {
  const t = await startUploadServer({ put_ttl: 1, expire_after: 2, sweep_interval: 1, quota: 1000 });
  servers.push(t);
  for (const host of HOSTS) {
    await t.addUser('alice', 'pw-alice', host);
    const a = await login(t, 'alice', host);
    const service = `upload.${host}`;

    const late = slotUrls(await requestSlot(a, service, 'late.txt', 4, 'text/plain'));
    const exp = Number(new URL(late.put).searchParams.get('exp'));
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    assert.equal((await put(late.put, Buffer.from('late'), 'text/plain')).status, 403);

    const up = await upload(a, service, 'soon-gone.bin', randomBytes(1000), 'application/octet-stream');
    assert.equal(up.status, 201);
    assert.equal((await fetch(up.get)).status, 200);
    assert.equal((await filesOnDisk(t, host)).length, 2, 'the bytes and their metadata');
    const usage = () => t.server.core.store.table('upload_usage').get(`${host}/alice@${host}`);
    assert.deepEqual((await usage())?.value, { bytes: 1000, files: 1 });
    // the quota is full until the file expires
    assertStanza(await requestSlot(a, service, 'more.bin', 1, 'application/octet-stream'), stanzaError('resource-constraint', 'iq', 'wait'));

    await until(async () => (await filesOnDisk(t, host)).length === 0, `the expired file on ${host} is deleted`);
    assert.equal((await fetch(up.get)).status, 404);
    assert.equal(await usage(), undefined, 'the usage row goes with the last file');
    assert.equal((await t.server.core.store.table('upload_files').range({ prefix: `${host}/` })).length, 0);
    assertStanza(await requestSlot(a, service, 'more.bin', 1000, 'application/octet-stream'), iqResult({ name: 'slot', ns: NS_UPLOAD }));
    a.close();
  }
  const metrics = await t.server.core.metrics.registry.metrics();
  for (const host of HOSTS) assert.match(metrics, new RegExp(`^xmppd_upload_expired_total\\{host="${host.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
});

test('a restart keeps the files, their GET URLs (the signing key is in the data layer) and the quota', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-upload-restart-'));
  const options = { quota: 1500, max_file_size: 1000 };
  try {
    const first = await startUploadServer(options, { dir });
    const kept = new Map<string, { get: string; body: Buffer }>();
    try {
      for (const host of HOSTS) {
        await first.addUser('alice', 'pw-alice', host);
        const a = await login(first, 'alice', host);
        const body = randomBytes(1000);
        const up = await upload(a, `upload.${host}`, 'kept.jpg', body, 'image/jpeg');
        assert.equal(up.status, 201);
        kept.set(host, { get: up.get, body });
        a.close();
      }
    } finally {
      await first.stop();
    }
    const second = await startUploadServer(options, { dir });
    servers.push(second);
    for (const host of HOSTS) {
      const { get, body } = kept.get(host)!;
      // the listener's port is new; the path and its signature are the same
      const url = new URL(get);
      url.port = String(second.server.port('http'));
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);
      const a = await login(second, 'alice', host);
      assertStanza(await requestSlot(a, `upload.${host}`, 'more.bin', 600, 'application/octet-stream'), stanzaError('resource-constraint', 'iq', 'wait'));
      assertStanza(await requestSlot(a, `upload.${host}`, 'more.bin', 500, 'application/octet-stream'), iqResult({ name: 'slot', ns: NS_UPLOAD }));
      a.close();
    }
  } finally {
    for (const s of servers.splice(0)) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an upload whose body stalls is closed after limits.http_request_timeout and leaves no file', async () => {
  const t = await startUploadServer({}, { extra: { limits: { http_request_timeout: 1 } } });
  servers.push(t);
  await t.addUser('alice', 'pw-alice');
  const a = await login(t, 'alice', 'localhost');
  const urls = slotUrls(await requestSlot(a, 'upload.localhost', 'stalled.bin', 100, 'application/octet-stream'));
  const u = new URL(urls.put);
  const sock = connect(Number(u.port), u.hostname);
  const closed = new Promise<string>((resolve) => {
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got));
  });
  sock.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n${'x'.repeat(40)}`);
  assert.equal(await closed, '', 'closed without an answer');
  await until(async () => (await filesOnDisk(t, 'localhost')).length === 0, 'the partial upload is removed');
  assert.equal((await fetch(urls.get)).status, 404);
  a.close();
});
