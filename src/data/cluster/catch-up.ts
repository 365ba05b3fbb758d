// Catch-up before a replica starts (DESIGN.md "Data layer"): a new node, or one that fell behind the purged
// head of the stream (lastApplied < first_seq - 1), loads the latest snapshot first and then replays the tail.
import { createReadStream } from 'node:fs';
import { Level } from 'level';
import type { ObjectStore } from '@nats-io/obj';
import type { StreamInfo } from '@nats-io/jetstream';
import { DataError } from '../data-error.js';
import { META_LAST_APPLIED } from '../key-codec.js';
import type { OpenStoreOptions } from '../open-store.js';
import { downloadSnapshot } from './snapshot-transfer.js';

/** The lastApplied marker of a replica directory (0 when new); the directory is closed again. */
export async function localLastApplied(dir: string): Promise<number> {
  const db = new Level<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  try {
    const v = await db.get(META_LAST_APPLIED);
    return v === undefined ? 0 : Number(v);
  } finally {
    await db.close();
  }
}

/**
 * Decides whether the replica at `dir` can replay the stream from its lastApplied; if not, downloads the
 * snapshot to `file` and returns the openStore option that loads it (replacing whatever the directory held).
 */
export async function planCatchUp(dir: string, si: StreamInfo, os: ObjectStore, file: string): Promise<{ local: number; fromSnapshot?: OpenStoreOptions['fromSnapshot']; snapshotSeq?: number }> {
  const local = await localLastApplied(dir);
  const { first_seq: first, last_seq: last } = si.state;
  if (local > last) {
    throw new DataError('XMPPD_ERR_DATA_CLUSTER',
      `the replica ${dir} has applied up to seq ${local} but the stream ${si.config.name} ends at ${last}: it belongs to another stream (was the stream deleted?). Move the directory away to rebuild this node from the cluster`);
  }
  if (local >= first - 1) return { local };
  const rec = await downloadSnapshot(os, file);
  if (rec === null) {
    throw new DataError('XMPPD_ERR_DATA_CLUSTER',
      `the stream ${si.config.name} starts at seq ${first} and this replica has applied up to ${local}, but the object store holds no snapshot to catch up from`);
  }
  return { local, snapshotSeq: rec.seq, fromSnapshot: { open: () => createReadStream(file), replace: true, name: 'cluster snapshot' } };
}
