// The replication seam: stores on separate LevelDB directories sharing one ordered log (an
// in-process stand-in for the JetStream stream) converge, see each other's writes through watch
// and barrier, resolve conflicts by log order, and catch up from lastApplied after a restart.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLog, openStore, type LogEntry, type LogItem, type ReplicationLog, type Store } from '../../../src/data/index.js';

/** One ordered, append-only log shared by several nodes; seqs are positions in it. */
class SharedStream {
  readonly items: LogItem[] = [];
  readonly members = new Set<StreamMember>();
}

/** A node's ReplicationLog over a SharedStream: delivers every entry, its own and others', in order. */
class StreamMember implements ReplicationLog {
  #next = 1;
  #apply: ((items: LogItem[]) => Promise<void>) | undefined;
  #draining: Promise<void> | undefined;
  constructor(readonly stream: SharedStream, readonly groupSize = 3) {}

  start(fromSeq: number, apply: (items: LogItem[]) => Promise<void>): void {
    this.#next = fromSeq + 1;
    this.#apply = apply;
    this.stream.members.add(this);
    this.kick();
  }

  append(entry: LogEntry): Promise<number> {
    const seq = this.stream.items.length + 1;
    // Entries travel serialized, as they would over the network.
    this.stream.items.push({ seq, entry: JSON.parse(JSON.stringify(entry)) as LogEntry });
    for (const m of this.stream.members) m.kick();
    return Promise.resolve(seq);
  }

  head(): Promise<number> {
    return Promise.resolve(this.stream.items.length);
  }

  async close(): Promise<void> {
    this.stream.members.delete(this);
    while (this.#draining !== undefined) await this.#draining;
  }

  kick(): void {
    if (this.#draining !== undefined || this.#apply === undefined) return;
    this.#draining = (async () => {
      await new Promise((r) => setImmediate(r)); // other nodes lag behind the writer a little
      while (this.#next <= this.stream.items.length) {
        const group = this.stream.items.slice(this.#next - 1, this.#next - 1 + this.groupSize);
        this.#next += group.length;
        await this.#apply!(group);
      }
    })().finally(() => { this.#draining = undefined; });
  }
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-repl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function rows(store: Store, table: string): Promise<[string, unknown, number][]> {
  return (await store.table(table).range()).map((r) => [r.key, r.value, r.rev]);
}

test('two nodes on one log converge; watch and barrier see the other node\'s writes', async (t) => {
  const stream = new SharedStream();
  const a = await openStore(await tempDir(t), { log: new StreamMember(stream) });
  const b = await openStore(await tempDir(t), { log: new StreamMember(stream) });
  t.after(async () => { await a.close(); await b.close(); });

  const seenOnB: string[] = [];
  b.watch('roster', (ev) => seenOnB.push(`${ev.seq}:${ev.key}=${JSON.stringify(ev.value)}`));
  const r1 = await a.transact([{ type: 'put', table: 'roster', key: 'alice/bob', value: { sub: 'both' } }]);
  assert.deepEqual(r1, { ok: true, seq: 1 });
  // Resolved on A means applied on A, not yet necessarily on B; B's barrier waits for it.
  await b.barrier();
  assert.deepEqual(await b.table('roster').get('alice/bob'), { key: 'alice/bob', value: { sub: 'both' }, rev: 1 });
  assert.deepEqual(seenOnB, ['1:alice/bob={"sub":"both"}']);

  // Racing insert-if-absent from both nodes: the log order decides, on both replicas alike.
  const claim = (s: Store, who: string) => s.transact(
    [{ type: 'put', table: 'nick', key: 'room/kim', value: who }], [{ type: 'absent', table: 'nick', key: 'room/kim' }]);
  const [ra, rb] = await Promise.all([claim(a, 'a'), claim(b, 'b')]);
  assert.deepEqual([ra.ok, rb.ok], [true, false]);
  await Promise.all([a.barrier(), b.barrier()]);
  assert.equal((await b.table('nick').get('room/kim'))?.value, 'a');

  const writes = [];
  for (let i = 0; i < 20; i++) {
    const s = i % 2 === 0 ? a : b;
    writes.push(s.transact([{ type: 'put', table: 'mix', key: `k${i % 5}`, value: i }, { type: 'put', table: 'mix', key: 'last', value: i }]));
  }
  const results = await Promise.all(writes);
  assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 4));
  await Promise.all([a.barrier(), b.barrier()]);
  assert.equal(a.lastApplied(), 23);
  assert.equal(b.lastApplied(), 23);
  assert.deepEqual(await rows(a, 'mix'), await rows(b, 'mix'));
  assert.deepEqual((await a.table('mix').get('last'))?.value, 19);
});

test('a restarted node catches up from its lastApplied', async (t) => {
  const stream = new SharedStream();
  const dirB = await tempDir(t);
  const a = await openStore(await tempDir(t), { log: new StreamMember(stream) });
  t.after(() => a.close());
  let b = await openStore(dirB, { log: new StreamMember(stream) });
  await a.transact([{ type: 'put', table: 'x', key: '1', value: 1 }]);
  await b.barrier();
  await b.close();
  await a.transact([{ type: 'put', table: 'x', key: '2', value: 2 }]);
  await a.transact([{ type: 'del', table: 'x', key: '1' }]);

  const events: string[] = [];
  b = await openStore(dirB, { log: new StreamMember(stream, 1) });
  t.after(() => b.close());
  b.watch(null, (ev) => events.push(`${ev.seq}:${ev.key}`));
  await b.barrier();
  assert.equal(b.lastApplied(), 3);
  assert.deepEqual(await rows(b, 'x'), [['2', 2, 2]]);
  assert.deepEqual(events, ['2:2', '3:1']); // only the tail was applied
});

test('LocalLog: groups of any size give the same result', async (t) => {
  const results: unknown[] = [];
  for (const maxGroup of [1, 7, 1000]) {
    const store = await openStore(await tempDir(t), { log: new LocalLog({ maxGroup }) });
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => store.transact(
      [{ type: 'put', table: 'g', key: `k${i % 6}`, value: i }],
      // i % 3: the rev of the previous write of that key, if it happened; i % 4: mostly stale.
      i % 3 === 0 ? [{ type: 'rev', table: 'g', key: `k${i % 6}`, rev: Math.max(0, i - 5) }]
        : i % 4 === 0 ? [{ type: 'rev', table: 'g', key: `k${i % 6}`, rev: 2 }] : [])));
    assert.ok(rs.some((r) => r.ok && r.seq > 6) && rs.some((r) => !r.ok)); // CAS both holds and fails
    results.push({ rs, rows: await rows(store, 'g'), last: store.lastApplied() });
    await store.close();
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});
