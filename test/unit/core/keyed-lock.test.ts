// KeyedLock (src/core/keyed-lock.ts, ctx.lock): one key's operations run one at a time in arrival order,
// other keys are not held up, a failure does not block the queue, and settled keys are released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedLock, SLICE_MS } from '../../../src/core/keyed-lock.js';

/** A promise settled from outside, to hold an operation open. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every pending promise callback run (two turns: a queued operation may wait one turn of the event loop). */
const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));

test('operations under one key run one at a time, in arrival order', async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const gates = [deferred(), deferred(), deferred()];
  const runs = gates.map((g, i) => lock.run('alice', async () => {
    log.push(`start ${i}`);
    await g.promise;
    log.push(`end ${i}`);
    return i;
  }));
  await settle();
  assert.deepEqual(log, ['start 0'], 'the second waits for the first');
  gates[2]!.resolve(); // released out of order: still runs only after 0 and 1
  gates[0]!.resolve();
  await settle();
  assert.deepEqual(log, ['start 0', 'end 0', 'start 1']);
  gates[1]!.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2], 'each caller gets its own result');
  assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
});

test('different keys do not wait for each other', async () => {
  const lock = new KeyedLock();
  const held = deferred();
  const a = lock.run('alice', () => held.promise);
  let bobRan = false;
  await lock.run('bob', async () => {
    bobRan = true;
  });
  assert.ok(bobRan, "bob's operation completed while alice's is still held");
  await settle();
  assert.equal(lock.size, 1, 'only alice is in flight');
  held.resolve();
  await a;
});

test('a failing operation rejects its caller and the next one still runs', async () => {
  const lock = new KeyedLock();
  const failing = lock.run('alice', async () => {
    throw new Error('disk full');
  });
  const throwingSync = lock.run('alice', () => {
    throw new Error('thrown before any promise');
  });
  const next = lock.run('alice', async () => 'ran');
  await assert.rejects(failing, /disk full/);
  await assert.rejects(throwingSync, /thrown before any promise/);
  assert.equal(await next, 'ran');
});

test('a key is released once its last operation settles, and can be taken again', async () => {
  const lock = new KeyedLock();
  assert.equal(lock.size, 0);
  const held = deferred();
  const first = lock.run('alice', () => held.promise);
  const second = lock.run('alice', async () => 2);
  assert.equal(lock.size, 1, 'one entry per key, however many operations wait');
  held.reject(new Error('failed'));
  await assert.rejects(first, /failed/);
  assert.equal(await second, 2);
  await settle();
  assert.equal(lock.size, 0, 'a settled key leaves nothing behind (failures included)');
  for (let i = 0; i < 100; i++) await lock.run(`user${i}`, async () => i);
  await settle();
  assert.equal(lock.size, 0, 'many keys used once each leave nothing behind');
  assert.equal(await lock.run('alice', async () => 'again'), 'again');
});

test('a backlog under one key lets the event loop turn once it has run past its slice', async () => {
  // Regression: queued operations ran as one promise chain, so I/O and timers waited for the whole backlog
  // (a room's queued joins stalled every socket of the server). Order-based: the immediate scheduled before
  // the backlog must run before the operation that follows one that outlasted the slice.
  const lock = new KeyedLock();
  const log: string[] = [];
  const spin = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end); };
  const runs = [0, 1, 2].map((i) => lock.run('room', async () => {
    log.push(`op ${i}`);
    if (i === 0) spin(SLICE_MS * 3);
  }));
  setImmediate(() => log.push('event loop'));
  await Promise.all(runs);
  assert.deepEqual(log, ['op 0', 'event loop', 'op 1', 'op 2']);
});
