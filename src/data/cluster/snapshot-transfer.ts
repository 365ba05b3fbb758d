// Snapshots of a replica in the JetStream object store (DESIGN.md "Data layer": new or lagging nodes restore
// a snapshot and replay the tail). One object, replaced by each new snapshot; its description holds its seq.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '@nats-io/obj';
import type { Store } from '../types.js';

export const SNAPSHOT_OBJECT = 'tables';

export interface SnapshotRecord { seq: number; node: string }

/** The seq and origin of the stored snapshot, or null when there is none yet. */
export async function storedSnapshot(os: ObjectStore): Promise<SnapshotRecord | null> {
  const info = await os.info(SNAPSHOT_OBJECT);
  if (info === null || info.deleted) return null;
  try {
    const r = JSON.parse(info.description ?? '') as SnapshotRecord;
    return Number.isSafeInteger(r.seq) ? r : null;
  } catch {
    return null;
  }
}

/** Writes a snapshot of `store` to a temp file (bounded memory), then uploads it. Returns its seq. */
export async function uploadSnapshot(os: ObjectStore, store: Store, node: string, tmp: string): Promise<number> {
  try {
    const file = createWriteStream(tmp);
    const done = new Promise<void>((resolve, reject) => { file.on('finish', resolve); file.on('error', reject); });
    const t = await store.snapshot(file, { node });
    file.end();
    await done;
    const rs = Readable.toWeb(createReadStream(tmp)) as unknown as ReadableStream<Uint8Array>;
    await os.put({ name: SNAPSHOT_OBJECT, description: JSON.stringify({ seq: t.lastApplied, node } satisfies SnapshotRecord) }, rs);
    return t.lastApplied;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Downloads the stored snapshot to `file`; null when there is none. */
export async function downloadSnapshot(os: ObjectStore, file: string): Promise<SnapshotRecord | null> {
  const r = await os.get(SNAPSHOT_OBJECT);
  if (r === null) return null;
  const rec = await storedSnapshot(os);
  await pipeline(Readable.fromWeb(r.data as never), createWriteStream(file) as Writable);
  const err = await r.error;
  if (err) throw err;
  return rec ?? { seq: -1, node: '?' };
}
