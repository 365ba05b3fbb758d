// The stream base's send queue over a real loopback TCP connection: order, back-pressure (writes wait while
// the socket's buffer is full), the max-queue rule judged after a burst (RFC 6120 §13.12) and end-after-flush.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { SendQueue } from '../../../../src/interface/stream/send-queue.js';
import { until } from '../../../support/until.js';

/** A connected pair: `ours` is what the queue writes to, `peer` the far end (paused until it reads). */
async function pair(): Promise<{ ours: Socket; peer: Socket; close(): void }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const ours = connect((srv.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => ours.once('connect', () => r()));
  const peer = await accepted;
  peer.pause();
  ours.on('error', () => {});
  peer.on('error', () => {});
  return { ours, peer, close: () => { ours.destroy(); peer.destroy(); srv.close(); } };
}

/** Everything the peer reads from now on, as text. */
function reader(peer: Socket): { text: () => string; ended: Promise<void> } {
  let text = '';
  peer.setEncoding('latin1');
  peer.on('data', (d: string) => (text += d));
  const ended = new Promise<void>((r) => peer.once('end', () => r()));
  peer.resume();
  return { text: () => text, ended };
}

const chunk = (i: number, size: number): string => `<${i}>`.padEnd(size, 'x');

test('writes arrive in order and whole, for a peer that reads slowly (nothing is dropped under the limit)', async () => {
  const { ours, peer, close } = await pair();
  try {
    let overflows = 0;
    const q = new SendQueue({ maxQueued: () => 64 * 1024 * 1024, overflow: () => overflows++ });
    q.attach(ours);
    const parts: string[] = [];
    for (let i = 0; i < 400; i++) parts.push(chunk(i, 1 + ((i * 7919) % 30_000)));
    for (const p of parts) q.write(p);
    // The peer reads in spurts: pause, read, pause.
    const r = reader(peer);
    const spurts = setInterval(() => (peer.isPaused() ? peer.resume() : peer.pause()), 5);
    const want = parts.join('');
    await until(() => r.text().length >= want.length, 'all data at the peer');
    clearInterval(spurts);
    assert.equal(r.text(), want);
    assert.equal(overflows, 0);
  } finally {
    close();
  }
});

test('back-pressure: while the peer does not read, writes wait in the queue, not in the socket buffer', async () => {
  const { ours, peer, close } = await pair();
  try {
    const q = new SendQueue({ maxQueued: () => 64 * 1024 * 1024, overflow: () => {} });
    q.attach(ours);
    const size = 32 * 1024;
    // Far more than loopback buffers take: the kernel fills, the socket buffer stops growing, the queue grows.
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 16; i++) q.write(chunk(round * 16 + i, size));
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(q.queued() > 4 * 1024 * 1024, `queued ${q.queued()}`);
    // The socket's own buffer holds at most what one flush handed it (what waited since the last 'drain').
    assert.ok(ours.writableLength < q.queued() / 2, `socket buffer ${ours.writableLength} vs queued ${q.queued()}`);
    const r = reader(peer);
    await until(() => r.text().length === 40 * 16 * size, 'all data at the peer', 20_000);
    assert.equal(q.queued(), 0);
    const ids = [...r.text().matchAll(/<(\d+)>/g)].map((m) => Number(m[1]));
    assert.deepEqual(ids, Array.from({ length: 640 }, (_, i) => i));
  } finally {
    close();
  }
});

test('max queue: a burst larger than the limit to a reading peer is not judged before the kernel took it', async () => {
  const { ours, peer, close } = await pair();
  try {
    let overflows = 0;
    const q = new SendQueue({ maxQueued: () => 65_536, overflow: () => overflows++ });
    q.attach(ours);
    const r = reader(peer);
    // 1 MB in one turn of the event loop: over the limit synchronously, but loopback takes it at once.
    for (let i = 0; i < 64; i++) q.write(chunk(i, 16 * 1024));
    assert.ok(q.queued() > 65_536, 'over the limit right after the burst');
    await until(() => r.text().length === 64 * 16 * 1024, 'the burst at the peer');
    assert.equal(overflows, 0);
  } finally {
    close();
  }
});

test('max queue: a peer that stops reading overflows once, with what was waiting', async () => {
  const { ours, peer, close } = await pair();
  try {
    const seen: number[] = [];
    const q = new SendQueue({ maxQueued: () => 256 * 1024, overflow: (n) => seen.push(n) });
    q.attach(ours);
    for (let round = 0; round < 200 && seen.length === 0; round++) {
      for (let i = 0; i < 8; i++) q.write(chunk(i, 64 * 1024));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(seen.length, 1, 'overflow reported');
    assert.ok(seen[0]! > 256 * 1024);
    q.discard();
    assert.equal(q.queued(), ours.writableLength, 'discard drops what waited in the queue');
    q.stop();
    q.write('after');
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 1, 'reported once');
  } finally {
    close();
  }
});

test('end() ends the socket only after everything that waited was written', async () => {
  const { ours, peer, close } = await pair();
  try {
    const q = new SendQueue({ maxQueued: () => 64 * 1024 * 1024, overflow: () => {} });
    q.attach(ours);
    const parts = Array.from({ length: 200 }, (_, i) => chunk(i, 32 * 1024));
    for (const p of parts) q.write(p);
    q.write('</stream:stream>');
    q.end();
    const r = reader(peer);
    await r.ended;
    assert.equal(r.text(), parts.join('') + '</stream:stream>');
  } finally {
    close();
  }
});

test('what one turn writes reaches the socket in one write, and the bytes are counted as UTF-8', async () => {
  const { ours, peer, close } = await pair();
  try {
    const q = new SendQueue({ maxQueued: () => 64 * 1024 * 1024, overflow: () => {} });
    q.attach(ours);
    const writes: string[] = [];
    const write = ours.write.bind(ours) as (d: string) => boolean;
    (ours as unknown as { write: (d: string) => boolean }).write = (d: string) => {
      writes.push(d);
      return write(d);
    };
    q.write('<a/>');
    q.write('<b>é</b>');
    q.write('<c/>');
    assert.deepEqual(writes, [], 'nothing is written before the end of the turn');
    const r = reader(peer);
    const bytes = Buffer.byteLength('<a/><b>é</b><c/>');
    await until(() => r.text().length >= bytes, 'the data at the peer'); // read as latin1: one char a byte
    assert.deepEqual(writes, ['<a/><b>é</b><c/>']);
    assert.equal(q.bytesWritten, bytes);
  } finally {
    close();
  }
});

test('held data (a stream header) leaves in one socket write with the next write, a turn later; end() sends it too', async () => {
  const { ours, peer, close } = await pair();
  try {
    const q = new SendQueue({ maxQueued: () => 64 * 1024 * 1024, overflow: () => {} });
    q.attach(ours);
    const writes: string[] = [];
    const write = ours.write.bind(ours);
    ours.write = ((d: string, ...rest: never[]) => (writes.push(String(d)), write(d, ...rest))) as typeof ours.write;
    q.hold('<header>');
    await new Promise((r) => setImmediate(r)); // the features come a turn later (a hook chain)
    assert.deepEqual(writes, [], 'nothing is written for held data alone');
    q.write('<features/>');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes, ['<header><features/>']);
    q.hold('<again>');
    q.end();
    const r = reader(peer);
    await r.ended;
    assert.equal(r.text(), '<header><features/><again>');
  } finally {
    close();
  }
});
