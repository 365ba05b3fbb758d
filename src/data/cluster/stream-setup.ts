// Creates the transaction stream when it is absent, and never recreates or edits an existing one (its seq is
// every replica's lastApplied: a new stream would restart seqs under replicas that already applied them).
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ClusterNames } from './names.js';
import { withRetry } from './retry.js';

/** JetStream drops a publish whose msgID it saw within this window: longer than any append retry. */
export const DUPLICATE_WINDOW_MS = 5 * 60_000;

export async function ensureStream(jsm: JetStreamManager, names: ClusterNames, replicas: number, totalMs = 60_000): Promise<StreamInfo> {
  return withRetry(`stream ${names.stream}`, totalMs, async () => {
    try {
      return await jsm.streams.info(names.stream);
    } catch (err) {
      if ((err as Error)?.name !== 'StreamNotFoundError' && !/stream not found/i.test((err as Error)?.message ?? '')) throw err;
    }
    try {
      return await jsm.streams.add({
        name: names.stream,
        subjects: [names.subject],
        num_replicas: replicas,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
    } catch (err) {
      // Another node created it meanwhile: use theirs.
      if (/already in use/i.test((err as Error)?.message ?? '')) return jsm.streams.info(names.stream);
      throw err;
    }
  });
}
