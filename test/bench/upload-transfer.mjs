#!/usr/bin/env node
// XEP-0363 transfer over a real HTTP listener: one file of S MiB PUT to a slot (streamed from a reused
// 64 KiB chunk, so the client holds nothing) and GET back, with MiB/s for each and the peak RSS growth
// of the process during the PUT (the server streams to disk: it must not grow with the file).
// Usage: node test/bench/upload-transfer.mjs [MiB=200]. Build first; indicative on a shared box.
import { request } from 'node:http';
const dist = new URL('../../dist/', import.meta.url);
const { startUploadServer, login, requestSlot, slotUrls } = await import(new URL('modules/upload/test-support.js', dist));

const MIB = Number(process.argv[2] ?? 200);
const size = MIB * 1024 * 1024;
const t = await startUploadServer({ max_file_size: size, quota: 0 });
try {
  await t.addUser('alice', 'pw-alice');
  const a = await login(t, 'alice', 'localhost');
  const urls = slotUrls(await requestSlot(a, 'upload.localhost', 'big.bin', size, 'application/octet-stream'));
  const chunk = Buffer.alloc(64 * 1024, 7);
  global.gc?.();
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  let start = process.hrtime.bigint();
  const status = await new Promise((resolve, reject) => {
    const req = request(urls.put, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': size } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  const putMs = Number(process.hrtime.bigint() - start) / 1e6;
  clearInterval(sampler);
  if (status !== 201) throw new Error(`PUT answered ${status}`);
  start = process.hrtime.bigint();
  let got = 0;
  await new Promise((resolve, reject) => {
    request(urls.get, (res) => {
      res.on('data', (d) => (got += d.length));
      res.on('end', resolve);
    }).on('error', reject).end();
  });
  const getMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (got !== size) throw new Error(`GET returned ${got} bytes`);
  console.log(`${MIB} MiB: PUT ${putMs.toFixed(0)} ms (${(MIB / (putMs / 1000)).toFixed(0)} MiB/s), GET ${getMs.toFixed(0)} ms (${(MIB / (getMs / 1000)).toFixed(0)} MiB/s), peak RSS growth during the PUT ${((peak - rss0) / 1048576).toFixed(1)} MiB`);
  a.close();
} finally {
  await t.stop();
}
