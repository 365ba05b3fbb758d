// XEP-0363 over the https listener with its default base URL, on both hosts: slots name https://<host>:<port>
// (the certificate names the host), and a client that trusts the server's certificate uploads and downloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { randomBytes } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import type { TestServer } from '../../test/support/harness.js';
import { HOSTS } from '../../test/support/each-host.js';
import { login, requestSlot, slotUrls, startUploadServer } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startUploadServer({}, { extra: { listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 'https' }] } });
  for (const host of HOSTS) await t.addUser('alice', 'pw-alice', host);
});
after(() => t.stop());

/** An HTTPS request to a test host name, reached on loopback (no resolver), trusting the test certificate. */
function https(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, headers, ca: t.certPem,
      lookup: ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
        (opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4))) as unknown as LookupFunction,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const host of HOSTS) {
  test(`on ${host}: slots name https://${host}:<port>; the file goes up and comes back over TLS`, async () => {
    const a = await login(t, 'alice', host);
    const body = randomBytes(2048);
    const urls = slotUrls(await requestSlot(a, `upload.${host}`, 'doc.pdf', body.length, 'application/pdf'));
    assert.ok(urls.put.startsWith(`https://${host}:${t.server.port('https')}/upload/${host}/`), urls.put);
    const up = await https(urls.put, 'PUT', body, { 'content-type': 'application/pdf', 'content-length': String(body.length) });
    assert.equal(up.status, 201);
    const got = await https(urls.get, 'GET');
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/pdf');
    assert.match(String(got.headers['content-disposition']), /^attachment; filename="doc\.pdf"/);
    assert.deepEqual(got.body, body);
    a.close();
  });
}
