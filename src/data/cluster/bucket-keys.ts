// The keys of a KV bucket under a prefix (DESIGN.md "Data layer", replica progress and digests), read from the
// bucket stream's per-subject counts: one JetStream API request, bounded by its timeout. KV keys() runs a push
// consumer whose end is signalled by a pending count or an idle heartbeat; under load it was seen never to end,
// which left the replica's tick (progress, digests) waiting for good.
import type { JetStreamManager } from '@nats-io/jetstream';

export async function bucketKeys(jsm: JetStreamManager, bucket: string, prefix: string): Promise<string[]> {
  const base = `$KV.${bucket}.`;
  const si = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${base}${prefix}>` });
  return Object.keys(si.state.subjects ?? {}).map((s) => s.slice(base.length)).sort();
}
