// Crash safety of the data layer: a child process writes multi-op transactions and is SIGKILLed
// at a random moment; every transaction must then be entirely present or entirely absent, and
// lastApplied must name the last complete one. Repeated on the same directory, without fsync and with
// group-committed fsync (the group window must not break all-or-nothing or seq order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../../src/data/index.js';
import { KEYS } from './crash-writer.js';

const CHILD = fileURLToPath(new URL('./crash-writer.js', import.meta.url));

async function runAndKill(dir: string, durability: string): Promise<void> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, XMPPD_CRASH_DIR: dir, XMPPD_CRASH_DURABILITY: durability },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    void exited.then(([code]) => reject(new Error(`writer exited early (code ${code}): ${stderr}`)));
  });
  await ready;
  await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 250)));
  child.kill('SIGKILL');
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `writer should die by SIGKILL, exited with ${code}: ${stderr}`);
}

for (const durability of ['none', 'group']) {
  test(`SIGKILL between batches (durability ${durability}): every transaction is all-or-nothing, lastApplied = last complete one`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'xmppd-crash-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let previous = 0;
    for (let round = 0; round < 8; round++) {
      await runAndKill(dir, durability);
      const store = await openStore(dir);
      try {
        const last = store.lastApplied();
        assert.ok(last > previous, `round ${round}: progress after restart (${previous} -> ${last})`);
        const crash = store.table<number>('crash');
        // The counter and the 10 fixed keys were written by the same last transaction.
        assert.deepEqual(await crash.get('counter'), { key: 'counter', value: last, rev: last });
        const ks = await crash.getMany(Array.from({ length: KEYS }, (_, k) => `k${k}`));
        for (const row of ks) assert.deepEqual(row && [row.value, row.rev], [last, last]);
        // Exactly transactions 1..last left their log row: none missing, none beyond.
        const log = await store.table<number>('crash_log').range();
        assert.equal(log.length, last);
        log.forEach((row, i) => {
          assert.equal(row.key, String(i + 1).padStart(10, '0'));
          assert.equal(row.value, i + 1);
          assert.equal(row.rev, i + 1);
        });
        // The store continues from there: the next transaction (shaped like the writer's) gets last + 1.
        const m = last + 1;
        const next = await store.transact([
          ...Array.from({ length: KEYS }, (_, k) => ({ type: 'put' as const, table: 'crash', key: `k${k}`, value: m })),
          { type: 'put', table: 'crash_log', key: String(m).padStart(10, '0'), value: m },
          { type: 'put', table: 'crash', key: 'counter', value: m },
        ]);
        assert.deepEqual(next, { ok: true, seq: m });
        previous = store.lastApplied();
      } finally {
        await store.close();
      }
    }
  });
}
