// openStore(): opens (or creates) a node's LevelDB directory and returns the Store over it,
// continuing seq from the lastApplied marker. Single-node LocalLog unless a cluster log is given.
import { Level } from 'level';
import type { RowDb } from './apply.js';
import { DataError } from './data-error.js';
import { durabilityOptions, type Durability } from './durability.js';
import { FORMAT_VERSION, META_FORMAT, META_LAST_APPLIED } from './key-codec.js';
import { LevelStore, type LevelStoreOptions } from './level-store.js';
import { LocalLog } from './local-log.js';
import { loadSnapshot, META_RESTORING, SnapshotError, type SnapshotIn } from './snapshot.js';
import type { ReplicationLog, Store } from './types.js';

export interface OpenStoreOptions extends LevelStoreOptions {
  /** The replication seam; default a LocalLog (in-process seq counter). */
  log?: ReplicationLog;
  /** none (default), batch or group; sets `sync` and, for the default LocalLog, its group window. */
  durability?: Durability;
  /** durability group: how long a batch is held open for more writers (ms). */
  groupWindowMs?: number;
  /** durability group: how many waiting commits end the window early. */
  groupSize?: number;
  /**
   * Load this snapshot before starting (rows with their revisions, and lastApplied). The directory must
   * hold no rows unless `replace`. A damaged snapshot is refused before anything is written.
   */
  fromSnapshot?: { open: SnapshotIn; replace?: boolean; name?: string };
  /**
   * Open a directory whose snapshot load was interrupted (normally refused: its rows are a mix), so that
   * the load can be run again (restore with force, which clears the marker when it completes).
   */
  allowIncompleteLoad?: boolean;
}

export async function openStore(dir: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const db: RowDb = new Level<Buffer, string>(dir, { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  try {
    await db.open();
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'LEVEL_LOCKED') {
      throw new DataError('XMPPD_ERR_DATA_LOCKED',
        `the database ${dir} is in use by another process (or already open in this one); stop it or set another data directory`,
        { cause: err });
    }
    throw err;
  }
  try {
    if (opts.fromSnapshot !== undefined) {
      await loadSnapshot(db, opts.fromSnapshot.open, opts.fromSnapshot);
    } else if (opts.allowIncompleteLoad !== true && (await db.get(META_RESTORING)) !== undefined) {
      throw new SnapshotError(`the database ${dir} holds an incomplete snapshot load (an interrupted restore); with the server stopped, run "xmppd restore <file> --force" again, or use another data directory`);
    }
    const [format, last] = await db.getMany([META_FORMAT, META_LAST_APPLIED]);
    if (format === undefined) {
      await db.put(META_FORMAT, FORMAT_VERSION, { sync: true });
    } else if (format !== FORMAT_VERSION) {
      throw new DataError('XMPPD_ERR_DATA_FORMAT',
        `the database ${dir} has data format ${format}, this xmppd reads format ${FORMAT_VERSION}; use a matching xmppd version`);
    }
    const lastApplied = last === undefined ? 0 : Number(last);
    let storeOpts: LevelStoreOptions = opts;
    let log = opts.log;
    if (opts.durability !== undefined) {
      const d = durabilityOptions(opts.durability, opts.groupWindowMs, opts.groupSize);
      storeOpts = { ...opts, sync: d.sync };
      log ??= new LocalLog({ groupWindowMs: d.groupWindowMs, groupSize: d.groupSize });
    }
    const store = new LevelStore(db, dir, log ?? new LocalLog(), lastApplied, storeOpts);
    await store.start();
    return store;
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
