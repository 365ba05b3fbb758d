// XEP-0363 files in a JetStream object store (object-storage.ts, issue 13) on a real 3-server NATS cluster: what
// one node's store writes, another node's store reads (whole or a byte range); a short or long body keeps
// nothing; hosts never mix; expiry lists old files only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { buffer } from 'node:stream/consumers';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { NatsCluster, natsSkip } from '../../test/support/nats-cluster.js';
import { ObjectFileStore } from './object-storage.js';
import { SizeMismatchError } from './storage.js';

const id = () => randomBytes(12).toString('hex');
const meta = (size: number) => ({ name: 'photo.png', type: 'image/png', size, created: Date.now() });

describe('uploads in a JetStream object store', { skip: natsSkip() }, () => {
  let cluster: NatsCluster;
  const conns: NatsConnection[] = [];
  let a: ObjectFileStore, b: ObjectFileStore, other: ObjectFileStore;

  before(async () => {
    cluster = await NatsCluster.start(3);
    // Two nodes, each with its own connection (to different servers) and store instance.
    for (const url of [cluster.urls[0]!, cluster.urls[2]!]) conns.push(await connect({ servers: url }));
    const sa = await new Objm(conns[0]!).create('xmppd_uploads', { replicas: 3 });
    const sb = await new Objm(conns[1]!).create('xmppd_uploads', { replicas: 3 });
    a = new ObjectFileStore(async () => sa, 'localhost');
    b = new ObjectFileStore(async () => sb, 'localhost');
    other = new ObjectFileStore(async () => sb, 'example.test');
  });
  after(async () => {
    for (const c of conns) await c.close();
    await cluster?.stop();
  });

  it('a file put on one node is read on another, whole and by range', async () => {
    const bytes = randomBytes(300_000); // several 128 KiB chunks
    const f = id();
    await a.put(f, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), meta(bytes.length));
    assert.deepEqual(await b.stat(f), { ...meta(bytes.length), created: (await b.stat(f))!.created });
    const whole = await b.get(f);
    assert.ok(whole);
    assert.ok((await buffer(whole.stream)).equals(bytes));
    const part = await b.get(f, { start: 131_000, end: 262_199 }); // across chunk boundaries
    assert.ok(part);
    assert.ok((await buffer(part.stream)).equals(bytes.subarray(131_000, 262_200)));
    assert.equal(await other.stat(f), null, 'another host does not see it');
    await b.delete(f);
    assert.equal(await a.stat(f), null);
    assert.equal(await a.get(f), null);
  });

  it('a body shorter or longer than announced keeps nothing', async () => {
    const short = id();
    await assert.rejects(a.put(short, Readable.from([Buffer.from('abc')]), meta(10)), SizeMismatchError);
    assert.equal(await b.stat(short), null);
    const long = id();
    await assert.rejects(a.put(long, Readable.from([Buffer.from('abcdefghijklmnop')]), meta(10)), SizeMismatchError);
    assert.equal(await b.stat(long), null);
  });

  it('an empty file is stored and served', async () => {
    const f = id();
    await a.put(f, Readable.from([]), meta(0));
    const got = await b.get(f);
    assert.ok(got);
    assert.equal(await text(got.stream), '');
  });

  it('expiry lists the files of this host stored before the given time', async () => {
    const old = id();
    await a.put(old, Readable.from([Buffer.from('x')]), meta(1));
    const cut = Date.now() + 1;
    await new Promise((r) => setTimeout(r, 5));
    const young = id();
    await a.put(young, Readable.from([Buffer.from('y')]), meta(1));
    const mine = await b.listExpired(cut);
    assert.ok(mine.includes(old));
    assert.ok(!mine.includes(young));
    assert.deepEqual(await other.listExpired(Date.now() + 1000), []);
  });
});
